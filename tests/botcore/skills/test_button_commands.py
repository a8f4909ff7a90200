"""A keyboard button's command must be one a skill enabled on the portal declares: from a skill author's
trial, `Keyboard().button("Vote", command="vot")` in a skill declaring `vote` passed the kit, the system
checks and the live post, and pressing it the sandbox refused with COMMAND_NOT_FOUND (the bot registers only
its enabled skills' commands): the person pressed a button and nothing happened. The kit and the live
context refuse the post, with the button, the command and the commands there are
(botcore.skills.values.check_keyboard decides for both)."""

from __future__ import annotations

import pytest

from botcore.models import EventLogEntry
from botcore.skills.base import CommandSpec, Skill
from botcore.skills.testing import (
    RecordingContext,
    make_button_command_event,
    make_command_event,
    make_message_event,
    run_skill,
)
from botcore.vibe.events import EventType, MessageAddEvent
from botcore.vibe.keyboards import Keyboard, KeyboardError


class Ballot(Skill):
    """Posts a poll whose buttons are built as the message says; a press is its `vote` command."""

    name = "ballot"
    event_types = frozenset({EventType.MESSAGE_ADD, EventType.COMMAND_ADD})
    commands = (
        CommandSpec("vote", title={"en": "Vote"}, button_only=True),
        CommandSpec("ask", title={"en": "Ask"}),
    )

    def handle(self, event, ctx) -> None:
        if not isinstance(event, MessageAddEvent):
            if event.command.name == "ask":
                ctx.answer_command("Lunch?", keyboard=Keyboard().button("Vote", command="vot"))
            else:
                ctx.reply(f"voted {event.command.params}")
            return
        how = event.message.text
        typo = Keyboard().button("Pizza", command="vote", command_params="1").button("Vote", command="vot")
        if how == "typo":
            ctx.reply("Lunch?", keyboard=typo)
        elif how == "send":
            ctx.send(ctx.dialog_id, "Lunch?", keyboard=typo)
        elif how == "edit":
            ctx.edit(ctx.reply("Lunch?"), keyboard=typo)
        elif how == "wire":  # the bare button objects, as the reference's echo bot writes them
            ctx.reply("Lunch?", keyboard=[{"TEXT": "Vote", "COMMAND": "/vot"}])
        elif how == "own":
            ctx.reply("Lunch?", keyboard=[{"TEXT": "Pizza", "COMMAND": "/vote", "COMMAND_PARAMS": "1"}])
        elif how == "other":  # the tally skill's command: it works where that skill is enabled
            ctx.reply("Count them?", keyboard=Keyboard().button("Count", command="tally"))
        elif how == "plain":  # no command: the user's client acts on these, no event, nothing to declare
            keyboard = (
                Keyboard()
                .button("Docs", link="https://example.com/docs")
                .button("Again", send="/vot")
                .button("Put", put="/vot ")
                .button("Copy", copy="vot")
                .button("Call", call="+10000000000")
                .newline()
                .button("Chat", dialog="chat7")
            )
            ctx.reply("Links", keyboard=keyboard)
            ctx.reply("App", keyboard=[{"TEXT": "App", "APP_ID": "5", "APP_PARAMS": "x"}])
            ctx.edit(1, keyboard=False)
        else:
            ctx.reply("fine")


class Tally(Skill):
    """Owns the `tally` command another skill's button sends."""

    name = "tally"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("tally", title={"en": "Tally"}),)

    def handle(self, event, ctx) -> None:
        ctx.reply("tallied")


@pytest.mark.parametrize("how", ["typo", "send", "edit", "wire"])
def test_the_kit_refuses_a_button_whose_command_no_enabled_skill_declares(how):
    ctx = RecordingContext(skill=Ballot())
    with pytest.raises(KeyboardError) as refused:
        run_skill(Ballot(), make_message_event(how), ctx=ctx)
    said = str(refused.value)
    assert "'Vote'" in said and "'vot'" in said and "did you mean 'vote'" in said
    assert "/vote" in said and "/ask" in said  # the commands there are
    assert [p.keyboard for p in ctx.posts if p.keyboard] == []  # refused before anything was recorded
    assert [e for e in ctx.edits if e["keyboard"]] == []


def test_the_kit_refuses_a_keyboard_holding_what_is_no_button():
    """It passed the kit (the check skipped it), and live the client failed on it with dict()'s words."""
    ctx = RecordingContext(skill=Ballot())
    with pytest.raises(KeyboardError, match="button 1 of the keyboard is a str"):
        ctx.send("chat7", "Lunch?", keyboard=[{"TEXT": "Pizza", "COMMAND": "/vote"}, "Salad"])
    assert ctx.posts == []


def test_the_kit_refuses_it_in_a_command_answer_too():
    with pytest.raises(KeyboardError, match="'vot'"):
        run_skill(Ballot(), make_command_event("ask"))


def test_the_kit_takes_a_button_naming_the_skill_s_own_command_with_or_without_the_slash():
    assert run_skill(Ballot(), make_message_event("own")).posts[0].keyboard[0]["COMMAND"] == "/vote"


def test_a_button_naming_another_skill_s_command_is_taken_where_that_skill_is_enabled():
    with pytest.raises(KeyboardError, match=r"'tally'.*commands of the enabled skills \(ballot\)"):
        run_skill(Ballot(), make_message_event("other"))
    ctx = run_skill(Ballot(), make_message_event("other"), enabled_skills=[Ballot(), Tally()])
    assert ctx.posts[0].keyboard == [{"TEXT": "Count", "COMMAND": "tally"}]


def test_buttons_that_carry_no_command_are_taken():
    ctx = run_skill(Ballot(), make_message_event("plain"))
    assert [len(p.keyboard) for p in ctx.posts] == [7, 1] and ctx.edits[0]["keyboard"] is False


@pytest.fixture
def skill_paths():
    return [f"{__name__}.Ballot", f"{__name__}.Tally"]


@pytest.mark.slow
def test_live_the_post_is_refused_with_the_reason_and_a_press_on_another_skill_s_command_works(world):
    before = world.last_call_seq()
    for text in ("typo", "other"):
        world.say(text)
    world.poll()
    rows = EventLogEntry.objects.filter(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD").order_by(
        "vibe_event_id"
    )
    assert [r.status for r in rows] == ["failed", "handled"]
    assert "KeyboardError" in rows[0].error and "'vot'" in rows[0].error and "'vote'" in rows[0].error
    posts = [
        c for c in world.calls_since(before) if c["method"] == "POST" and c["path"].endswith("/messages")
    ]
    # Only the apology for the refused poll and the other skill's button reached the platform.
    assert len(posts) == 2
    shown = world.messages()
    assert [m["text"] for m in shown if m.get("keyboard")] == ["Count them?"]
    assert sum(m["text"].startswith("Sorry, something went wrong") for m in shown) == 1
    count = next(m for m in shown if m["text"] == "Count them?")
    world.act("buttons", userId=world.sp.admin_id, messageId=count["id"], index=0)
    world.poll()
    assert "tallied" in [m["text"] for m in world.messages()]


def test_a_kit_press_of_the_declared_command_still_reaches_the_skill():
    assert run_skill(Ballot(), make_button_command_event("vote", params="1")).replies == ["voted 1"]
