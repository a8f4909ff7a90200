"""The request rate learned from the platform's 429s: cut on a refusal, raised slowly while calls succeed.

The platform's real limit is unknown (10/s per key is hearsay, imbot.v2 says 2/s per application, and it
may count per portal), and a key's limit is a field its owner sets. So VIBE_BUDGET_PER_SECOND is only a
ceiling, and the rate the budget paces to is learned, AIMD-style (the way TCP finds a link's capacity):
- a 429 cuts the rate to BACKOFF times what was actually getting through (the accepted rate measured
  over the last few seconds, when known; else the rate itself; never deeper than BACKOFF squared times
  the rate), whether or not it carried a Retry-After;
- each accepted call raises it a little, so that while demand saturates the rate it climbs back to the
  rate of the last 429 in about RECOVER_SECONDS: one probing 429 every minute and a half at most,
  and on average about (1 + BACKOFF) / 2 of the limit in use;
- a 429 for a call sent before the last cut is old news and cuts nothing.

Two rates are learned per key, because the limit may count per key or per key and portal:
- "key": every call of the key, all portals together;
- "portals": what each portal of the key may send on its own. One value serves every portal (the limit
  per portal is the same field for all of them), so the portals probe it together, not each on its own.
A 429 cuts the portals' value, to BACKOFF times the busiest portal's accepted rate (a per-portal limit
refuses the busiest portal first). It cuts the key's too, to BACKOFF times the key's accepted rate,
unless the key gets through clearly less (under KEY_EVIDENCE) than when it last met a 429: a limit on
the key would not refuse below the rate it let through before, a limit per portal does (a hot portal
keeps meeting its own limit while the others are quiet), and cutting the key for each of those would
spiral it down for every portal. Where the limit is per key and the portals are alike, the
portals' value lands near each portal's share, which is what the key's rate allows them anyway.

The state is a short string per scope, in Redis (read-modify-write under WATCH) or in the budget's
database table (budget_store), updated on a 429 and, for successes, in batches of FLUSH_SECONDS.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

BACKOFF = 0.8
RECOVER_SECONDS = 90.0
FLOOR = 0.2  # requests/s: never learn a rate so low that a bot stops answering altogether
WINDOW = 5.0  # seconds over which the accepted rate is measured
FLUSH_SECONDS = 1.0
KEY_EVIDENCE = 0.9


@dataclasses.dataclass
class LearnedState:
    """One scope's learned rate and the measurement it is cut from. Times are wall-clock seconds."""

    rate: float
    peak: float = 0.0  # the rate the last cut started from: the climb aims back at it
    cut_at: float = 0.0
    count: int = 0  # calls accepted in the current window
    since: float = 0.0  # the current window's start
    prev: float = 0.0  # the previous window's accepted rate
    busiest: float = 0.0  # "portals" only: the busiest portal's accepted rate, this window and the last
    busiest_prev: float = 0.0
    got_through: float = 0.0  # the accepted rate measured at the last cut (0: unknown)

    def encode(self) -> str:
        return ",".join(f"{value:.4f}" for value in dataclasses.astuple(self))

    @classmethod
    def decode(cls, text: str | bytes | None, *, ceiling: float) -> LearnedState:
        if isinstance(text, bytes):
            text = text.decode()
        try:
            rate, peak, cut_at, count, since, prev, busiest, busiest_prev, got_through = (
                float(value) for value in (text or "").split(",")[:9]
            )
            state = cls(rate, peak, cut_at, int(count), since, prev, busiest, busiest_prev, got_through)
        except (ValueError, TypeError, IndexError):
            return cls(rate=ceiling, since=time.time())
        state.rate = min(state.rate, ceiling)  # a lowered setting applies at once
        return state


def measured(state: LearnedState, now: float, *, busiest: bool = False) -> float | None:
    """The accepted rate of the last few seconds, or None before there is enough to tell."""
    elapsed = now - state.since
    if busiest:
        value = state.busiest if elapsed >= 2 else state.busiest_prev
    else:
        value = state.count / elapsed if elapsed >= 2 and state.count >= 3 else state.prev
    return value or None


def add_successes(state: LearnedState, *, count: int, now: float, ceiling: float) -> LearnedState:
    """Raise the rate for `count` accepted calls and count them in the measuring window."""
    slope = (1 - BACKOFF) * max(state.peak, FLOOR) / RECOVER_SECONDS  # requests/s gained per second
    state.rate = min(ceiling, state.rate + slope * count / max(state.rate, FLOOR))
    state.count += count
    if now - state.since >= WINDOW:
        state.prev = state.count / max(now - state.since, 1e-3)
        state.busiest_prev, state.busiest = state.busiest, 0.0
        state.count, state.since = 0, now
    return state


def note_portal_rate(state: LearnedState, *, portal_rate: float | None) -> LearnedState:
    """Fold one portal's accepted rate into the "portals" scope's busiest."""
    if portal_rate:
        state.busiest = max(state.busiest, portal_rate)
    return state


def cut(state: LearnedState, *, now: float, sent_at: float, basis: float | None) -> LearnedState:
    """A 429 for a call sent at `sent_at`: cut to BACKOFF times `basis` (what got through), once per cut."""
    if sent_at < state.cut_at:
        return state
    # The measured rate lags a rising demand (it averages the last WINDOW seconds), so a cut never goes
    # deeper than two steps from the rate in force: a limit far below that is found by a few more 429s.
    start = state.rate if basis is None else min(state.rate, max(basis, BACKOFF * state.rate))
    state.peak = start
    state.got_through = basis or 0.0
    state.rate = max(FLOOR, BACKOFF * start)
    state.cut_at = now
    state.count, state.since = 0, now
    state.busiest = 0.0
    return state


class LearnedStore(Protocol):
    def read(self, name: str) -> str | None: ...

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        """Replace the text under `name` by change(old text) atomically; return the new text."""


class MemoryLearnedStore:
    """This process only: benchmarks, scripts and tests."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def read(self, name: str) -> str | None:
        return self._values.get(name)

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        with self._lock:
            self._values[name] = value = change(self._values.get(name))
        return value


class RedisLearnedStore:
    """One string per scope; concurrent writers retry under WATCH (redis-py's transaction helper)."""

    def __init__(self, client: Any, *, prefix: str = "vibe:learn:") -> None:
        self.client = client
        self.prefix = prefix

    def read(self, name: str) -> str | None:
        value = self.client.get(self.prefix + name)
        return value.decode() if isinstance(value, bytes) else value

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        key = self.prefix + name
        result: list[str] = []

        def step(pipe: Any) -> None:
            old = pipe.get(key)
            new = change(old.decode() if isinstance(old, bytes) else old)
            pipe.multi()
            pipe.set(key, new, ex=86400)  # an unused key's learning lapses after a day
            result[:] = [new]

        self.client.transaction(step, key)
        return result[0]


class DatabaseLearnedStore:
    """A row per scope in the budget's own table (budget_store), prefixed "learn:"."""

    def __init__(self, *, alias: str = "default") -> None:
        self.alias = alias

    def read(self, name: str) -> str | None:
        from botcore.vibe.budget_store import read_text

        return read_text(f"learn:{name}", alias=self.alias)

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        from botcore.vibe.budget_store import update_text

        return update_text(f"learn:{name}", change, alias=self.alias)
