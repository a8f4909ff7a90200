"""Schedules across daylight saving: each local firing fires exactly once; a skipped local time fires at the
first valid minute after it, a repeated one at its first occurrence only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from botcore.models import Bot, SkillRun
from botcore.services.skill_configs import configure_skill
from botcore.services.skill_schedules import latest_firing, sweep_schedules
from botcore.skills.cron import CronExpression, portal_zone
from tenants.models import Portal, PortalSettings

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def firings(cron_text: str, zone: ZoneInfo, *, start: datetime, end: datetime) -> list[datetime]:
    """Every instant a once-a-minute sweep over [start, end) would see as a new firing."""
    cron = CronExpression.parse(cron_text)
    found: list[datetime] = []
    minute = start
    while minute < end:
        due = latest_firing(cron, zone, after=minute - timedelta(minutes=15), until=minute)
        if due is not None and due not in found:
            found.append(due)
        minute += timedelta(minutes=1)
    return found


@pytest.mark.parametrize(
    ("zone", "day", "fires_at"),
    [
        # Berlin jumps from 02:00 to 03:00 (+01:00 → +02:00) at 01:00 UTC: 02:30 never exists that night.
        (BERLIN, datetime(2030, 3, 31, tzinfo=UTC), datetime(2030, 3, 31, 1, 0, tzinfo=UTC)),
        # New York jumps from 02:00 to 03:00 (-05:00 → -04:00) at 07:00 UTC.
        (NEW_YORK, datetime(2030, 3, 10, tzinfo=UTC), datetime(2030, 3, 10, 7, 0, tzinfo=UTC)),
    ],
)
def test_a_skipped_local_time_fires_once_at_the_first_valid_minute_after_it(zone, day, fires_at):
    found = firings("30 2 * * *", zone, start=day - timedelta(hours=6), end=day + timedelta(hours=12))
    assert found == [fires_at]
    assert fires_at.astimezone(zone).strftime("%H:%M") == "03:00"


@pytest.mark.parametrize(
    ("zone", "cron_text", "day", "fires_at"),
    [
        # Berlin goes back from 03:00 to 02:00 at 01:00 UTC: 02:30 happens at 00:30 and 01:30 UTC.
        (BERLIN, "30 2 * * *", datetime(2030, 10, 27, tzinfo=UTC), datetime(2030, 10, 27, 0, 30, tzinfo=UTC)),
        # New York goes back from 02:00 to 01:00 at 06:00 UTC: 01:30 happens at 05:30 and 06:30 UTC.
        (NEW_YORK, "30 1 * * *", datetime(2030, 11, 3, tzinfo=UTC), datetime(2030, 11, 3, 5, 30, tzinfo=UTC)),
    ],
)
def test_a_repeated_local_time_fires_once_at_its_first_occurrence(zone, cron_text, day, fires_at):
    found = firings(cron_text, zone, start=day - timedelta(hours=6), end=day + timedelta(hours=12))
    assert found == [fires_at]


def test_every_minute_of_the_repeated_hour_fires_once_and_the_skipped_hour_collapses_to_one_firing():
    night = datetime(2030, 10, 27, tzinfo=UTC)
    found = firings("*/15 2 * * *", BERLIN, start=night - timedelta(hours=2), end=night + timedelta(hours=4))
    assert [due.astimezone(BERLIN).strftime("%H:%M%z") for due in found] == [
        "02:00+0200",
        "02:15+0200",
        "02:30+0200",
        "02:45+0200",
    ]
    spring = datetime(2030, 3, 31, tzinfo=UTC)
    found = firings(
        "*/15 2,3 * * *", BERLIN, start=spring - timedelta(hours=2), end=spring + timedelta(hours=4)
    )
    # 02:00-02:45 never exist: they fire once, at 03:00, together with 03:00's own firing.
    assert [due.astimezone(BERLIN).strftime("%H:%M") for due in found] == ["03:00", "03:15", "03:30", "03:45"]


def test_ordinary_days_are_unchanged():
    day = datetime(2030, 6, 12, tzinfo=UTC)
    assert firings("30 2 * * *", BERLIN, start=day, end=day + timedelta(days=1)) == [
        datetime(2030, 6, 12, 0, 30, tzinfo=UTC)
    ]


@pytest.fixture
def standup_only(settings):
    settings.BOTCORE_SKILLS = ["botcore.skills.builtin.standup.StandupSkill"]


def make_portal(member_id: str, tz: str) -> Portal:
    portal = Portal.objects.create(
        member_id=member_id, vibe_portal_id=f"vp-{member_id}", domain=f"{member_id}.example"
    )
    PortalSettings.objects.create(portal=portal, timezone=tz)
    Bot.objects.create(portal=portal, code="vibe_bot", name="Bot", vibe_bot_id=1, status=Bot.Status.ACTIVE)
    configure_skill(
        portal,
        skill_name="standup",
        is_enabled=True,
        options={"chat": "chat1", "ask_at": "02:30", "report_at": "05:00", "weekdays": [1, 2, 3, 4, 5, 6, 7]},
    )
    return portal


def sweep_night(start: datetime, hours: int) -> None:
    """The minute sweep as the django-q2 schedule runs it: on the clock, once a minute, for `hours`."""
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(hours * 60):
            sweep_schedules()
            clock.shift(timedelta(minutes=1))


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("night", "local_due"),
    [
        (datetime(2030, 3, 30, 22, 0, tzinfo=UTC), ["2030-03-31T03:00:00+02:00"]),
        (datetime(2030, 10, 26, 22, 0, tzinfo=UTC), ["2030-10-27T02:30:00+02:00"]),
        (datetime(2030, 6, 11, 22, 0, tzinfo=UTC), ["2030-06-12T02:30:00+02:00"]),
    ],
)
def test_the_sweep_on_the_clock_asks_once_on_a_daylight_saving_night(
    standup_only, task_queue, night, local_due
):
    make_portal("berlin", "Europe/Berlin")
    sweep_night(night, hours=5)
    asks = SkillRun.objects.filter(skill_name="standup", payload__schedule="ask")
    assert sorted(run.payload["local_due_at"] for run in asks) == local_due


@pytest.mark.parametrize(
    ("kept_zone", "fold_back_offset"),
    [
        # The zone it fired in: 09:00 that day is read with the change (-05:00), not the question's -04:00.
        ("America/New_York", "-05:00"),
        # Claimed before the zone was kept, or on a host whose zone database lacks it: the offset alone, never
        # another zone's wall time (UTC's would move the question to 05:30 and the day's summary with it).
        ("", "-04:00"),
        ("Mars/Olympus_Mons", "-04:00"),
    ],
)
def test_a_firing_reads_on_the_clock_it_fired_on(kept_zone, fold_back_offset):
    from datetime import time

    from botcore.services.skill_runs import build_event

    payload = {
        "schedule": "ask",
        "due_at": "2026-11-01T05:30:00+00:00",
        "local_due_at": "2026-11-01T01:30:00-04:00",
    }
    if kept_zone:
        payload["timezone"] = kept_zone
    run = SkillRun(portal=Portal(member_id="ny"), kind=SkillRun.Kind.SCHEDULED, run_key="k", payload=payload)
    local = build_event(run, language="en").local_due_at
    assert local.isoformat() == "2026-11-01T01:30:00-04:00"
    later = datetime.combine(local.date(), time(9, 0), tzinfo=local.tzinfo)
    assert later.isoformat()[-6:] == fold_back_offset


def test_portal_zones_resolve_from_the_apps_own_zone_database_not_only_the_hosts():
    """The image's base (deploy/Dockerfile, python:3.11-slim, Debian trixie since August 2025) has no legacy
    zone names (US/Eastern, Europe/Kiev), and a minimal host may have no zone database at all: a portal's zone
    the host lacked read as UTC, silently, and its standup ran hours off the time its settings page showed."""
    import zoneinfo

    keys = ["Pacific/Chatham", "US/Samoa"]  # none of the project's other tests reads these
    try:
        zoneinfo.reset_tzpath(to=[])  # as a host without /usr/share/zoneinfo
        zoneinfo.ZoneInfo.clear_cache(only_keys=keys)
        assert [portal_zone(key).key for key in keys] == keys
        assert set(keys) <= zoneinfo.available_timezones()  # the portal page's choice (tenants/forms.py)
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache(only_keys=keys)
