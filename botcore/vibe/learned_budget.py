"""LearnedBudget: a key's shared budget paced at the rate learned from 429s, per key and per portal.

Each call waits its turn in two GCRA budgets (SharedBudget): the key's, at the key's learned rate, and,
when the client acts in a portal, that portal's, at the learned per-portal rate (with no burst at the
default VIBE_BUDGET_BURST of 1), taking both slots at one moment (acquire_both); then the transport
reports the platform's answer (record), which is what the rates are learned from (learning.py: which
of the two a 429 cuts, and by how much; the budget cut then admits its next call a whole interval at
the new rate later, SharedBudget.defer). learned_rates() reads them back for metrics and the admin;
poll_budget_for_key() is the pacer's share.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pyrate_limiter.abstracts.store import StateStore

from botcore import conf
from botcore.vibe import learning
from botcore.vibe.budget import (
    NoBudget,
    Priority,
    SharedBudget,
    key_digest,
    wake_late,
)
from botcore.vibe.errors import VibeBudgetTimeoutError
from botcore.vibe.key_budgets import learned_store, resolve_backend, state_store
from botcore.vibe.learning import LearnedState, LearnedStore
from botcore.vibe.outage_log import OutageLog, more_since

log = logging.getLogger(__name__)
CACHE_SECONDS = 0.5  # how stale a process's copy of the learned rates may be
STALE_SECONDS = 2 * learning.FLUSH_SECONDS  # accepted calls this old when flushed are not measured


@dataclasses.dataclass(frozen=True)
class LearnedRates:
    """A key's learned requests/s: all its calls together, and each portal's own."""

    key: float
    per_portal: float
    ceiling: float


class LearnedBudget:
    def __init__(
        self,
        *,
        name: str,
        portal: str | None,
        ceiling: float,
        burst: int,
        max_wait: float,
        make_store: Callable[[str], StateStore],
        learned: LearnedStore,
    ) -> None:
        self.name = name
        self.ceiling = ceiling
        self._learned = learned
        self._portal_name = f"{name}:p:{portal}" if portal else None
        self._caller = learning.caller_id(portal) if portal else 0.0
        self._cached_at = 0.0
        self._rates = (ceiling, ceiling)
        self.key_budget = SharedBudget(
            name=f"vibe-budget:{name}",
            per_second=lambda: self.rates()[0],
            burst=burst,
            max_wait=max_wait,
            store=make_store(name),
        )
        self.portal_budget = None
        if self._portal_name:
            self.portal_budget = SharedBudget(
                name=f"vibe-budget:{self._portal_name}",
                per_second=lambda: self.rates()[1],
                burst=burst,
                max_wait=max_wait,
                store=make_store(self._portal_name),
            )
        self._pending = 0
        self._pending_since = 0.0  # time.monotonic() of the first call counted in _pending
        self._pending_first_at = 0.0  # and its wall-clock time (the windows are measured in it)
        self._flushed_at = float("-inf")  # time.monotonic() of the last flush
        self._lock = threading.Lock()
        self._thread = threading.local()
        self.used_at = time.monotonic()  # the last call admitted or reported: key_budgets drops it when idle

    def rates(self) -> tuple[float, float]:
        """(key, per portal) learned rates, read from the shared store at most every CACHE_SECONDS."""
        now = time.monotonic()
        if now - self._cached_at >= CACHE_SECONDS:
            self._cached_at = now
            try:
                portals = self._read(f"{self.name}:portals") if self._portal_name else None
                self._rates = (
                    self._read(self.name).rate,
                    learning.pace(portals, caller=self._caller, now=time.time()) if portals else self.ceiling,
                )
            except Exception as exc:  # noqa: BLE001 - a store outage leaves the last rates in force
                log.warning("learned rates of %s unreadable (%s)", self.name, type(exc).__name__)
        return self._rates

    def _read(self, name: str) -> LearnedState:
        return LearnedState.decode(self._learned.read(name), ceiling=self.ceiling)

    def acquire(self, *, priority: Priority = Priority.REPLY) -> bool:
        if priority is Priority.BEST_EFFORT and not self._room_for_best_effort():
            return False
        if self.portal_budget is None:
            admitted = self.key_budget.acquire(priority=priority)
        else:
            admitted = acquire_both(self.portal_budget, self.key_budget, priority=priority)
        if admitted:
            self._thread.sent_at = time.time()
            self.used_at = time.monotonic()
        return admitted

    def slot_in(self) -> tuple[float, float]:
        """Seconds until the portal's budget and the key's each admit a call (0: now), read without taking
        either slot (the portal's is 0 outside a portal)."""
        portal = self.portal_budget.slot_in() if self.portal_budget is not None else 0.0
        return portal, self.key_budget.slot_in()

    def take_now(self) -> bool:
        """Both slots at this instant, or False without waiting: for a caller that never waits (the
        poller's watches; its other bots go meanwhile) and has just read both free with slot_in(), so the
        portal's slot is not read a second time before the key's is taken (one store call less a watch)."""
        if not self.key_budget.take_now():
            return False
        self.used_at = time.monotonic()
        return self.portal_budget is None or self.portal_budget.take_now()

    def _room_for_best_effort(self) -> bool:
        """Where a limit was learned, a best-effort call goes only into an idle budget: the platform's limit
        is near, and a portal's budget often has a single caller (its bot's cycle, one call after the
        other), so nobody else is waiting to show that the budget is short, yet every typing or reaction
        delays the next reply by a whole interval. At the ceiling the SharedBudget's rule alone applies."""
        key_rate, portal_rate = self.rates()
        for budget, rate in ((self.portal_budget, portal_rate), (self.key_budget, key_rate)):
            if budget is not None and rate < self.ceiling and not budget.is_idle():
                return False
        return True

    def room_in(self) -> float:
        """Seconds until a best-effort call would find room (0: now), read without taking a slot: where a
        limit was learned, until that budget is idle (_room_for_best_effort), else until its next slot."""
        key_rate, portal_rate = self.rates()
        waits = [
            budget.idle_in() if rate < self.ceiling else budget.slot_in()
            for budget, rate in ((self.portal_budget, portal_rate), (self.key_budget, key_rate))
            if budget is not None
        ]
        return max(waits)

    def record(self, *, limited: bool, sent_at: float | None = None) -> None:
        self.used_at = time.monotonic()
        try:
            if limited:
                self._flush()
                self._cut(sent_at=getattr(self._thread, "sent_at", 0.0) if sent_at is None else sent_at)
            else:
                now = time.monotonic()
                if self._pending and now - self._pending_since >= STALE_SECONDS:
                    self._flush()  # an earlier spell's calls, before this one starts a batch of its own
                with self._lock:
                    if not self._pending:
                        self._pending_since, self._pending_first_at = now, time.time()
                    self._pending += 1
                    # Batched only while this process calls faster than a flush a second: a call that
                    # comes later than that is told at once, not held until the process's next call
                    # (which, at a low limit shared by many processes, came too late to be measured).
                    due = now - self._flushed_at >= learning.FLUSH_SECONDS
                if due:
                    self._flush()
        except Exception as exc:  # noqa: BLE001 - a store outage must not fail the call it learns from
            _report_learn_failure(self.name, exc)

    def flush(self) -> None:
        """Tell the shared state about the calls accepted and not yet told (before this budget is dropped)."""
        try:
            self._flush()
        except Exception as exc:  # noqa: BLE001 - as in record: a store outage loses only what it learns
            _report_learn_failure(self.name, exc)

    def _update(self, name: str, change: Callable[[LearnedState], LearnedState]) -> LearnedState:
        text = self._learned.update(
            name, lambda old: change(LearnedState.decode(old, ceiling=self.ceiling)).encode()
        )
        return LearnedState.decode(text, ceiling=self.ceiling)

    def _flush(self) -> None:
        """Tell the shared state about the calls accepted since the last flush: they raise the rates, and
        they count in the measured rates unless they are STALE_SECONDS old (a process that went quiet
        holds the calls it made within a second of its last flush until its next call, and counting them
        then would inflate a window)."""
        with self._lock:
            count, self._pending = self._pending, 0
            self._flushed_at = time.monotonic()
            measure = self._flushed_at - self._pending_since < STALE_SECONDS
            first_at = self._pending_first_at
        if not count:
            return
        now, ceiling = time.time(), self.ceiling
        if not measure:
            self._update(self.name, lambda s: learning.raise_rate(s, count=count, now=now, ceiling=ceiling))
            if self._portal_name:
                self._update(
                    f"{self.name}:portals",
                    lambda s: learning.raise_rate(
                        s, count=count, now=now, ceiling=ceiling, caller=self._caller
                    ),
                )
            self._cached_at = 0.0
            return
        self._update(
            self.name,
            lambda s: learning.add_successes(s, count=count, now=now, ceiling=ceiling, first_at=first_at),
        )
        if self._portal_name:
            # This portal's window that just ended: its rate, and with the window before it.
            ended: list[tuple[float, float | None]] = []

            def count_mine(state: LearnedState) -> LearnedState:
                since, previous = state.since, state.prev
                state = learning.count_accepted(state, count=count, now=now, first_at=first_at)
                ended[:] = (
                    [(state.prev, learning.pair_rate(previous, state.prev))] if state.since != since else []
                )
                return state

            self._update(self._portal_name, count_mine)

            def raise_portals(state: LearnedState) -> LearnedState:
                for rate, pair in ended:  # the portals' bests: the best any single portal got through
                    learning.note_best(state, rate, now=now, pair=pair)
                return learning.raise_rate(state, count=count, now=now, ceiling=ceiling, caller=self._caller)

            self._update(f"{self.name}:portals", raise_portals)
        self._cached_at = 0.0

    def _cut(self, *, sent_at: float) -> None:
        """Cut the key's rate or the portals' (learning.blame decides) to a share of what got through."""
        now = time.time()
        key = self._read(self.name)
        portals = self._read(f"{self.name}:portals") if self._portal_name else None
        # The refused portal's own accepted rate: blame's evidence, and the portals' cut's basis.
        mine = learning.measured(self._read(self._portal_name), now) if self._portal_name else None
        scope = learning.blame(key=key, portals=portals, now=now, sent_at=sent_at, portal_rate=mine)
        if scope is learning.Scope.KEY:
            basis = learning.measured(key, now)
            key = self._update(self.name, lambda s: learning.cut(s, now=now, sent_at=sent_at, basis=basis))
            cut_budget, cut_rate = self.key_budget, key.rate
        elif scope is learning.Scope.PORTALS:
            assert self._portal_name is not None and self.portal_budget is not None
            portals = self._update(
                f"{self.name}:portals", lambda s: learning.cut(s, now=now, sent_at=sent_at, basis=mine)
            )
            cut_budget, cut_rate = self.portal_budget, portals.rate
        else:
            return  # an excess already acted upon
        self._cached_at = 0.0  # the deferral reads the cut rate, not this process's copy
        cut_budget.defer(1.0 / cut_rate)
        log.info(
            "429 for budget %s cut the %s rate: learned %.2f/s for the key, %s for each portal",
            self.name,
            scope.value,
            key.rate,
            f"{portals.rate:.2f}/s" if portals else "-",
        )

    def __repr__(self) -> str:
        return f"LearnedBudget(name={self.name!r}, ceiling={self.ceiling:g}, key={self.key_budget!r})"


def acquire_both(portal: SharedBudget, key: SharedBudget, *, priority: Priority) -> bool:
    """A slot in the portal's budget and in the key's at one moment, the call going out at once.

    Taken one after the other, the first slot would age while the call waits for the second, and the call
    would then reach the platform closer to the next call of the first budget than its interval (a limit
    of 1/s that admits no burst refuses it). So the portal's slot is only looked at until it is free, the
    key's waited for, and the portal's taken without waiting: if another call of the portal took it in the
    meantime, the key's slot goes unused and the call waits again."""
    deadline = portal.deadline(priority)
    while True:
        wait = portal.slot_in()
        if wait <= 0:
            if not key.acquire(priority=priority):
                return False  # a best-effort call the key's budget is short for
            if portal.take_now():
                return True
            wait = portal.slot_in()
        if time.monotonic() + wait > deadline:
            return portal.give_up(priority)
        time.sleep(wait + wake_late(priority))


def _report_learn_failure(name: str, error: Exception) -> None:
    """Calls whose answer could not be told to the shared store (Redis down): while it is, every call fails
    so, so this process says it once a while (botcore.vibe.outage_log), counting the rest."""
    unsaid = _learn_failures.due()
    if unsaid is not None:
        log.warning(
            "request budget %s could not learn (%s)%s", name, type(error).__name__, more_since(unsaid)
        )


_learn_failures = OutageLog()


def learned_rates(api_key: str, *, backend: str | None = None) -> LearnedRates:
    """The rates learned so far for `api_key` (the ceiling where nothing was learned yet)."""
    backend = resolve_backend(backend)
    ceiling = conf.vibe_budget_per_second()
    if backend == "off" or ceiling <= 0:
        return LearnedRates(key=0.0, per_portal=0.0, ceiling=0.0)
    store = learned_store(backend, conf.redis_url() if backend == "redis" else "")
    digest = key_digest(api_key)
    key = LearnedState.decode(store.read(digest), ceiling=ceiling).rate
    per_portal = LearnedState.decode(store.read(f"{digest}:portals"), ceiling=ceiling).rate
    return LearnedRates(key=key, per_portal=per_portal, ceiling=ceiling)


class PollShare:
    """The polls' budget: a share of the key's learned rate, spent at poll priority, never waiting: False
    when the share is spent right now (the poller and the pacer then try another key, or this one later)."""

    def __init__(self, budget: SharedBudget) -> None:
        self.budget = budget

    def slot_in(self) -> float:
        """Seconds until the share admits a poll (0: now)."""
        return self.budget.slot_in()

    def acquire(self, *, priority: Priority = Priority.POLL) -> bool:
        try:
            return self.budget.acquire(priority=priority)
        except VibeBudgetTimeoutError:  # max_wait 0: its next slot is not now
            return False

    def record(self, *, limited: bool, sent_at: float | None = None) -> None:
        return None

    def room_in(self) -> float:
        return self.budget.room_in()


def poll_budget_for_key(key_name: str, *, backend: str | None = None) -> PollShare | NoBudget:
    """The pacer's budget for polls of `key_name`: BOTCORE_POLL_BUDGET_SHARE of the learned key rate."""
    backend = resolve_backend(backend)
    if backend == "off":
        return NoBudget()
    digest = key_digest(f"pacer:{key_name}")
    redis_url = conf.redis_url() if backend == "redis" else ""
    cached: dict[str, Any] = {"at": 0.0, "rate": conf.vibe_budget_per_second()}

    def rate() -> float:
        if time.monotonic() - cached["at"] >= CACHE_SECONDS:
            cached["at"] = time.monotonic()
            try:
                cached["rate"] = learned_rates(key_name, backend=backend).key
            except Exception as exc:  # noqa: BLE001 - keep the last rate through a store outage
                log.warning("learned rate unreadable for the pacer (%s)", type(exc).__name__)
        return float(cached["rate"]) * conf.poll_budget_share()

    store = state_store(backend, digest, redis_url)
    return PollShare(
        SharedBudget(
            name=f"vibe-budget:{digest}",
            per_second=rate,
            burst=conf.vibe_budget_burst(),
            max_wait=0,
            store=store,
        )
    )
