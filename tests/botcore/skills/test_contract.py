"""The contract every configured skill keeps (STYLE.md (b)): identity, declarations, options, a calm start."""

from __future__ import annotations

import pytest

from botcore.skills.cron import CronExpression
from botcore.skills.events import BackendEventType
from botcore.skills.registry import load_skills
from botcore.skills.testing import (
    RecordingContext,
    make_command_event,
    make_join_event,
    make_message_event,
    make_reaction_event,
    route,
    would_handle,
)
from botcore.vibe.events import EventType

SKILLS = load_skills()
# What enabling each takes beyond its defaults: a required option with no default (the kit refuses it
# without, as enabling it live would).
ENABLED_WITH = {"standup": {"chat": "chat5"}}


@pytest.mark.parametrize("skill", SKILLS, ids=lambda s: s.name)
def test_skill_declares_identity_events_and_english_texts(skill):
    assert skill.name.isidentifier() and skill.event_types
    assert all(isinstance(t, (EventType, BackendEventType)) for t in skill.event_types)
    assert skill.summary.get("en"), (
        "the help skill and the portal page show the English summary as the fallback"
    )
    for spec in skill.commands:
        assert spec.title.get("en") and set(spec.description) <= set(spec.title) | {"en", "ru"}
        assert set(spec.title) == set(skill.title) or not skill.title, "commands speak the skill's languages"


@pytest.mark.parametrize("skill", SKILLS, ids=lambda s: s.name)
def test_default_options_resolve_and_their_schedules_parse(skill):
    defaults = skill.options_schema.resolve({})
    assert set(defaults) == set(skill.options_schema.fields)
    for spec in skill.schedules_for(defaults):
        CronExpression.parse(spec.cron)


@pytest.mark.parametrize("skill", SKILLS, ids=lambda s: s.name)
def test_skill_never_gets_the_bots_own_or_a_system_message(skill):
    own = make_message_event("I said this", author_id=100, bot_id=100)
    system = make_message_event("User joined", is_system=True)
    assert route(own, [skill]) is None and route(system, [skill]) is None


@pytest.mark.parametrize("skill", SKILLS, ids=lambda s: s.name)
def test_skill_handles_what_it_is_given_without_raising(skill):
    """A plain user's first contact: whatever the skill takes of it, it handles with the options enabling it
    takes."""
    events = [
        make_join_event(),
        make_message_event("hello"),
        make_message_event("привет", language="ru"),
        make_reaction_event("like"),
        *[make_command_event(spec.command) for spec in skill.commands],
    ]
    for event in events:
        ctx = RecordingContext(skill=skill, event=event, options=ENABLED_WITH.get(skill.name))
        if would_handle(skill, event, ctx):
            skill.handle(event, ctx)
            assert ctx.actions, f"{skill.name} took {type(event).__name__} and did nothing visible"


@pytest.mark.parametrize("skill", SKILLS, ids=lambda s: s.name)
def test_owned_commands_route_to_their_skill(skill):
    for spec in skill.commands:
        event = make_command_event(spec.command, context="keyboard" if spec.button_only else "textarea")
        enabled_with = {skill.name: ENABLED_WITH[skill.name]} if skill.name in ENABLED_WITH else {}
        assert route(event, [skill], options=enabled_with) is skill
