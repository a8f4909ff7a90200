"""The fleet's event figures at scale: the last hour's chart and totals come from one read of its events,
counted by minute in the database (no Python call per row on SQLite), each event in the minute it arrived."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from botcore.models import Bot, EventLogEntry
from ops.fleet import gather_fleet
from tenants.models import Portal

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="Acme bot", status=Bot.Status.ACTIVE, vibe_bot_id=1)


def _store(bot: Bot, *received_at, status=EventLogEntry.Status.HANDLED) -> None:
    first = EventLogEntry.objects.count()
    EventLogEntry.objects.bulk_create(
        EventLogEntry(
            bot=bot, vibe_event_id=first + n, event_type="ONIMBOTV2MESSAGEADD", payload={}, status=status,
            received_at=moment, duration_ms=10,
        )
        for n, moment in enumerate(received_at)
    )  # fmt: skip


def test_each_event_counts_in_the_minute_it_arrived(bot):
    now = timezone.now().replace(second=30, microsecond=0)
    hour_ago = now - timedelta(hours=1)
    first_minute = hour_ago.replace(second=0) + timedelta(minutes=1)  # the chart's first bar
    _store(
        bot,
        first_minute,  # a whole minute: SQLite keeps it without a fraction of a second
        first_minute + timedelta(seconds=59, microseconds=999_999),
        first_minute + timedelta(minutes=1),
        now,  # the last bar: this minute, so far
        hour_ago + timedelta(seconds=1),  # within the hour, in the minute before the first bar
    )
    _store(bot, first_minute + timedelta(minutes=1, seconds=5), status=EventLogEntry.Status.FAILED)

    fleet = gather_fleet(now=now)

    assert fleet.events_per_minute[:3] == [2, 2, 0] and fleet.events_per_minute[-1] == 1
    assert sum(fleet.events_per_minute) == 5 and len(fleet.events_per_minute) == 60
    assert fleet.failures_per_minute[:3] == [0, 1, 0] and sum(fleet.failures_per_minute) == 1
    assert fleet.events_last_hour.value == 6 and fleet.failures_last_hour.value == 1


def test_the_hours_chart_and_totals_read_its_events_once(bot):
    _store(bot, *(timezone.now() - timedelta(minutes=m) for m in range(5)))

    with CaptureQueriesContext(connection) as queries:
        gather_fleet()

    read_log = [q["sql"] for q in queries if "botcore_eventlogentry" in q["sql"]]
    # The backlog; the hour by minute (the chart's two series, the two totals); the p95 (a count, then the
    # row at its place); the day's failures by skill and by portal. Each total and each series was a query
    # of its own over the hour's events (1-2 s on SQLite at 100,000 of them).
    assert len(read_log) == 6, read_log
    # Django's minute on SQLite is a Python function called for each row.
    assert not any("django_datetime_trunc" in sql for sql in read_log)
