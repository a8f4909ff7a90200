"""Retention: every table that grows is pruned by age on a schedule, on the real database; what is still
pending or running, and what is young, is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from botcore.models import ActionRecord, Bot, ConversationState, SkillRun
from botcore.retention import (
    prune_action_records,
    prune_conversation_states,
    prune_failed_tasks,
    prune_skill_runs,
)
from tenants.models import Portal
from tenants.tasks import clear_expired_sessions

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def portal() -> Portal:
    return Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.example")


@pytest.fixture
def bot(portal) -> Bot:
    return Bot.objects.create(portal=portal, code="b", name="Bot", vibe_bot_id=7, status=Bot.Status.ACTIVE)


def aged(model, pk: int, **fields) -> None:
    """Back-date auto_now(_add) fields, which save() would overwrite."""
    model.objects.filter(pk=pk).update(**fields)


def test_finished_skill_runs_older_than_the_setting_are_pruned(portal, settings):
    settings.BOTCORE_SKILL_RUN_RETENTION_DAYS = 10
    old = timezone.now() - 11 * DAY
    keys = {}
    for status in ("done", "failed", "skipped", "pending", "running"):
        run = SkillRun.objects.create(
            portal=portal,
            skill_name="probe",
            kind="deferred",
            run_key=f"old-{status}",
            status=status,
            due_at=old,
            finished_at=old if status in ("done", "failed", "skipped") else None,
        )
        aged(SkillRun, run.pk, created_at=old)
        keys[status] = run.run_key
    SkillRun.objects.create(
        portal=portal,
        skill_name="probe",
        kind="deferred",
        run_key="young",
        status="done",
        finished_at=timezone.now() - 9 * DAY,
    )
    assert prune_skill_runs() == 3
    kept = sorted(SkillRun.objects.values_list("run_key", flat=True))
    assert kept == ["old-pending", "old-running", "young"]


def test_action_records_and_conversation_states_older_than_the_settings_are_pruned(portal, bot, settings):
    settings.BOTCORE_EVENT_LOG_RETENTION_DAYS = 3
    settings.BOTCORE_SKILL_RUN_RETENTION_DAYS = 5
    settings.BOTCORE_ACTION_RECORD_RETENTION_DAYS = 7
    settings.BOTCORE_CONVERSATION_STATE_RETENTION_DAYS = 30
    for key, record_age, state_age in (("old", 8, 31), ("young", 6, 29)):
        record = ActionRecord.objects.create(bot=bot, key=key, result={"chatId": 1})
        aged(ActionRecord, record.pk, created_at=timezone.now() - record_age * DAY)
        state = ConversationState.objects.create(portal=portal, skill_name="standup", dialog_id=key, data={})
        aged(ConversationState, state.pk, updated_at=timezone.now() - state_age * DAY)
    assert prune_action_records() == 1 and prune_conversation_states() == 1
    assert list(ActionRecord.objects.values_list("key", flat=True)) == ["young"]
    assert list(ConversationState.objects.values_list("dialog_id", flat=True)) == ["young"]


def test_an_action_record_outlives_whatever_could_replay_its_event_or_run(bot, settings):
    # A record pruned before its event or run would let a replay upload or create a chat a second time.
    settings.BOTCORE_ACTION_RECORD_RETENTION_DAYS = 1
    settings.BOTCORE_EVENT_LOG_RETENTION_DAYS = 14
    settings.BOTCORE_SKILL_RUN_RETENTION_DAYS = 20
    record = ActionRecord.objects.create(bot=bot, key="k", result={})
    aged(ActionRecord, record.pk, created_at=timezone.now() - 19 * DAY)
    assert prune_action_records() == 0
    aged(ActionRecord, record.pk, created_at=timezone.now() - 21 * DAY)
    assert prune_action_records() == 1


def make_task(name: str, *, success: bool, age: timedelta) -> Task:
    when = timezone.now() - age
    return Task.objects.create(
        id=name, name=name, func="botcore.tasks.poll_bot", started=when, stopped=when, success=success
    )


def test_failed_task_rows_older_than_the_setting_are_pruned(settings):
    settings.BOTCORE_FAILED_TASK_RETENTION_DAYS = 7
    make_task("old-failure", success=False, age=8 * DAY)
    make_task("young-failure", success=False, age=6 * DAY)
    make_task("old-success", success=True, age=8 * DAY)  # django-q2's save_limit bounds successes already
    assert prune_failed_tasks() == 1
    assert sorted(Task.objects.values_list("name", flat=True)) == ["old-success", "young-failure"]


def open_browser_session(*, lifetime: int) -> None:
    """A viewer's session row, as a portal page visit leaves one (it lives as long as the viewer's token)."""
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["viewer"] = "a portal user"
    session.set_expiry(lifetime)
    session.save()


def test_expired_browser_sessions_are_cleared_and_live_ones_kept():
    for _ in range(3):
        open_browser_session(lifetime=3600)
    assert clear_expired_sessions() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        open_browser_session(lifetime=3600)  # a live session is kept
        assert clear_expired_sessions() == 3
    assert Session.objects.count() == 1


def test_every_pruning_runs_on_a_schedule_created_by_name_and_in_a_worker(task_queue):
    call_command("ensure_schedules")
    call_command("ensure_schedules")
    funcs = list(Schedule.objects.values_list("func", flat=True))
    pruning = [
        "botcore.retention.prune_skill_runs",
        "botcore.retention.prune_action_records",
        "botcore.retention.prune_conversation_states",
        "botcore.retention.prune_failed_tasks",
        "tenants.tasks.clear_expired_sessions",
        "botcore.tasks.prune_event_log",
    ]
    for func in pruning:
        assert funcs.count(func) == 1, func
        async_task(func)
    # What the scheduler enqueues, django-q2's worker runs: each returns how many rows it deleted.
    assert task_queue.run(prefix="") == [0] * len(pruning)


def test_the_event_log_is_pruned_in_batches_each_its_own_short_transaction(bot, settings, monkeypatch):
    """From a trial on the embedded default: 160,000 old entries went in one DELETE that held SQLite's one
    write lock for 5.6 s, every reply waiting behind it; a backlog near a million (a lowered retention, a
    long qcluster outage) would pass the 30 s busy timeout and fail every writer. Counted: the DELETE
    statements, each deleting at most a batch, and what is kept."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from botcore import retention
    from botcore.models import EventLogEntry
    from botcore.tasks import prune_event_log

    settings.BOTCORE_EVENT_LOG_RETENTION_DAYS = 3
    monkeypatch.setattr(retention, "PRUNE_BATCH", 2)
    old = timezone.now() - 4 * DAY
    for event_id, status in enumerate(["handled"] * 5 + ["received", "failed"], start=1):
        EventLogEntry.objects.create(
            bot=bot, vibe_bot_id=7, vibe_event_id=event_id, event_type="X", payload={}, status=status
        )
    EventLogEntry.objects.update(received_at=old)
    EventLogEntry.objects.create(bot=bot, vibe_bot_id=7, vibe_event_id=99, event_type="X", payload={})

    with CaptureQueriesContext(connection) as queries:
        assert prune_event_log() == 6

    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 3, deletes
    kept = sorted(EventLogEntry.objects.values_list("vibe_event_id", flat=True))
    assert kept == [6, 99]  # still to be handled, and young
