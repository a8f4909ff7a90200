"""The minute sweep's in-doubt notices under load: a bot told within the window does not hold back one that
waits, and a flood of entries left in doubt costs the sweep the same few queries as one does.

Counted: the notices the sweep hands over for delivery (one per bot told), and the sweep's queries.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from botcore.models import Bot, EventLogEntry
from botcore.services import doubt_notices
from botcore.services.doubt_notices import send_doubt_notices
from tests.botcore.skills.test_portal_admin import make_portal

pytestmark = pytest.mark.django_db

PRIVATE = {"id": 87, "dialogId": "12", "type": "private"}


def running_bot(member_id: str) -> Bot:
    return Bot.objects.create(
        portal=make_portal(member_id), code="b", name="bot", status=Bot.Status.ACTIVE, vibe_bot_id=7
    )


def left_in_doubt(bot: Bot, count: int, *, due, noticed=None, received=None) -> None:
    EventLogEntry.objects.bulk_create(
        EventLogEntry(
            bot=bot,
            vibe_event_id=bot.pk * 100_000 + number + (0 if noticed is None else 50_000),
            event_type="ONIMBOTV2MESSAGEADD",
            payload={"type": "ONIMBOTV2MESSAGEADD", "data": {"dialogId": "12", "chat": PRIVATE}},
            status=EventLogEntry.Status.FAILED,
            skill="uploads",
            left_in_doubt="post",
            doubt_notice_due_at=None if noticed is not None else due,
            doubt_noticed_at=noticed,
            received_at=(received or timezone.now()) + timedelta(milliseconds=number),
        )
        for number in range(count)
    )


@pytest.fixture
def delivered(monkeypatch) -> list[tuple[int, int, int]]:
    """Each notice the sweep hands over: (bot, first entry, how many more), told to one admin."""
    handed: list[tuple[int, int, int]] = []

    def deliver(bot, first, more, **_):
        handed.append((bot.pk, first.pk, more))
        return 1, False

    monkeypatch.setattr(doubt_notices, "_deliver", deliver)
    return handed


def test_a_bot_told_within_the_window_does_not_hold_back_one_that_waits(delivered):
    """The sweep looks at `limit` bots a minute. A bot told within the window, with more entries waiting for
    the window's end, took its places and was skipped: a bot never told, whose entry came before them,
    waited behind it for the whole window (and behind as many such bots as the limit, in an outage that
    fails many portals' writes at once)."""
    now = timezone.now()
    told, waiting = running_bot("told"), running_bot("waiting")
    left_in_doubt(waiting, 1, due=now - timedelta(seconds=50), received=now - timedelta(seconds=50))
    before_its_notice = now - timedelta(seconds=70)
    left_in_doubt(told, 1, due=None, noticed=now - timedelta(seconds=60), received=before_its_notice)
    left_in_doubt(told, 2, due=now - timedelta(seconds=30), received=now - timedelta(seconds=30))

    assert send_doubt_notices(now, limit=2) == 1
    assert [bot for bot, _first, _more in delivered] == [waiting.pk]


def test_a_flood_in_one_bot_does_not_hold_back_another_bots_notice(delivered):
    """The sweep's `limit` counted entries, not bots (the event log's ordering joined received_at to the
    DISTINCT): a bot with a burst newer than another's entry took every place, and the other was told only
    once the burst was."""
    now = timezone.now()
    flooding, waiting = running_bot("flooding"), running_bot("waiting")
    left_in_doubt(waiting, 1, due=now - timedelta(seconds=50), received=now - timedelta(seconds=50))
    left_in_doubt(flooding, 5, due=now - timedelta(seconds=30), received=now - timedelta(seconds=30))

    assert send_doubt_notices(now, limit=2) == 2
    assert sorted(bot for bot, _first, _more in delivered) == sorted([flooding.pk, waiting.pk])


def test_a_flood_left_in_doubt_costs_the_sweep_the_queries_of_one(delivered):
    """Every entry of a burst was loaded with its payload and claimed by an UPDATE of its own: the sweep's
    work grew with the flood (10,000 entries, 10,000 statements inside the minute sweep, which also fires
    every skill's schedules), though the notice tells the first and counts the rest."""
    now = timezone.now()
    few, many = running_bot("few"), running_bot("many")
    left_in_doubt(few, 2, due=now - timedelta(seconds=30))
    left_in_doubt(many, 60, due=now - timedelta(seconds=30))

    with CaptureQueriesContext(connection) as for_few:
        assert send_doubt_notices(now, limit=1) == 1
    with CaptureQueriesContext(connection) as for_many:
        assert send_doubt_notices(now, limit=1) == 1

    told = {bot: more for bot, _first, more in delivered}
    assert told == {few.pk: 1, many.pk: 59}
    assert len(for_many.captured_queries) == len(for_few.captured_queries)
    assert not EventLogEntry.objects.filter(doubt_noticed_at__isnull=True).exclude(left_in_doubt="").exists()


def test_the_notice_tells_the_oldest_entry_and_a_claimed_burst_is_not_told_twice(delivered):
    """Two sweeps at once (two qclusters' minutes): the second finds the burst claimed and sends nothing."""
    now = timezone.now()
    bot = running_bot("acme")
    left_in_doubt(bot, 3, due=now - timedelta(seconds=30))
    oldest = EventLogEntry.objects.filter(bot=bot).order_by("received_at", "pk").first()
    real_settle = doubt_notices._settle
    seen_by_second: list[int] = []

    def settle_after_a_second_sweep(batch, when):
        seen_by_second.append(send_doubt_notices(now))  # the claim holds while the first delivers
        real_settle(batch, when)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(doubt_notices, "_settle", settle_after_a_second_sweep)
        assert send_doubt_notices(now) == 1
    assert seen_by_second == [0]
    assert delivered == [(bot.pk, oldest.pk, 2)]
