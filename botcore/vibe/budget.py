"""The client-side request budget per API key, shared by every process of the deployment.

The platform limits each key (how much is unknown: CONTRACT part A §3 says 10 requests/s, imbot.v2 2/s
per application, perhaps per portal) and answers 429 past it. Every web, qcluster and pacer process calls
with the same app key, so each call first takes one unit from a budget they all share, and the
platform's 429 stays the exception rather than the pacing mechanism. VIBE_BUDGET_PER_SECOND is only the
ceiling: the pace is the rate learned from the 429s (learning.py, learned_budget.py).

The budget is pyrate-limiter's GCRA (a leaky bucket kept as one timestamp per key), stepped with the
rate of the moment: a call waits for its turn, up to `max_wait` seconds, then fails with
VibeBudgetTimeoutError; a best-effort call never waits (Priority). Where the state lives (Redis, the
database, or this process) is key_budgets.py's choice; a budget is named by a digest of its key, never
the key itself.

If the shared store fails (Redis down, database locked past its timeout) the call goes ahead unbudgeted,
a warning is logged, and the store is left alone for OUTAGE_PAUSE seconds so that every call does not pay
for the outage again: the platform's own limit and the client's Retry-After handling still hold, and a
budget outage must not stop every bot.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Protocol, cast

from pyrate_limiter import GCRA, Rate, WallClock
from pyrate_limiter.abstracts.store import Decision, StateStore

from botcore.vibe.errors import VibeBudgetTimeoutError

log = logging.getLogger(__name__)

# Rates are integers in pyrate-limiter: express r requests/s as round(r*1000) per 1000 s, which keeps
# fractional budgets (9.5/s) exact to a thousandth.
_RATE_SCALE = 1000
OUTAGE_PAUSE = 30.0
_GCRA = GCRA()
_CLOCK = WallClock()


class Priority(enum.IntEnum):
    """Who goes first when the budget is short: replies, then polls, then a skill run's posts (a scheduled
    standup's questions, a reminder: minutes late hurts no one, seconds late to a reply does), then setting
    bots up (registering a bot and its commands, changing or retiring it: work no person in a chat waits on);
    best-effort calls go only where there is room (a reaction without it is held for later, held_calls.py).
    One app key serves every portal: every portal's 09:30 standup, a mass install, or an admin switching a
    skill on and off again and again, must not take the slots other portals' replies wait for."""

    REPLY = 0
    POLL = 1
    RUN = 2
    SETUP = 3
    BEST_EFFORT = 4


# How much later than a reply a call of each priority wakes for the slot they both wait for (seconds).
PRIORITY_LAG = {
    Priority.REPLY: 0.0, Priority.POLL: 0.025, Priority.RUN: 0.032, Priority.SETUP: 0.04,
    Priority.BEST_EFFORT: 0.05,
}  # fmt: skip


def wake_late(priority: Priority) -> float:
    """How long after its slot a waiting call of `priority` wakes: 2 ms late, as GCRA's wait is to the
    millisecond, and a reply waiting for the same slot wakes first and takes it, then a poll, then a
    best-effort call."""
    return 0.002 + PRIORITY_LAG[priority]


class RequestBudget(Protocol):
    def acquire(self, *, priority: Priority = Priority.REPLY) -> bool:
        """Block until one request may be sent and return True; False: a best-effort call to skip.

        Raise VibeBudgetTimeoutError past the wait bound."""

    def record(self, *, limited: bool, sent_at: float | None = None) -> None:
        """The platform's answer to the call last admitted on this thread: refused with 429, or not.

        `sent_at` (wall-clock seconds) names the call's admission instead, for a caller that admits
        several calls on one thread before their answers come (the poller's watches)."""

    def room_in(self) -> float:
        """Seconds until a best-effort call would find room (0: now), read without taking a slot."""


