"""echo: the reference's echo bot, unit by unit (RecordingContext) and its whole scenario against the sandbox,
checked call by call in what the sandbox received (GET /_sandbox/calls)."""

from __future__ import annotations

import pytest

from botcore.models import BotCommand, EventLogEntry
from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.testing import (
    make_command_event,
    make_join_event,
    make_message_event,
    make_reaction_event,
    run_skill,
)
from botcore.vibe import bbcode as bb

HELP_TEXT = (
    "[B]Test Bot — Commands[/B]\n\n/ping — check whether the bot is alive\n/help — show this list\n\n"
    "Just message me — I will repeat your message."
)


def test_a_message_gets_typing_a_like_and_the_italic_echo_with_repeat_and_help():
    ctx = run_skill(EchoSkill(), make_message_event("ping me", first_name="John"))
    assert ctx.typing_statuses == ["IMBOT_AGENT_ACTION_THINKING"] and ctx.reactions == ["like"]
    assert ctx.replies == ["John, you wrote: [i]ping me[/i]"]
    assert ctx.posts[0].keyboard == [
        {
            "TEXT": "Repeat",
            "BG_COLOR_TOKEN": "primary",
            "ACTION": "SEND",
            "ACTION_VALUE": "ping me",
            "BLOCK": "Y",
        },
        {
            "TEXT": "Help",
            "BG_COLOR_TOKEN": "secondary",
            "ACTION": "SEND",
            "ACTION_VALUE": "/help",
            "DISPLAY": "LINE",
        },
    ]
    assert [a.kind for a in ctx.actions] == ["typing", "react", "post"]


def test_a_users_markup_is_echoed_as_text_not_as_markup():
    ctx = run_skill(EchoSkill(), make_message_event("[user=all]hi[/user]", first_name="[b]Eve"))
    assert "[user=all]" not in ctx.replies[0] and "[b]Eve" not in ctx.replies[0]


def test_in_a_group_chat_the_bots_own_mention_is_left_out_and_others_show_as_names():
    """A group chat's message reaches the bot only with its mention: "Carol, you wrote: [USER=6]Vibe
    Bot[/USER] hello" showed the markup, escaped, to everyone in the chat."""
    ctx = run_skill(
        EchoSkill(),
        make_message_event(
            "[USER=41]Test Bot[/USER], hello [user=7]Anna Lee[/user]",
            first_name="Carol",
            chat_id=3,
            bot_id=41,
        ),
    )
    assert ctx.replies == ["Carol, you wrote: [i]hello Anna Lee[/i]"]
    assert ctx.posts[0].keyboard[0]["ACTION_VALUE"].startswith("[USER=41]")  # Repeat still reaches the bot
    alone = run_skill(EchoSkill(), make_message_event("[USER=41]Test Bot[/USER]", chat_id=3, bot_id=41))
    assert alone.replies[0].endswith("you wrote: [i]Test Bot[/i]")


def test_russian_speakers_get_russian():
    ctx = run_skill(EchoSkill(), make_message_event("привет", first_name="Борис", language="ru"))
    assert ctx.replies == ["Борис, вы написали: [i]привет[/i]"]
    assert run_skill(EchoSkill(), make_command_event("ping", language="ru")).answers == [
        "[B]Понг![/B] Бот работает."
    ]


def test_other_languages_get_english():
    assert run_skill(EchoSkill(), make_command_event("ping", language="de")).answers == [
        "[B]Pong![/B] The bot is working fine."
    ]


def test_a_reaction_code_is_shown_as_written_never_read_as_markup():
    """The notice put the event's reaction code in as it came, where the user's name beside it was escaped: a
    code is the platform's (its list "may change", CONTRACT B), and one holding BB codes ("[USER=all]", a
    [URL=…]) would have been the bot's own markup in a system message of the chat."""
    ctx = run_skill(EchoSkill(), make_reaction_event("[USER=all]all[/USER] [URL=https://x.example]y[/URL]"))
    [notice] = ctx.replies
    assert bb.unescape(notice).endswith(
        "added a reaction: [USER=all]all[/USER] [URL=https://x.example]y[/URL]"
    )
    assert "[USER=" not in notice and "[URL=" not in notice


