"""standup across the clock's awkward days, against the sandbox: the minute sweep run once a minute through
a whole local day (daylight saving nights, a half-hour zone, a zone without daylight saving), each question
and summary counted as the platform shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from botcore.services.skill_configs import configure_skill
from botcore.services.skill_schedules import sweep_schedules
from tenants.models import PortalSettings
from tests.botcore.skills.conftest import STANDUP_WITH_HELP_AND_ECHO


def is_question(text: str) -> bool:
    """The day's question, whatever the hour's greeting (in English or Russian: Boris reads Russian)."""
    return "What did you do yesterday" in text or "Что вы сделали вчера" in text


@pytest.fixture
def skill_paths():
    return STANDUP_WITH_HELP_AND_ECHO


@pytest.fixture
def clock(request):
    """Started before the sandbox portal (its session, a day long, is issued on the moved clock): the local
    day's 00:00, or the test's `start_at`."""
    params = request.node.callspec.params
    start = wall(params["day"], params.get("start_at", "00:00"), ZoneInfo(params["zone_name"]))
    traveller = time_machine.travel(start, tick=True)
    yield traveller.start()
    traveller.stop()


def assert_one_summary_with_the_answer(world, team: dict) -> None:
    summaries = [m["text"] for m in world.chat_messages(team["id"]) if m["text"].startswith("[b]Standup for")]
    assert len(summaries) == 1
    assert "[b]Alice Admin[/b]: answer" in summaries[0].splitlines()


def wall(day: date, at: str, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.fromisoformat(at), tzinfo=zone).astimezone(UTC)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("zone_name", "day", "ask_at", "report_at"),
    [
        # New York falls back 02:00 → 01:00: the question at 01:30 EDT, the summary at 09:00 EST.
        ("America/New_York", date(2026, 11, 1), "01:30", "09:00"),
        ("America/New_York", date(2026, 11, 1), "09:30", "17:30"),
        # New York springs forward 02:00 → 03:00: 02:30 never exists, the question goes at 03:00.
        ("America/New_York", date(2027, 3, 14), "01:30", "09:00"),
        ("America/New_York", date(2027, 3, 14), "02:30", "09:00"),
        # Berlin falls back 03:00 → 02:00 and springs forward 02:00 → 03:00.
        ("Europe/Berlin", date(2026, 10, 25), "01:30", "09:00"),
        ("Europe/Berlin", date(2027, 3, 28), "01:30", "09:00"),
        # Adelaide (+09:30/+10:30) falls back 03:00 → 02:00; Kolkata (+05:30) and Moscow keep their clocks.
        ("Australia/Adelaide", date(2027, 4, 4), "01:30", "09:00"),
        ("Asia/Kolkata", date(2026, 11, 1), "09:30", "17:30"),
        ("Europe/Moscow", date(2026, 10, 25), "01:30", "09:00"),
    ],
)
def test_on_the_clocks_awkward_days_each_question_and_summary_goes_once_and_answers_count_until_it(
    clock, world, task_queue, zone_name, day, ask_at, report_at
):
    zone = ZoneInfo(zone_name)
    report = wall(day, report_at, zone)
    answer_at, after_summary = report - timedelta(minutes=30), report + timedelta(minutes=30)
    start = wall(day, "00:00", zone)
    sp = world.sp
    PortalSettings.objects.update_or_create(portal=sp.portal, defaults={"timezone": zone_name})
    team = world.team(quiet_member="Carol Quiet")
    every_day = [1, 2, 3, 4, 5, 6, 7]  # clocks change on Sundays
    options = {"chat": f"chat{team['id']}", "ask_at": ask_at, "report_at": report_at, "weekdays": every_day}
    configure_skill(sp.portal, skill_name="standup", is_enabled=True, options=options)
    task_queue.run()
    now = start
    while now < start + timedelta(hours=26):  # the sweep as django-q2 runs it: once a minute
        clock.move_to(now)
        if now in (answer_at, after_summary):
            world.say("answer" if now == answer_at else "evening")
            world.poll()
        if sweep_schedules():
            task_queue.run()
        now += timedelta(minutes=1)
    questions = [m for m in world.messages() if is_question(m["text"])]
    assert len(questions) == 3  # Alice, Boris and Carol, once each
    assert_one_summary_with_the_answer(world, team)
    shown = [m["text"] for m in world.messages()]
    assert "Alice, you wrote: [i]answer[/i]" not in shown  # the standup took it, not echo
    assert "Alice, you wrote: [i]evening[/i]" in shown  # after the summary: echo's again


@pytest.mark.slow
@pytest.mark.parametrize(
    ("zone_name", "day", "start_at", "change"),
    [
        # At 12:00 the summary moves later, or the portal to a zone where the day's times come again (New
        # York: 04:00 there): the question is not asked again, and the summary goes out once, at its new time.
        ("Europe/Moscow", date(2030, 3, 4), "08:00", {"report_at": "19:00"}),
        ("Europe/Moscow", date(2030, 3, 4), "08:00", {"timezone": "America/New_York"}),
        # ... or to a time already past (11:00), or the portal to a zone where 17:30 has passed (Tokyo: 18:00
        # there): the summary was never posted that day (a time trial); it goes out at once, once.
        ("Europe/Moscow", date(2030, 3, 4), "08:00", {"report_at": "11:00"}),
        ("Europe/Moscow", date(2030, 3, 4), "08:00", {"timezone": "Asia/Tokyo"}),
    ],
)  # each run for 18 h: to 02:00 Moscow, 08:00 in Tokyo, before any next day's question
def test_times_or_zone_changed_between_question_and_summary_ask_once_and_post_once(
    clock, world, task_queue, zone_name, day, start_at, change
):
    zone = ZoneInfo(zone_name)
    start = wall(day, start_at, zone)
    answer_at, change_at = wall(day, "10:00", zone), wall(day, "12:00", zone)
    sp = world.sp
    PortalSettings.objects.update_or_create(portal=sp.portal, defaults={"timezone": zone_name})
    team = world.team()
    options = {"chat": f"chat{team['id']}", "ask_at": "09:30", "report_at": "17:30"}
    configure_skill(sp.portal, skill_name="standup", is_enabled=True, options=options)
    task_queue.run()
    now = start
    while now < start + timedelta(hours=18):
        clock.move_to(now)
        if now == answer_at:
            world.say("answer")
            world.poll()
        if now == change_at and "timezone" in change:
            settings_row = PortalSettings.objects.get(portal=sp.portal)
            settings_row.timezone = change["timezone"]
            settings_row.save()  # as the portal page's form saves it
        elif now == change_at:
            configure_skill(sp.portal, skill_name="standup", options={**options, **change})
        sweep_schedules()
        task_queue.run()
        now += timedelta(minutes=1)
    questions = [m for m in world.messages() if is_question(m["text"])]
    assert len(questions) == 2  # Alice and Boris, once each
    assert_one_summary_with_the_answer(world, team)
