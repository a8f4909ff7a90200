"""How far the portal's clock runs from ours, read from a bot's event log: each message's date against when
the bot received it (botcore.selectors.estimate_platform_clock_lead)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from botcore.models import Bot, EventLogEntry
from botcore.selectors import estimate_platform_clock_lead
from tenants.models import Portal

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="B", vibe_bot_id=100, status=Bot.Status.ACTIVE)


def receive(bot: Bot, *deliveries: tuple[timedelta, timedelta]) -> None:
    """Messages received now and earlier: each (how long ago it was received, its date less its receipt)."""
    now = timezone.now()
    start = EventLogEntry.objects.filter(bot=bot).count()
    for n, (ago, lead) in enumerate(deliveries, start=start + 1):
        EventLogEntry.objects.create(
            bot=bot, vibe_bot_id=bot.vibe_bot_id, vibe_event_id=n, event_type="ONIMBOTV2MESSAGEADD",
            payload={}, message_id=1000 + n, received_at=now - ago, occurred_at=now - ago + lead,
        )  # fmt: skip


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def test_a_clock_that_agrees_with_ours_reads_as_none_whatever_the_deliveries_took(bot):
    assert estimate_platform_clock_lead(bot) == timedelta(0)  # no events: nothing to tell
    receive(bot, (MINUTE, seconds(-1)), (2 * MINUTE, seconds(-14)), (3 * MINUTE, seconds(-3)))
    assert estimate_platform_clock_lead(bot) == timedelta(0)


def test_a_clock_ahead_is_read_from_one_event_the_quickest_delivery_less(bot):
    """A date after the message's receipt is the clock's alone: no delivery explains it."""
    receive(bot, (MINUTE, seconds(118)))
    assert estimate_platform_clock_lead(bot) == seconds(118)
    receive(bot, (30 * MINUTE, seconds(119)), (20 * MINUTE, seconds(100)))
    assert estimate_platform_clock_lead(bot) == seconds(119)


def test_a_clock_behind_is_read_from_several_events_past_what_a_delivery_takes(bot):
    receive(bot, (MINUTE, seconds(-121)), (2 * MINUTE, seconds(-125)))
    assert estimate_platform_clock_lead(bot) == timedelta(0)  # two slow deliveries, or a clock: not told
    receive(bot, (3 * MINUTE, seconds(-140)))
    assert estimate_platform_clock_lead(bot) == seconds(-121)


def test_events_held_up_or_dated_far_off_or_old_tell_nothing_of_the_clock(bot):
    """An outage delivers the messages written during it late: their dates are no clock's."""
    receive(bot, *[(MINUTE * n, -15 * MINUTE) for n in range(1, 6)])  # polled 15 minutes late
    receive(bot, (2 * MINUTE, timedelta(hours=3)))  # a date three hours ahead: means something else
    receive(bot, *[(timedelta(days=2), seconds(90)) for _ in range(3)])  # a clock since set right
    assert estimate_platform_clock_lead(bot) == timedelta(0)