def test_a_known_reaction_is_shown_as_its_emoji_in_any_language():
    """From a Russian-language trial: "… реакцию: like", an English code word in a Russian sentence; the
    person saw 👍 in the chat."""
    ctx = run_skill(EchoSkill(), make_reaction_event("like", first_name="Анна", language="ru"))
    assert ctx.replies == ["Анна поставил(а) реакцию: 👍"]  # noqa: RUF001 (a Russian word ending)
    ctx = run_skill(EchoSkill(), make_reaction_event("partyingFace", first_name="John"))
    assert ctx.replies == ["John added a reaction: 🥳"]
    # A code the app does not know yet (the platform's list "may change"): as written.
    assert run_skill(EchoSkill(), make_reaction_event("newOne")).replies[0].endswith(": newOne")


def test_ping_and_help_are_answered():
    assert run_skill(EchoSkill(), make_command_event("ping")).answers == [
        "[B]Pong![/B] The bot is working fine."
    ]
    assert run_skill(EchoSkill(), make_command_event("help")).answers == [HELP_TEXT]


def test_a_reaction_is_noticed_in_a_system_message_and_a_join_is_greeted_with_send_links():
    ctx = run_skill(EchoSkill(), make_reaction_event("like", first_name="John"))
    assert ctx.replies == ["John added a reaction: 👍"] and ctx.posts[0].system
    greeting = run_skill(EchoSkill(), make_join_event()).replies[0]
    # The bot introduces itself by the name the portal sees (the reference's bot was named "Echo Bot").
    assert greeting.startswith("Hi! I am Test Bot. Write me something")
    assert greeting.lower().endswith("[send=/ping]ping[/send] | [send=/help]help[/send]")


@pytest.fixture
def skill_paths():
    return ["botcore.skills.builtin.echo.EchoSkill"]  # the reference's bot on its own


def _body(call: dict) -> dict:
    return call["body"]


@pytest.mark.slow
def test_the_reference_scenario_against_the_sandbox(world):
    sp = world.sp
    bot_id = world.bot_id
    assert {c.command for c in BotCommand.objects.filter(bot=world.bot)} == {"ping", "help"}
    start = world.last_call_seq()

    world.act("open", userId=sp.admin_id, botId=bot_id)  # JOINCHAT
    user_message = world.say("Hello, bot!")  # MESSAGEADD
    world.say("/ping")  # COMMANDADD
    world.say("/help")
    assert world.poll().status == "polled"
    echo = next(m for m in world.messages() if "you wrote" in m["text"])
    world.act(
        "reactions", userId=sp.admin_id, messageId=echo["id"], reaction="like", action="add"
    )  # REACTIONCHANGE
    world.poll()

    calls = world.calls_since(start)
    dialog = str(sp.admin_id)
    assert [(c["method"], c["path"].replace(str(bot_id), "B")) for c in calls] == [
        # The greeting answers no message, and this platform's templateIds are not learned yet (no send has
        # answered): the chat's last message is read first, so that a greeting left in doubt can be told
        # apart from one that never arrived (botcore.vibe.chat_marks.newest_on_platform).
        ("GET", f"/v1/bots/B/chats/{sp.admin_id}"),
        ("POST", "/v1/bots/B/messages"),  # the greeting
        ("POST", "/v1/bots/B/typing"),
        ("POST", f"/v1/bots/B/messages/{user_message['id']}/reactions"),
        ("POST", "/v1/bots/B/messages"),  # the echo
        ("POST", f"/v1/bots/B/commands/{_command_id(world, 'ping')}/answer"),
        ("POST", f"/v1/bots/B/commands/{_command_id(world, 'help')}/answer"),
        ("POST", "/v1/bots/B/messages"),  # the reaction notice
    ]
    assert all(c["status"] in (200, 201) for c in calls), calls
    _read, greeting, typing, like, echo_call, pong, help_answer, notice = (_body(c) for c in calls)
    assert greeting["dialogId"] == dialog
    assert greeting["fields"]["message"].startswith(f"Hi! I am {bb.escape(world.bot.name)}.")
    assert world.bot.name  # named as provisioned (BOTCORE_BOT_NAME), not the reference's "Echo Bot"
    assert (
        greeting["fields"]["message"]
        .lower()
        .endswith("commands:\n[send=/ping]ping[/send] | [send=/help]help[/send]")
    )
    assert typing == {"dialogId": dialog, "statusMessageCode": "IMBOT_AGENT_ACTION_THINKING"}
    assert like == {"reaction": "like"}
    assert echo_call["dialogId"] == dialog
    assert echo_call["fields"]["message"] == "Alice, you wrote: [i]Hello, bot![/i]"
    assert echo_call["fields"]["keyboard"] == [
        {
            "TEXT": "Repeat",
            "BG_COLOR_TOKEN": "primary",
            "ACTION": "SEND",
            "ACTION_VALUE": "Hello, bot!",
            "BLOCK": "Y",
        },
        {
            "TEXT": "Help",
            "BG_COLOR_TOKEN": "secondary",
            "ACTION": "SEND",
            "ACTION_VALUE": "/help",
            "DISPLAY": "LINE",
        },
    ]
    assert pong["message"] == "[B]Pong![/B] The bot is working fine." and pong["messageId"]
    assert help_answer["message"] == HELP_TEXT.replace("Test Bot", world.bot.name)
    assert notice["dialogId"] == dialog
    assert notice["fields"]["message"] == "Alice added a reaction: 👍" and notice["fields"]["system"] is True
    # What the person sees: the echo carries its keyboard, the notice is a system message.
    shown = {m["text"]: m for m in world.messages()}
    assert shown["Alice, you wrote: [i]Hello, bot![/i]"]["keyboard"]
    assert shown["Alice added a reaction: 👍"]["isSystem"] is True
    assert set(EventLogEntry.objects.filter(bot=world.bot).values_list("status", flat=True)) == {"handled"}


