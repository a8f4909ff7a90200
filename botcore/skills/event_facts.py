"""EventFacts: what a skill's context knows from its event alone, shared by the live context and the kit's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from botcore.skills.base import Skill
from botcore.skills.events import BackendEvent, DeferredJobEvent, SkillEvent
from botcore.skills.idempotency import idempotency_key
from botcore.skills.options import SkillOptions
from botcore.skills.state import DialogState, StateStore
from botcore.skills.values import check_due, check_json, check_keyboard, check_message_id
from botcore.vibe.events import BotEvent, ChatEvent, EventChat, EventUser


def origin_event(event: SkillEvent) -> BotEvent | None:
    """The platform event a context is about: the event itself, or what a deferred job was deferred from."""
    if isinstance(event, DeferredJobEvent):
        return event.origin
    return None if isinstance(event, BackendEvent) else event


class EventFacts:
    """What a context knows from its event alone; the live and the recording contexts share it."""

    event: SkillEvent | None
    state_store: StateStore
    skill: Skill | None
    enabled_skills: tuple[Skill, ...]

    @property
    def origin(self) -> BotEvent | None:
        return origin_event(self.event) if self.event is not None else None

    @property
    def options(self) -> Mapping[str, Any]:
        """This portal's options for the skill; one it does not declare raises MissingOptionError (a
        KeyError naming the skill, the option and the skill's options)."""
        return self._options

    @options.setter
    def options(self, values: Mapping[str, Any]) -> None:
        skill: Skill | None = getattr(self, "skill", None)
        self._options = SkillOptions(
            values,
            skill_name=skill.name if skill is not None else "unnamed",
            declared=skill.options_schema.fields if skill is not None else values,
        )

    @property
    def dialog_id(self) -> str:
        origin = self.origin
        if not isinstance(origin, ChatEvent) or not origin.dialog_id:
            raise TypeError(
                f"{type(self.event).__name__} happened in no chat: there is nowhere to reply and no dialog "
                "for ctx.state (name one: send(dialog_id, text), state_for(dialog_id))"
            )
        return origin.dialog_id

    @property
    def sender(self) -> EventUser | None:
        return getattr(self.origin, "user", None)

    @property
    def chat(self) -> EventChat | None:
        return getattr(self.origin, "chat", None)

    @property
    def state(self) -> DialogState:
        return DialogState(self.state_store, self.dialog_id)

    def state_for(self, dialog_id: str) -> DialogState:
        return DialogState(self.state_store, str(dialog_id))

    def _message_id(self, message_id: int | None = None) -> int:
        """The message an action is about: the one given, else the event's own."""
        if message_id is not None:
            return int(message_id)
        message = getattr(self.origin, "message", None)
        if message is None:
            raise TypeError(f"{type(self.event).__name__} carries no message: pass message_id")
        return int(message.id)

    def _reaction_message_id(self, message_id: int | None) -> int | None:
        """The message a reaction is about, or None where the id names no message (check_message_id: 0 is
        what answer_command and a post left in doubt give). The platform refuses a reaction on it as it
        refuses an edit; react and unreact are best effort, so both contexts answer False for it, asking
        nothing, where an edit raises."""
        try:
            return check_message_id(self._message_id(message_id))
        except ValueError:
            return None

    def _check_keyboard(self, keyboard: object) -> None:
        """Refuse a button whose command no skill enabled here declares (values.check_keyboard); with none
        named, the skill's own commands are all there are."""
        skills = self.enabled_skills or ((self.skill,) if self.skill is not None else ())
        if skills:
            check_keyboard(keyboard, skills=skills)

    # --- time -----------------------------------------------------------------------------------
    def on_our_clock(self, platform_time: datetime) -> datetime:
        """`platform_time`, a time the platform stamped (an event's or a message's date), on the backend's
        clock, the one timezone.now() and the schedules read: the platform's clock may run minutes ahead of
        ours or behind (docs/skills.md §4)."""
        return platform_time - self.platform_clock_lead()

    def platform_clock_lead(self) -> timedelta:
        """How far the platform's clock runs ahead of ours (negative: behind)."""
        return timedelta(0)

    # --- outside calls ---------------------------------------------------------------------------
    def idempotency_key(self, call: str) -> str:
        """The idempotency key of an outside call that makes something (`call`: what it makes, with the
        skill's name in it, "tickets:file") for the deferred job or scheduled run under way: the same on every
        attempt of it, and on no other (botcore.skills.idempotency.idempotency_key, docs/skills.md §17.1).
        Raises TypeError while a platform event is handled: the call belongs in a deferred job."""
        if not isinstance(self.event, BackendEvent):
            raise TypeError(
                f"ctx.idempotency_key needs a deferred job or a scheduled run under way, not a"
                f" {type(self.event).__name__}: make the outside call in a deferred job (ctx.defer) and key"
                " it there (docs/skills.md §17.1)"
            )
        return idempotency_key(self.event, call)

    # --- handing work on: both contexts check the same, then _defer records or enqueues -------------
    def defer(self, job: str, **data: Any) -> None:
        check_json(data, what=f"ctx.defer({job!r}) data")
        self._defer(job, data, due_at=None)

    def defer_at(self, when: datetime, job: str, /, **data: Any) -> None:
        due_at = check_due(when)
        check_json(data, what=f"ctx.defer_at(…, {job!r}) data")
        self._defer(job, data, due_at=due_at)

    def _defer(self, job: str, data: dict[str, Any], *, due_at: datetime | None) -> None:
        raise NotImplementedError
