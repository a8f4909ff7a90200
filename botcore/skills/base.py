"""The skill API: what a skill declares (events, commands) and the context it acts through."""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from botcore.vibe.attach import Attach
from botcore.vibe.events import BotEvent, EventType
from botcore.vibe.keyboards import Keyboard


@dataclass(frozen=True)
class CommandSpec:
    """A slash command a skill owns; registered on the platform when the portal's bot is provisioned."""

    command: str  # without the leading "/"
    title: Mapping[str, str]  # language -> title, e.g. {"en": "Ping", "ru": "Пинг"}
    description: Mapping[str, str] = field(default_factory=dict)
    common: bool = False


class SkillContext(Protocol):
    """What a skill can do while handling one event; bound to that event's bot, chat and portal."""

    portal_member_id: str
    options: Mapping[str, Any]
    language: str

    def reply(self, text: str, *, keyboard: Keyboard | None = None, attach: Attach | None = None, system: bool = False) -> int:
        """Post in the event's chat; returns the new message id."""

    def answer_command(self, text: str, *, keyboard: Keyboard | None = None, attach: Attach | None = None) -> int:
        """Answer the command the event carries, in its chat."""

    def typing(self, status: str | None = None) -> None:
        """Show the typing indicator (or an IMBOT_AGENT_ACTION_* status) in the event's chat."""

    def react(self, reaction: str) -> None:
        """Put a reaction on the event's message."""


class Skill(abc.ABC):
    """One unit of bot behaviour; a single instance serves every portal, so it keeps no state of its own."""

    name: ClassVar[str]  # stable key stored in SkillConfig rows
    event_types: ClassVar[frozenset[EventType]]
    commands: ClassVar[tuple[CommandSpec, ...]] = ()
    # Titles and descriptions for the help skill, per language.
    summary: ClassVar[Mapping[str, str]] = {}

    def wants(self, event: BotEvent) -> bool:
        """A finer filter than `event_types`; routing tries the next skill when this is False."""
        return True

    @abc.abstractmethod
    def handle(self, event: BotEvent, ctx: SkillContext) -> None: ...

    def owns_command(self, name: str) -> bool:
        return any(spec.command == name.lstrip("/").lower() for spec in self.commands)
