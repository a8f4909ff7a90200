"""The poller's watches spend their key's poll share: one share per key, kept between watches."""

from __future__ import annotations

import asyncio
import uuid

from django.utils import timezone

from botcore.poller_budget import WatchBudget
from botcore.poller_fleet import BotRow
from botcore.vibe.watch import WatchAuth


def row(pk: int) -> BotRow:
    return BotRow(
        pk=pk, vibe_bot_id=pk, active=True, member_id=f"m{pk}", key_name="key", credential_kind="session",
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
    assert second is None and budget.is_paused("key", 0.0)
