"""The poller's watches spend their key's request budget: admitted on the budget's own thread, the platform's
answer told back to learn from, and a key whose share is spent for the moment paused, so the dispatcher
serves other keys meanwhile instead of asking again in a tight loop.

The same rule as the pacer's: the polls' share of the key's learned rate first (never waiting), then the
key's own turn, at poll priority.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

from botcore import conf
from botcore.poller_fleet import BotRow
from botcore.vibe.budget import Priority, RequestBudget
from botcore.vibe.errors import VibeBudgetTimeoutError
from botcore.vibe.key_budgets import budget_for_key, resolve_backend
from botcore.vibe.learned_budget import poll_budget_for_key
from botcore.vibe.watch import WatchAuth

PAUSE_SECONDS = 0.1  # a key refused a watch is not asked again sooner


@dataclasses.dataclass(frozen=True)
class Spent:
    """What one watch spent: the budget its answer is told to (None where no budget is set), and when the
    call went out (its own moment: the budget thread admits other watches before this one's answer)."""

    budget: RequestBudget | None
    sent_at: float


UNBUDGETED = Spent(budget=None, sent_at=0.0)  # every watch where no budget is set: nothing to allocate


class WatchBudget:
    def __init__(self) -> None:
        self.enabled = conf.vibe_budget_per_second() > 0 and resolve_backend() != "off"
        self.paused_until: dict[str, float] = {}  # key name: time.monotonic() its share may be asked again
        # One poll share per key, kept as the pacer keeps its own: built afresh for each watch, a share
        # read the learned rate from the store on every watch, and on the in-process backend ("local")
        # had a store of its own each time, so it never said no.
        self._poll_shares: dict[str, RequestBudget] = {}
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="poller-budget")

    async def admit(self, row: BotRow, auth: WatchAuth) -> Spent | None:
        """The budget a watch of `row` spends; None, and its key paused, when the key's share is spent."""
        if not self.enabled:
            return UNBUDGETED
        loop = asyncio.get_running_loop()
        budget = await loop.run_in_executor(self._thread, self._acquire, row, auth)
        if budget is None:
            self.paused_until[row.key_name] = time.monotonic() + PAUSE_SECONDS
            return None
        return Spent(budget=budget, sent_at=time.time())

    def _acquire(self, row: BotRow, auth: WatchAuth) -> RequestBudget | None:
        # Named after the key the watch spends, as the pacer names it: a personal key's polls read the rate
        # learned under that key.
        share = self._poll_shares.get(auth.api_key)
        if share is None:
            share = self._poll_shares[auth.api_key] = poll_budget_for_key(auth.api_key)
        if not share.acquire(priority=Priority.POLL):
            return None
        budget = budget_for_key(auth.api_key, portal=row.member_id)
        try:
            return budget if budget.acquire(priority=Priority.POLL) else None
        except VibeBudgetTimeoutError:
            return None

    def record(self, spent: Spent, *, limited: bool) -> None:
        """Tell the platform's answer (a 429 or not) to the budget, on the thread that admitted the call."""
        if spent.budget is not None:
            self._thread.submit(spent.budget.record, limited=limited, sent_at=spent.sent_at)

    def is_paused(self, key_name: str, now: float) -> bool:
        return self.paused_until.get(key_name, 0.0) > now

    def next_resume(self) -> float:
        """The time.monotonic() the first paused key may be asked again."""
        return min(self.paused_until.values(), default=0.0)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
