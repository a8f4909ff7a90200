"""Routing: declarations decide, settings order breaks ties, one skill per event (pure: no I/O)."""

from __future__ import annotations

import re

import pytest

from botcore.skills.base import ChatScope, CommandSpec, MessageFilter, Skill
from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.builtin.help import HelpSkill
from botcore.skills.builtin.standup import StandupSkill
from botcore.skills.options import OptionsError, OptionsSchema, Text
from botcore.skills.routing import typed_command_answerers
from botcore.skills.testing import (
    make_button_command_event,
    make_command_event,
    make_message_event,
    make_reaction_event,
    route,
    run_skill,
)
from botcore.vibe.events import EventType


class Greeter(Skill):
    name = "greeter"
    event_types = frozenset({EventType.MESSAGE_ADD})
    message_filter = MessageFilter(pattern=r"^(hi|hello)\b", chats=ChatScope.PRIVATE)
    summary = {"en": "Greets"}

    def handle(self, event, ctx):
        ctx.reply("Hello!")


class GroupWatcher(Skill):
    name = "group_watcher"
    event_types = frozenset({EventType.MESSAGE_ADD})
    message_filter = MessageFilter(chats=ChatScope.GROUP, include_bots=True)

    def handle(self, event, ctx):
        ctx.reply("seen")


class Voter(Skill):
    name = "voter"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("vote", title={"en": "Vote"}, button_only=True),)

    def handle(self, event, ctx):
        ctx.answer_command("counted")


class AnyCommand(Skill):
    name = "any_command"
    event_types = frozenset({EventType.COMMAND_ADD})

    def handle(self, event, ctx):
        ctx.answer_command("unknown command")


DEFAULT_ORDER = [HelpSkill(), StandupSkill(), EchoSkill()]
# What enabling them takes: standup's chat is required and has no default (the kit refuses it without).
ENABLED_WITH = {"standup": {"chat": "chat5"}}


def test_a_pattern_and_a_chat_scope_pick_the_greeter_before_echo():
    skills = [Greeter(), EchoSkill()]
    assert route(make_message_event("hello there"), skills).name == "greeter"
    assert route(make_message_event("what's up"), skills).name == "echo"
    assert route(make_message_event("hello [user=100]bot[/user]", chat_id=5), skills).name == "echo"


def test_group_only_skills_skip_private_dialogs_and_may_hear_other_bots():
    skills = [GroupWatcher(), EchoSkill()]
    assert route(make_message_event("in a group", chat_id=3), skills).name == "group_watcher"
    assert route(make_message_event("1:1"), skills).name == "echo"
    assert (
        route(make_message_event("from a bot", chat_id=3, user_is_bot=True), skills).name == "group_watcher"
    )
    assert route(make_message_event("from a bot", user_is_bot=True), skills) is None


def test_the_bots_own_and_system_messages_reach_nobody():
    assert (
        route(make_message_event("echoed", author_id=100, bot_id=100), DEFAULT_ORDER, options=ENABLED_WITH)
        is None
    )
    assert route(make_message_event("joined", is_system=True), DEFAULT_ORDER, options=ENABLED_WITH) is None


def test_a_command_goes_to_its_first_owner_in_settings_order():
    assert route(make_command_event("help"), DEFAULT_ORDER, options=ENABLED_WITH).name == "help"
    assert route(make_command_event("help"), [EchoSkill(), HelpSkill()]).name == "echo"
    assert route(make_command_event("ping"), DEFAULT_ORDER, options=ENABLED_WITH).name == "echo"
    assert route(make_command_event("standup"), DEFAULT_ORDER, options=ENABLED_WITH).name == "standup"


def test_a_catch_all_gets_only_commands_nobody_owns():
    skills = [AnyCommand(), EchoSkill()]
    assert route(make_command_event("ping"), skills).name == "echo"
    assert route(make_command_event("weather"), skills).name == "any_command"


def test_a_button_only_command_answers_buttons_not_typing():
    assert route(make_button_command_event("vote"), [Voter()]).name == "voter"
    assert route(make_command_event("vote"), [Voter(), AnyCommand()]) is None


@pytest.mark.parametrize(
    "order",
    [DEFAULT_ORDER, [EchoSkill(), HelpSkill()], [Voter(), EchoSkill(), AnyCommand()]],
    ids=["help-first", "echo-first", "button-only"],
)
def test_the_answerers_the_portal_page_lists_are_the_skills_typed_commands_reach(order):
    answerers = typed_command_answerers(order)
    for name in {spec.command for skill in order for spec in skill.commands}:
        enabled_with = {name: options for name, options in ENABLED_WITH.items() if name in answerers}
        routed = route(make_command_event(name), order, options=enabled_with)
        assert (answerers[name].name if name in answerers else None) == (routed.name if routed else None)


def test_help_and_standup_leave_plain_messages_to_echo():
    assert route(make_message_event("just talking"), DEFAULT_ORDER, options=ENABLED_WITH).name == "echo"
    assert route(make_reaction_event("like"), DEFAULT_ORDER, options=ENABLED_WITH).name == "echo"


OPEN_QUESTION = {"7": {"day": "2030-03-04", "status": "open", "answers": []}}
CLOSED_QUESTION = {"7": {"day": "2030-03-04", "status": "closed", "answers": ["x"]}}


