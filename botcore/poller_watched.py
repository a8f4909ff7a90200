"""The poller's record of one bot between database reads (botcore/poller.py), and the clock helpers it
schedules with: monotonic times, from now or from a database moment."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.utils import timezone

from botcore.poller_fleet import BotRow
from botcore.vibe.watch import WatchAuth

IDLE, WATCHING, CYCLE = "idle", "watching", "cycle"


@dataclass(slots=True)
class Watched:
    """One bot as the poller keeps it between database reads."""

    row: BotRow
    auth: WatchAuth | None = None
    refused: WatchAuth | None = None  # the credential the platform refused, until a fresh one is read
    state: str = IDLE
    due: float = 0.0
    generation: int = 0  # bumped whenever the bot changes hands: a stale watch's answer is dropped
    saw_items_at: int | None = None  # the offset its watch saw items at when it handed the bot to its cycle


def in_seconds(seconds_from_now: float) -> float:
    """The monotonic time `seconds_from_now` from now (never in the past)."""
    return time.monotonic() + max(0.0, seconds_from_now)


def until(moment) -> float:
    """The monotonic time of a database moment (now when there is none)."""
    return in_seconds((moment - timezone.now()).total_seconds()) if moment is not None else time.monotonic()


def fields_of(row: BotRow) -> dict:
    """A row's fields, to build a changed copy of it."""
    return {name: getattr(row, name) for name in BotRow.__slots__}
