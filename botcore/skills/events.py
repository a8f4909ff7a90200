"""The backend's own events for skills: a portal installed or uninstalled, a scheduled run, a deferred job.

The platform's events (botcore.vibe.events) reach a skill through the poll cycle; these come from the
backend itself and go to a named skill (a schedule, a deferred job) or to every enabled skill that
declares the type (install, uninstall). Each carries a `run_key`, unique per portal and skill, from
which the context derives the templateIds of its posts, so a retried run never posts twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from botcore.vibe.events import BotEvent, EventType


class BackendEventType(StrEnum):
    PORTAL_INSTALLED = "BACKEND_PORTAL_INSTALLED"
    PORTAL_UNINSTALLED = "BACKEND_PORTAL_UNINSTALLED"
    SCHEDULED_RUN = "BACKEND_SCHEDULED_RUN"
    DEFERRED_JOB = "BACKEND_DEFERRED_JOB"


@dataclass(frozen=True, kw_only=True)
class BackendEvent:
    type: BackendEventType
    portal_member_id: str
    run_key: str
    language: str = ""  # the portal's language (PortalSettings), for texts no user asked for
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class PortalInstalledEvent(BackendEvent):
    """The portal's bot was provisioned after an install or a reinstall; the platform is reachable."""

    type: BackendEventType = BackendEventType.PORTAL_INSTALLED


@dataclass(frozen=True, kw_only=True)
class PortalUninstalledEvent(BackendEvent):
    """The portal uninstalled the app: its credentials are gone; only the skill's own data can be touched."""

    type: BackendEventType = BackendEventType.PORTAL_UNINSTALLED
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ScheduledRunEvent(BackendEvent):
    """One firing of a schedule the skill declared (ScheduleSpec): `due_at` in UTC, `local_due_at` on the
    portal's clock, in its zone (a ZoneInfo: other times that day read with it follow its daylight saving)."""

    type: BackendEventType = BackendEventType.SCHEDULED_RUN
    schedule: str
    due_at: datetime
    local_due_at: datetime


@dataclass(frozen=True, kw_only=True)
class DeferredJobEvent(BackendEvent):
    """Slow work a skill handed off with ctx.defer(job, **data); `origin`: the event it was deferred from."""

    type: BackendEventType = BackendEventType.DEFERRED_JOB
    job: str
    data: Mapping[str, Any] = field(default_factory=dict)
    origin: BotEvent | None = None

    @property
    def dialog_id(self) -> str:
        return getattr(self.origin, "dialog_id", "")


SkillEvent: TypeAlias = BotEvent | BackendEvent
AnyEventType: TypeAlias = EventType | BackendEventType