@pytest.mark.parametrize(
    ("user_id", "state", "taken_by"),
    [(7, OPEN_QUESTION, "standup"), (8, OPEN_QUESTION, "echo"), (7, CLOSED_QUESTION, "echo")],
    ids=["asked-and-open", "not-asked", "closed"],
)
def test_standup_takes_a_private_message_only_while_the_participants_question_is_open(
    user_id, state, taken_by
):
    event = make_message_event("did things", user_id=user_id)
    assert route(event, DEFAULT_ORDER, options=ENABLED_WITH, state=state).name == taken_by


def test_a_removed_reaction_is_not_echoed():
    assert route(make_reaction_event("like", action="delete"), DEFAULT_ORDER, options=ENABLED_WITH) is None


@pytest.mark.parametrize("pattern", ["(", "[a-"])
def test_a_bad_message_pattern_fails_when_the_skill_is_defined(pattern):
    import re

    with pytest.raises(re.error):
        MessageFilter(pattern=pattern)


def test_the_kit_says_why_routing_would_not_give_a_skill_its_event():
    """From a skill author's trial: a button-only command tried as typed was refused with no reason."""

    class Vote(Skill):
        name = "vote"
        event_types = frozenset({EventType.COMMAND_ADD})
        commands = (CommandSpec("vote_cast", title={"en": "Cast a vote"}, button_only=True),)

        def handle(self, event, ctx) -> None:
            ctx.answer_command("counted")

    with pytest.raises(AssertionError, match="button_only: it arrives from a keyboard press"):
        run_skill(Vote(), make_command_event("vote_cast", params="1 0"))
    with pytest.raises(AssertionError, match="it declares no command /vote"):
        run_skill(Vote(), make_command_event("vote"))
    # The refusal names the command as typed; it named a command event by its text, which is empty: ''.
    with pytest.raises(AssertionError, match=r"would not be given CommandAddEvent '/vote_casts 1 0':"):
        run_skill(Vote(), make_button_command_event("vote_casts", params="1 0"))
    assert run_skill(Vote(), make_button_command_event("vote_cast", params="1 0")).answers == ["counted"]


class Roller(Skill):
    name = "roller"
    event_types = frozenset({EventType.MESSAGE_ADD})
    message_filter = MessageFilter(pattern=r"^roll\b")

    def handle(self, event, ctx):
        ctx.reply("4")


def test_a_pattern_reads_a_group_message_without_the_mention_that_brought_it_to_the_bot():
    """From a skill author's trial: a bot hears a group message only when it is mentioned, so the message
    starts with "[USER=<bot>]…[/USER]" and a pattern anchored at its start ("^roll") never matched there."""
    skills = [Roller(), EchoSkill()]
    assert route(make_message_event("[USER=100]Test Bot[/USER] roll 2d6", chat_id=3), skills).name == "roller"
    assert route(make_message_event("[USER=100]Test Bot[/USER], roll", chat_id=3), skills).name == "roller"
    # Another person's mention is not the bot's: it stays part of what was said.
    assert route(make_message_event("[USER=7]Anna[/USER] roll", chat_id=3), skills).name == "echo"


def test_a_pattern_reads_a_private_message_as_said_too():
    """The filter and echo read one text (event.text_to_bot): in a 1:1 dialog too, a mention is the name it
    shows, so a pattern matches what the person wrote, not the markup their client sent."""

    class Greeter(Skill):
        name = "greeter"
        event_types = frozenset({EventType.MESSAGE_ADD})
        message_filter = MessageFilter(pattern=r"^thanks,? Anna\b")

        def handle(self, event, ctx):
            ctx.reply("noted")

    skills = [Greeter(), EchoSkill()]
    assert route(make_message_event("thanks [USER=7]Anna[/USER]!"), skills).name == "greeter"
    assert route(make_message_event("[USER=100]Test Bot[/USER] thanks Anna"), skills).name == "greeter"
    assert route(make_message_event("thanks Boris"), skills).name == "echo"


class Relay(Skill):
    """Takes the messages its portal's admin's pattern matches (an option, read in wants())."""

    name = "relay"
    event_types = frozenset({EventType.MESSAGE_ADD})
    options_schema = OptionsSchema(pattern=Text(required=True))
    enabled_by_default = (
        False  # its pattern has no default: the boot refuses it on by default, so does the kit
    )

    def wants(self, event, ctx):
        return bool(re.search(ctx.options["pattern"], event.text_to_bot))

    def handle(self, event, ctx):
        ctx.reply("forwarded")


def test_route_gives_each_skill_its_own_options():
    """From a skill author's trial: `route(..., options=...)` handed the relay's options to echo as well,
    which refused them as "pattern: is not an option of this skill" without saying which skill; a skill
    whose routing reads an option could not be routed beside echo at all."""
    skills = [Relay(), EchoSkill()]
    options = {"relay": {"pattern": "#ops"}}
    assert route(make_message_event("disk full #ops"), skills, options=options).name == "relay"
    assert route(make_message_event("hello"), skills, options=options).name == "echo"
    with pytest.raises(OptionsError) as refused:
        route(make_message_event("x"), skills, options={"relay": {"patern": "#ops"}})
    assert str(refused.value).startswith("the relay skill's options: patern: is not an option of this skill")
    with pytest.raises(ValueError, match="options for no skill named 'rely' among them"):
        route(make_message_event("x"), skills, options={"rely": {"pattern": "#ops"}})
