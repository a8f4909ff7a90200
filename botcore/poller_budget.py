"""The poller's watches spend their key's request budget without ever waiting for it: a watch is admitted
on the budget's own thread, the platform's answer told back to learn from, and where the budget has no
slot free this instant the portal (or the whole key) is paused until its slot comes, so the dispatcher
serves other portals and keys meanwhile.

The same rule as the pacer's: the polls' share of the key's learned rate first, then the key's own turn
(and the portal's, where the limit may count per portal), at poll priority: a pause ends a little after
the slot, so a reply waiting in a cycle for the same slot takes it first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

from botcore import conf
from botcore.poller_fleet import BotRow
from botcore.vibe.budget import Priority, RequestBudget, wake_late
from botcore.vibe.key_budgets import budget_for_key, resolve_backend
from botcore.vibe.learned_budget import LearnedBudget, PollShare, poll_budget_for_key
from botcore.vibe.watch import WatchAuth

# A pause is never longer: the learned rate may rise meanwhile, and a slot read a moment ago may have come.
MAX_PAUSE_SECONDS = 1.0
MIN_PAUSE_SECONDS = 0.005  # a slot "now" that was not free after all is not asked for again at once


@dataclasses.dataclass(frozen=True)
class Spent:
    """What one watch spent: the budget its answer is told to (None where no budget is set), and when the
    call went out (its own moment: the budget thread admits other watches before this one's answer)."""

    budget: RequestBudget | None
    sent_at: float


UNBUDGETED = Spent(budget=None, sent_at=0.0)  # every watch where no budget is set: nothing to allocate


@dataclasses.dataclass(frozen=True)
class _Pause:
    """A watch refused: its key's polls (portal None) or only its portal's wait until the time.monotonic()
    `until`."""

    portal: str | None
    until: float

    @classmethod
    def lasting(cls, seconds: float, *, portal: str | None) -> _Pause:
        """A pause ending a little after the slot `seconds` away, so a reply waiting in a cycle for the same
        slot takes it first; within MIN_PAUSE_SECONDS and MAX_PAUSE_SECONDS."""
        seconds = min(MAX_PAUSE_SECONDS, max(MIN_PAUSE_SECONDS, seconds + wake_late(Priority.POLL)))
        return cls(portal=portal, until=time.monotonic() + seconds)


class WatchBudget:
    def __init__(self) -> None:
        self.enabled = conf.vibe_budget_per_second() > 0 and resolve_backend() != "off"
        # (key name, portal or None for the whole key): the time.monotonic() its watches may go again.
        # Written and pruned on the budget's thread alone, as it decides a pause, and read by the loop's
        # dispatcher: the watches a pause's end released together may be queued on that thread before the
        # first refusal reaches the loop, and are refused from it without reading the budget's store (a
        # transaction on the database backend) to learn what it had just learnt. At most one entry per key
        # and portal ever paused.
        self.paused_until: dict[tuple[str, str | None], float] = {}
        # One poll share per key, kept as the pacer keeps its own: built afresh for each watch, a share
        # read the learned rate from the store on every watch, and on the in-process backend ("local")
        # had a store of its own each time, so it never said no.
        self._poll_shares: dict[str, PollShare] = {}
        # Keys with a watch on its way to the budget (may_start claims, the poller releases once admit() is
        # over): the poller starts the key's other watches after it.
        self.admitting: set[str] = set()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="poller-budget")

    def may_start(self, row: BotRow) -> bool:
        """Whether a watch of `row` may start now: no other watch of its key is on its way to the budget.
        A yes claims the key for this watch (the poller releases it once the watch's admit() is over), as
        the watch is started, before its task runs: the dispatcher starts many in one turn."""
        if not self.enabled:
            return True
        if row.key_name in self.admitting:
            return False
        self.admitting.add(row.key_name)
        return True

    async def admit(self, row: BotRow, auth: WatchAuth) -> Spent | None:
        """The budget a watch of `row` spends; None when no slot is free now (its portal or key paused)."""
        if not self.enabled:
            return UNBUDGETED
        loop = asyncio.get_running_loop()
        taken = await loop.run_in_executor(self._thread, self._take, row, auth)
        if taken is None:
            return None
        return Spent(budget=taken, sent_at=time.time())

    def _take(self, row: BotRow, auth: WatchAuth) -> RequestBudget | None:
        """The slots of a watch of `row` taken at this instant, or None where it meets a pause (a new one is
        kept in paused_until); never waits: waiting here, for one portal's slot, held every other watch of
        the poller back. Runs on the budget's thread."""
        now = time.monotonic()
        paused = self.paused_until
        for scope in ((row.key_name, None), (row.key_name, row.member_id)):
            until = paused.get(scope, 0.0)
            if until > now:
                return None
            if until:
                del paused[scope]
        taken = self._take_from_budget(row, auth)
        if isinstance(taken, _Pause):
            paused[(row.key_name, taken.portal)] = taken.until
            return None
        return taken

    def _take_from_budget(self, row: BotRow, auth: WatchAuth) -> RequestBudget | _Pause:
        # Named after the key the watch spends, as the pacer names it: a personal key's polls read the rate
        # learned under that key.
        share = self._poll_shares.get(auth.api_key)
        if share is None:
            made = poll_budget_for_key(auth.api_key)
            assert isinstance(made, PollShare), "the budget is on (self.enabled)"
            share = self._poll_shares[auth.api_key] = made
        budget = budget_for_key(auth.api_key, portal=row.member_id)
        if not isinstance(budget, LearnedBudget):
            return budget  # no budget after all (a setting changed): nothing to wait for
        portal_wait, key_wait = budget.slot_in()
        if portal_wait > 0:
            return _Pause.lasting(portal_wait, portal=row.member_id)
        if key_wait > 0:
            return _Pause.lasting(key_wait, portal=None)
        if not share.acquire(priority=Priority.POLL):
            return _Pause.lasting(share.slot_in(), portal=None)
        if not budget.take_now():  # another process took the slot in the meantime
            return _Pause.lasting(0.0, portal=None)
        return budget

    def record(self, spent: Spent, *, limited: bool) -> None:
        """Tell the platform's answer (a 429 or not) to the budget, on the thread that admitted the call."""
        if spent.budget is not None:
            self._thread.submit(spent.budget.record, limited=limited, sent_at=spent.sent_at)

    def paused_till(self, row: BotRow, now: float) -> float:
        """The time.monotonic() a watch of `row` may go: the end of its key's pause or its portal's, whichever
        is later, when one is on at `now`; 0.0 when neither is."""
        paused = self.paused_until  # the loop reads it; the budget's thread writes and prunes it
        if not paused:  # most looks, where the budget is not short
            return 0.0
        end = max(paused.get((row.key_name, None), 0.0), paused.get((row.key_name, row.member_id), 0.0))
        return end if end > now else 0.0

    def close(self) -> None:
        self._thread.shutdown(wait=True)
