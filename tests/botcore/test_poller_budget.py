"""The poller's watches spend their key's budget without waiting for it: one poll share per key, kept
between watches, and a portal whose slot is not free paused alone."""

from __future__ import annotations

import asyncio
import time
import uuid

from django.utils import timezone

from botcore.poller_budget import WatchBudget
from botcore.poller_fleet import BotRow
from botcore.vibe.budget import key_digest
from botcore.vibe.key_budgets import learned_store
from botcore.vibe.learned_budget import LearnedBudget
from botcore.vibe.learning import LearnedState
from botcore.vibe.watch import WatchAuth


def row(pk: int, portal: str | None = None) -> BotRow:
    return BotRow(
        pk=pk, vibe_bot_id=pk, active=True, member_id=portal or f"m{pk}", key_name="key",
        credential_kind="session",
        offset=0, next_poll_at=timezone.now(), leased=False, backoff_until=None, last_event_at=None,
    )  # fmt: skip


def test_back_to_back_watches_of_one_key_share_its_poll_share(settings):
    """At 2/s with a poll share of a half, polls get one call a second: the second watch at once waits.
    Built afresh for each watch, the share had a new in-process store each time and never said no."""
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.VIBE_BUDGET_PER_SECOND = 2.0
    settings.BOTCORE_POLL_BUDGET_SHARE = 0.5
    auth = WatchAuth(api_key=f"vibe_app_{uuid.uuid4().hex}", session_token="s")
    budget = WatchBudget()

    async def two_watches() -> list[object]:
        return [await budget.admit(row(1), auth), await budget.admit(row(2), auth)]

    try:
        first, second = asyncio.run(two_watches())
    finally:
        budget.close()
    assert first is not None
    assert second is None and budget.paused_till(row(2), time.monotonic()) > 0


def test_a_watch_whose_portal_has_no_slot_pauses_that_portal_and_holds_no_other_back(settings):
    """The portals' learned rate is 0.2/s: a second watch in portal A has its slot 5 s away. It is refused
    at once, portal A alone paused, and portal B's watch goes. Waiting for A's slot on the budget's one
    thread, the poller held every other portal's watch back meanwhile (a portal unwatched for a minute
    and more under a limit of 1/s per key), and a wait past VIBE_BUDGET_MAX_WAIT paused the whole key."""
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.VIBE_BUDGET_PER_SECOND = 1000.0
    settings.VIBE_BUDGET_MAX_WAIT = 1.0
    settings.BOTCORE_POLL_BUDGET_SHARE = 1.0
    auth = WatchAuth(api_key=f"vibe_app_{uuid.uuid4().hex}", session_token="s")
    slow = LearnedState(rate=0.2, peak=0.25).encode()
    learned_store("local", "").update(f"{key_digest(auth.api_key)}:portals", lambda old: slow)
    budget = WatchBudget()

    async def watches() -> list[object]:
        first = await budget.admit(row(1, "A"), auth)
        await asyncio.sleep(0.01)  # the key's own slot (1 ms at 1,000/s) is free again
        again, other = await asyncio.gather(budget.admit(row(2, "A"), auth), budget.admit(row(3, "B"), auth))
        return [first, again, other]

    try:
        first, again, other = asyncio.run(watches())
    finally:
        budget.close()
    assert first is not None and other is not None
    assert again is None
    assert budget.paused_till(row(2, "A"), time.monotonic()) > 0
    assert budget.paused_till(row(3, "B"), time.monotonic()) == 0.0


def test_watches_of_a_paused_key_are_refused_without_reading_its_budget_again(settings, monkeypatch):
    """When a key's pause ends, every bot it held is due at once and the dispatcher starts their watches
    together, their admissions queued on the budget's thread before the first refusal is back on the loop.
    Each read the key's budget (a transaction on the database store) to learn what the first had just
    learnt: 200 idle bots at a key's limit spent a third of a core on it. After one refusal the rest are
    refused from what it left, with the pause it set."""
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.VIBE_BUDGET_PER_SECOND = 2.0
    settings.BOTCORE_POLL_BUDGET_SHARE = 0.5
    auth = WatchAuth(api_key=f"vibe_app_{uuid.uuid4().hex}", session_token="s")
    budget = WatchBudget()
    reads = {"slot_in": 0}
    real_slot_in = LearnedBudget.slot_in

    def counted_slot_in(self):
        reads["slot_in"] += 1
        return real_slot_in(self)

    monkeypatch.setattr(LearnedBudget, "slot_in", counted_slot_in)

    async def herd() -> list[object]:
        first = await budget.admit(row(1, "A"), auth)
        rest = await asyncio.gather(*(budget.admit(row(pk, f"p{pk}"), auth) for pk in range(2, 42)))
        return [first, *rest]

    try:
        first, *rest = asyncio.run(herd())
    finally:
        budget.close()
    assert first is not None
    assert rest == [None] * 40
    assert reads["slot_in"] <= 2  # the first watch's and the first refused one's
    assert budget.paused_till(row(41, "p41"), time.monotonic()) > 0