class NoBudget:
    """No client-side pacing (budget turned off, or a caller that paces itself)."""

    def acquire(self, *, priority: Priority = Priority.REPLY) -> bool:
        return True

    def record(self, *, limited: bool, sent_at: float | None = None) -> None:
        return None

    def room_in(self) -> float:
        return 0.0

    def __repr__(self) -> str:
        return "NoBudget()"


def key_digest(api_key: str) -> str:
    """A stable, non-reversible name for a key's budget."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:24]


def budget_rate(per_second: float, burst: int) -> Rate:
    return Rate(max(1, round(per_second * _RATE_SCALE)), 1000 * _RATE_SCALE, burst=max(1, burst))


class SharedBudget:
    """A GCRA budget over a StateStore; every holder of an equal store shares the same requests/s.

    `per_second` may be a function, read at each call: the learned rate (learning.py) moves.
    Priorities: a reply takes the next free slot; a poll that has to wait wakes a little later than a
    reply waiting for the same slot, which then goes first (the poller also keeps polls to a share of the
    rate); a best-effort call wakes later still, and waits at most one interval: when the budget is short
    (demand exceeds the rate, so replies and polls wait for every slot) it never gets one and is skipped,
    and when the budget only happens to be busy it goes a moment late. No priority bursts past the pace: a
    platform limit of 1/s admits no burst at all.
    """

    def __init__(
        self,
        *,
        name: str,
        per_second: float | Callable[[], float],
        burst: int,
        max_wait: float,
        store: StateStore,
    ) -> None:
        if not callable(per_second) and per_second <= 0:
            raise ValueError("a budget needs a positive rate; use NoBudget to turn it off")
        self.name = name
        self._per_second = per_second
        self.burst = burst
        self.max_wait = max_wait
        self._store = store
        self._outage_until = 0.0

    @property
    def per_second(self) -> float:
        rate = self._per_second() if callable(self._per_second) else self._per_second
        return max(rate, 0.01)

    def _in_outage(self) -> bool:
        """The store failed a moment ago: calls go without the budget until OUTAGE_PAUSE has passed."""
        return bool(self._outage_until) and time.monotonic() < self._outage_until

    def acquire(self, *, priority: Priority = Priority.REPLY) -> bool:
        if self._in_outage():
            return True
        try:
            return self._acquire(priority)
        except VibeBudgetTimeoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - the store's own errors (redis, database); see module doc
            self._log_outage(exc)
            return True

    def _decide(self, rates: list[Rate]) -> Decision:
        return cast(
            Decision, self._store.check(_GCRA, rates, _CLOCK.now(), 1)
        )  # a sync store decides at once

    def _acquire(self, priority: Priority) -> bool:
        deadline = self.deadline(priority)
        while True:
            # The rate read again at every try: a 429 may cut it while this call waits, and a slot taken
            # at the rate read when the wait began would space the next call at that old rate.
            decision = self._decide([budget_rate(self.per_second, self.burst)])
            if decision.allowed:
                return True
            wait = (decision.retry_after_ms or 1) / 1000
            if time.monotonic() + wait > deadline:
                return self.give_up(priority)
            time.sleep(wait + wake_late(priority))

    def deadline(self, priority: Priority) -> float:
        """The monotonic time past which a call of `priority` stops waiting for a slot: a best-effort call
        waits for the next slot at most (GCRA's times are exact to the millisecond), others max_wait."""
        if priority is Priority.BEST_EFFORT:
            return time.monotonic() + 1.0 / self.per_second + 0.005
        return time.monotonic() + self.max_wait

    def give_up(self, priority: Priority) -> bool:
        """A call whose slot would come past its deadline: a best-effort one is skipped (False: the slots
        go to replies and polls), any other fails with VibeBudgetTimeoutError."""
        if priority is Priority.BEST_EFFORT:
            return False
        raise VibeBudgetTimeoutError(
            status=429,
            code="CLIENT_BUDGET_EXHAUSTED",
            message=f"the client's request budget for this key stayed spent for {self.max_wait:g} s",
            hint="Raise VIBE_BUDGET_MAX_WAIT, or spread the work over more time",
            retry_after=1.0 / self.per_second,
        )

    def slot_in(self) -> float:
        """Seconds until this budget admits a call (0: now), read without taking the slot."""
        per_second = self.per_second
        arrival = self._theoretical_arrival_us(per_second)
        if arrival is None:
            return 0.0
        # GCRA admits while its theoretical arrival time is at most burst - 1 intervals ahead (in µs).
        allow_at = arrival - (self.burst - 1) * 1e6 / per_second
        return max(0.0, (allow_at - time.time() * 1e6) / 1e6)

    def defer(self, seconds: float) -> None:
        """Admit no call before `seconds` from now (unless the next slot is later already): the platform
        refused a call, its bucket is full, and the slot the rate before the cut had spaced would be
        refused too. GCRA keeps one arrival time, so a step taken at the current arrival time, with an
        interval of the distance to the target, moves it there. A call that takes a slot between the read
        and that step makes the step fail, and the next slot stays where the old rate put it (no worse
        than without the deferral)."""
        per_second = self.per_second
        arrival_us = self._theoretical_arrival_us(per_second)
        if arrival_us is None:
            return  # the store is out: calls go unbudgeted anyway
        try:
            now_ms = _CLOCK.now()
            at_ms = max(-(-arrival_us // 1000), now_ms)
            # GCRA admits while its arrival time is at most burst - 1 intervals ahead.
            target_ms = now_ms + round(1000 * (seconds + (self.burst - 1) / per_second))
            if target_ms > at_ms:
                self._store.check(_GCRA, [Rate(1, target_ms - at_ms, burst=1)], at_ms, 1)
        except Exception as exc:  # noqa: BLE001 - the store's own errors, as in acquire
            self._log_outage(exc)

    def take_now(self) -> bool:
        """This instant's slot, or False without waiting for one."""
        if self._in_outage():
            return True
        try:
            return self._decide([budget_rate(self.per_second, self.burst)]).allowed
        except Exception as exc:  # noqa: BLE001 - the store's own errors, as in acquire
            self._log_outage(exc)
            return True

    def is_idle(self) -> bool:
        """No call was admitted in the last full interval (so a call now takes no slot another wants)."""
        return self.idle_in() <= 0

    def idle_in(self) -> float:
        """Seconds until is_idle() holds (0: it does), unless a call is admitted meanwhile."""
        per_second = self.per_second
        arrival = self._theoretical_arrival_us(per_second)
        if arrival is None:
            return 0.0
        return max(0.0, (arrival + 1e6 / per_second - time.time() * 1e6) / 1e6)

    def room_in(self) -> float:
        """A best-effort call goes at the next slot here (acquire's own rule)."""
        return self.slot_in()

    def _theoretical_arrival_us(self, per_second: float) -> int | None:
        """The GCRA's next slot in µs, read without taking it; None while the store is out (calls then go
        unbudgeted, as in acquire)."""
        if self._in_outage():
            return None
        try:
            state = cast("tuple[float, ...]", self._store.read(_GCRA, [budget_rate(per_second, self.burst)]))
        except Exception as exc:  # noqa: BLE001 - the store's own errors, as in acquire
            self._log_outage(exc)
            return None
        return int(state[0])

    def record(self, *, limited: bool, sent_at: float | None = None) -> None:
        return None

    def _log_outage(self, exc: Exception) -> None:
        self._outage_until = time.monotonic() + OUTAGE_PAUSE
        log.warning(
            "request budget %s unavailable (%s); calling without it for %gs",
            self.name,
            type(exc).__name__,
            OUTAGE_PAUSE,
        )

    def __repr__(self) -> str:
        store = type(self._store).__name__
        return f"SharedBudget(name={self.name!r}, per_second={self.per_second:g}, store={store})"
