"""Schedules: one minute sweep claims each due (portal, skill, schedule) firing once, on the portal's clock,
whatever the number of schedulers; missed firings are made late within the catch-up window only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_q.models import Schedule

from botcore.models import Bot, SkillRun
from botcore.schedules import ensure_schedules
from botcore.services.skill_configs import configure_skill
from botcore.services.skill_schedules import sweep_schedules
from tenants.models import Portal, PortalSettings

UTC = UTC


@pytest.fixture
def skill_paths(settings):
    settings.BOTCORE_SKILLS = [
        "tests.botcore.skills.probe.ProbeSkill",
        "botcore.skills.builtin.standup.StandupSkill",
    ]


def make_portal(member_id: str, tz: str = "UTC") -> Portal:
    portal = Portal.objects.create(
        member_id=member_id, vibe_portal_id=f"vp-{member_id}", domain=f"{member_id}.example"
    )
    PortalSettings.objects.create(portal=portal, timezone=tz)
    Bot.objects.create(portal=portal, code="vibe_bot", name="Bot", vibe_bot_id=1, status=Bot.Status.ACTIVE)
    return portal


def runs() -> list[tuple[str, str, str]]:
    return sorted(SkillRun.objects.values_list("portal__member_id", "skill_name", "run_key"))


@pytest.mark.django_db
def test_each_portal_fires_on_its_own_clock(skill_paths, task_queue):
    make_portal("tokyo", "Asia/Tokyo")
    moscow = make_portal("moscow", "Europe/Moscow")
    configure_skill(
        moscow, skill_name="standup", is_enabled=True, options={"chat": "chat1", "ask_at": "09:30"}
    )
    # 06:30 UTC: 09:30 in Moscow (a Monday), 15:30 in Tokyo.
    assert sweep_schedules(datetime(2030, 3, 4, 6, 30, 40, tzinfo=UTC)) == 3
    assert runs() == [
        ("moscow", "probe", "schedule:tick:2030-03-04T06:30:00+00:00"),
        ("moscow", "standup", "schedule:ask:2030-03-04T06:30:00+00:00"),
        ("tokyo", "probe", "schedule:tick:2030-03-04T06:30:00+00:00"),
    ]
    run = SkillRun.objects.get(skill_name="standup")
    assert run.payload["local_due_at"] == "2030-03-04T09:30:00+03:00" and run.due_at == datetime(
        2030, 3, 4, 6, 30, tzinfo=UTC
    )


@pytest.mark.django_db
def test_a_sweep_after_a_restart_makes_missed_firings_late_but_only_within_the_window(
    skill_paths, settings, task_queue
):
    settings.BOTCORE_SCHEDULE_CATCH_UP_MINUTES = 15
    make_portal("acme")
    assert sweep_schedules(datetime(2030, 3, 4, 10, 12, tzinfo=UTC)) == 1  # 10:10 was missed by two minutes
    assert runs()[-1][2] == "schedule:tick:2030-03-04T10:10:00+00:00"
    SkillRun.objects.all().delete()
    settings.BOTCORE_SCHEDULE_CATCH_UP_MINUTES = 1
    assert sweep_schedules(datetime(2030, 3, 4, 10, 12, tzinfo=UTC)) == 0  # too old to be worth making now


@pytest.mark.django_db
def test_portals_without_a_bot_or_uninstalled_or_with_the_skill_off_are_not_swept(skill_paths, task_queue):
    gone = make_portal("gone")
    Portal.objects.filter(pk=gone.pk).update(status=Portal.Status.UNINSTALLED)
    off = make_portal("off")
    configure_skill(off, skill_name="probe", is_enabled=False)
    Portal.objects.create(member_id="botless", vibe_portal_id="vp-botless", domain="botless.example")
    assert sweep_schedules(datetime(2030, 3, 4, 10, 10, tzinfo=UTC)) == 0


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_sweeping_at_once_claim_each_firing_once(skill_paths, task_queue):
    for name in ("a", "b", "c"):
        make_portal(name)
    now = datetime(2030, 3, 4, 10, 5, 30, tzinfo=UTC)
    claimed: list[int] = []
    barrier = threading.Barrier(2)

    def scheduler() -> None:
        try:
            barrier.wait()
            claimed.append(sweep_schedules(now))
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(claimed) == 3 and SkillRun.objects.count() == 3
    assert task_queue.names().count("botcore.tasks.execute_skill_run") == 3


@pytest.mark.django_db(transaction=True)
def test_lost_and_abandoned_runs_are_enqueued_again(skill_paths, task_queue):
    portal = make_portal("acme")
    now = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
    lost = SkillRun.objects.create(
        portal=portal,
        skill_name="probe",
        kind="installed",
        run_key="lost",
        due_at=now - timedelta(minutes=30),
        enqueued_at=now - timedelta(minutes=20),
    )
    died = SkillRun.objects.create(
        portal=portal,
        skill_name="probe",
        kind="installed",
        run_key="died",
        status="running",
        attempts=1,
        due_at=now - timedelta(hours=2),
        started_at=now - timedelta(hours=1),
    )
    waiting = SkillRun.objects.create(
        portal=portal,
        skill_name="probe",
        kind="installed",
        run_key="later",
        due_at=now + timedelta(minutes=5),
    )
    sweep_schedules(now)
    died.refresh_from_db()
    assert died.status == "pending"
    sweep_schedules(now)
    queued = [args[0] for func, args in task_queue.queued if func == "botcore.tasks.execute_skill_run"]
    assert lost.pk in queued and died.pk in queued and waiting.pk not in queued


@pytest.mark.django_db
def test_the_sweep_schedule_is_created_once_by_name():
    ensure_schedules()
    ensure_schedules()
    sweep = Schedule.objects.get(name="botcore.sweep_skill_schedules")
    assert sweep.func == "botcore.tasks.sweep_skill_schedules" and sweep.schedule_type == Schedule.MINUTES
    assert sweep.minutes == 1 and sweep.repeats == -1


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_died_past_its_attempts_is_handed_back_while_its_catch_up_window_is_open(
    skill_paths, task_queue
):
    """A scheduled run may take more than BOTCORE_HANDLE_MAX_ATTEMPTS attempts inside its catch-up window (a
    platform down across its time): the sweep failed one whose worker then died, though the executor would
    have tried it again. Both ask one rule now (executor.catch_up_ends)."""
    portal = make_portal("acme")
    now = datetime(2030, 3, 4, 9, 40, tzinfo=UTC)

    def died_at_attempt_six(fired: datetime) -> SkillRun:
        return SkillRun.objects.create(
            portal=portal,
            skill_name="probe",
            kind="scheduled",
            run_key=f"schedule:tick:{fired.isoformat()}",
            payload={"schedule": "tick", "due_at": fired.isoformat(), "local_due_at": fired.isoformat()},
            status="running",
            attempts=6,
            due_at=now - timedelta(minutes=3),
            started_at=now - timedelta(hours=1),
        )

    open_window = died_at_attempt_six(now - timedelta(minutes=10))  # 09:30, the window open until 09:45
    closed_window = died_at_attempt_six(now - timedelta(minutes=40))  # 09:00, closed at 09:15
    sweep_schedules(now)
    open_window.refresh_from_db()
    closed_window.refresh_from_db()
    assert open_window.status == "pending" and closed_window.status == "failed"