def _command_id(world, name: str) -> int:
    return BotCommand.objects.get(bot=world.bot, command=name).vibe_command_id


@pytest.mark.slow
def test_pressing_repeat_sends_the_text_again(world):
    world.say("again")
    world.poll()
    echo = next(m for m in world.messages() if "you wrote" in m["text"])
    world.act("buttons", userId=world.sp.admin_id, messageId=echo["id"], index=0)
    world.poll()
    assert [m["text"] for m in world.messages() if "you wrote" in m["text"]] == [
        "Alice, you wrote: [i]again[/i]"
    ] * 2


@pytest.mark.parametrize("typed", ["x" * 20_000, "[b]" * 7_000], ids=["plain", "brackets"])
def test_a_message_too_long_to_echo_whole_is_cut_inside_the_italics_to_fit_the_platforms_limit(typed):
    # Echoed whole, the platform cuts the reply at 20 000 characters: the closing [/i] was lost and the chat
    # showed a literal "[i]xxx…" (a newcomer's trial).
    ctx = run_skill(EchoSkill(), make_message_event(typed, first_name="Boris", language="ru"))

    (reply,) = ctx.replies
    assert len(reply) <= bb.MAX_TEXT_CHARS
    assert reply.startswith("Boris, вы написали: [i]") and reply.endswith("…[/i]")


def test_the_repeat_button_of_a_huge_message_carries_no_more_than_a_message_may_hold():
    """From an outside trial: a message of 112,500 characters (Cyrillic and emoji) was echoed cut to the
    platform's 20,000, but its Repeat button carried all of it: a 265 KB post for one reply. Pressed, the
    button sends a message, which the platform cuts at 20,000 characters anyway."""
    typed = ("привет 👋 " * 12_500)[:112_500]
    ctx = run_skill(EchoSkill(), make_message_event(typed, first_name="Boris"))
    repeat = ctx.posts[0].keyboard[0]["ACTION_VALUE"]
    assert len(repeat) <= bb.MAX_TEXT_CHARS and typed.startswith(repeat)


def test_a_name_shows_on_one_short_line_in_the_echo_and_the_reaction_notice():
    """A reaction's notice is a system message: a name's line break gave it a line of its own that read as the
    platform's, a right-to-left override turned the words after it around, and a name past the platform's
    limit made a notice the platform cuts."""
    hostile = "John\nAlice added a reaction: 👎\u202e" + "x" * 30_000
    ctx = run_skill(EchoSkill(), make_reaction_event("like", first_name=hostile))
    [notice] = ctx.replies
    assert "\n" not in notice and "\u202e" not in notice and len(notice) < 200
    assert notice.startswith("John Alice added a reaction: 👎") and notice.endswith(" added a reaction: 👍")
    ctx = run_skill(EchoSkill(), make_message_event("hi", first_name=hostile))
    assert "\u202e" not in ctx.replies[0] and len(ctx.replies[0].split("\n")[0]) < 200
