"""Test kit for skill authors: run a skill on an event and assert on what it did, without network or database.

    from botcore.skills.testing import RecordingContext, make_message_event, run_skill

    def test_dice_rolls_within_its_sides():
        ctx = run_skill(DiceSkill(), make_message_event("roll"), options={"sides": 6})
        assert 1 <= int(ctx.replies[0]) <= 6

run_skill() refuses a skill whose declaration the boot refuses (the registry's check, its message), routes
the event the way the bot would (declared event types, message filter, commands, wants()) and fails the test
when the skill would never be given it; `route()` answers which of several skills gets an event. Pass
`state_store=DatabaseStateStore(...)` to RecordingContext for database state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botcore.skills.base import Skill
from botcore.skills.events import BackendEvent, DeferredJobEvent, ScheduledRunEvent, SkillEvent
from botcore.skills.registry import check_skill_declaration
from botcore.skills.routing import select_skill
from botcore.skills.testing.factories import (
    make_bot_delete_event,
    make_button_command_event,
    make_command_event,
    make_context_event,
    make_deferred_event,
    make_join_event,
    make_message_delete_event,
    make_message_event,
    make_message_update_event,
    make_portal_installed_event,
    make_portal_uninstalled_event,
    make_reaction_event,
    make_scheduled_event,
    make_user,
)
from botcore.skills.testing.recording import Action, Post, RecordingContext
from botcore.vibe.events import CommandAddEvent


def would_handle(skill: Skill, event: SkillEvent, ctx: RecordingContext) -> bool:
    """Whether routing would give `event` to `skill` if it were the portal's only enabled skill."""
    if isinstance(event, DeferredJobEvent):
        return True  # a deferred job goes back to the skill that deferred it
    if isinstance(event, ScheduledRunEvent) and event.schedule not in _schedule_names(skill, ctx):
        return False  # the minute sweep fires only the schedules the skill gives with the portal's options
    if isinstance(event, BackendEvent):
        return event.type in skill.event_types and skill.wants(event, ctx)
    return select_skill(event, [skill], context_for=lambda _: ctx) is skill


def route(
    event: SkillEvent,
    skills: Sequence[Skill],
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    **ctx_kwargs: Any,
) -> Skill | None:
    """Which of `skills` (in routing order) gets `event`; each context is a RecordingContext(**ctx_kwargs).

    `options` maps a skill's name to its options, as each skill has its own on a portal (`{"relay":
    {"pattern": "#ops"}}`); a skill not named there has its defaults, and one with a required option they
    leave empty is refused (OptionsError naming it), as enabling it on a portal would be."""
    if isinstance(event, BackendEvent):
        raise TypeError(
            "backend events are not routed: they go to a named skill, or to every skill declaring them"
        )
    for skill in skills:  # the boot refuses the whole list for one of them, so the kit does before routing
        check_skill_declaration(type(skill))
    options = options or {}
    unknown = sorted(set(options) - {skill.name for skill in skills})
    if unknown:
        raise ValueError(
            f"options for no skill named {unknown[0]!r} among them: route(options=...) maps a skill's name"
            f" to its options (the skills: {', '.join(skill.name for skill in skills)})"
        )
    contexts: dict[str, RecordingContext] = {}

    def context_for(skill: Skill) -> RecordingContext:
        return contexts.setdefault(
            skill.name,
            RecordingContext(
                skill=skill, event=event, enabled_skills=skills, options=options.get(skill.name), **ctx_kwargs
            ),
        )

    return select_skill(event, skills, context_for=context_for)


def run_skill(
    skill: Skill, event: SkillEvent, *, ctx: RecordingContext | None = None, **ctx_kwargs: Any
) -> RecordingContext:
    """Handle `event` with `skill` as the bot would, and return the context that recorded it.

    Raises AssertionError when routing would not give the skill this event, and the boot's SkillConfigError
    (botcore.E003, its message) when the deployment would refuse the skill's declaration.
    """
    check_skill_declaration(type(skill))
    if ctx is None:
        ctx = RecordingContext(skill=skill, event=event, **ctx_kwargs)
    else:
        ctx.event = event
    if not would_handle(skill, event, ctx):
        raise AssertionError(
            f"the {skill.name} skill would not be given {type(event).__name__} {_said(event)!r}"
            f": {_why_not_given(skill, event, ctx)}"
        )
    skill.handle(event, ctx)
    return ctx


def _said(event: SkillEvent) -> str:
    """What the person wrote: a message's text, or a command with its params."""
    if isinstance(event, CommandAddEvent):
        return f"{event.command.command} {event.command.params}".strip()
    return str(getattr(event, "text", ""))


def _schedule_names(skill: Skill, ctx: RecordingContext) -> list[str]:
    return [spec.name for spec in skill.schedules_for(ctx.options)]


def _why_not_given(skill: Skill, event: SkillEvent, ctx: RecordingContext) -> str:
    """The likeliest reason routing passes `event` by `skill`, for the refusal's message."""
    if event.type not in skill.event_types:
        return f"{event.type} is not among its event_types"
    if isinstance(event, ScheduledRunEvent) and event.schedule not in (names := _schedule_names(skill, ctx)):
        given = ", ".join(names) or "none"
        return f"with these options it has no schedule {event.schedule!r} (its schedules_for gives: {given})"
    if isinstance(event, CommandAddEvent):
        spec = next((c for c in skill.commands if c.command.lstrip("/") == event.command.name), None)
        if spec is None:
            return f"it declares no command {event.command.command}"
        if spec.button_only and event.command.context != "keyboard":
            return (
                f"{event.command.command} is button_only: it arrives from a keyboard press "
                '(make_button_command_event, or make_command_event(..., context="keyboard"))'
            )
    return "its message_filter or wants() turned it down"


def run_deferred(skill: Skill, ctx: RecordingContext) -> list[RecordingContext]:
    """Run the jobs the skill deferred in `ctx` as a worker would (sharing ctx's state); one context each."""
    return [_run_job(skill, job, ctx) for job in list(ctx.deferred)]


def _run_job(skill: Skill, job: DeferredJobEvent, ctx: RecordingContext) -> RecordingContext:
    job_ctx = RecordingContext(
        skill=skill,
        event=job,
        options=ctx.options,
        state_store=ctx.state_store,
        enabled_skills=ctx.enabled_skills,
        chat_users=ctx.chat_users,
        files=ctx.files,
        on_action=ctx.on_action,
        timezone=ctx.timezone,
    )
    skill.handle(job, job_ctx)
    return job_ctx


__all__ = [
    "Action",
    "Post",
    "RecordingContext",
    "make_bot_delete_event",
    "make_button_command_event",
    "make_command_event",
    "make_context_event",
    "make_deferred_event",
    "make_join_event",
    "make_message_delete_event",
    "make_message_event",
    "make_message_update_event",
    "make_portal_installed_event",
    "make_portal_uninstalled_event",
    "make_reaction_event",
    "make_scheduled_event",
    "make_user",
    "route",
    "run_deferred",
    "run_skill",
    "would_handle",
]  # fmt: skip
