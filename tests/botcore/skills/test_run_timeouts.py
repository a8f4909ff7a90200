"""Deferred jobs and scheduled runs stopped by the task queue's real timeout (django-q2 raises its
TimeoutException in the handler, as a qcluster's worker does): tried as often as a stopped event is
(BOTCORE_HANDLE_MAX_TIMED_OUT_ATTEMPTS), then failed, and whoever is told of a failed run told once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from botcore import conf
from botcore.models import SkillRun
from botcore.services.skill_runs import claim_run, enqueue_run
from botcore.services.skill_schedules import sweep_schedules
from botcore.skills.base import Skill
from botcore.skills.events import BackendEventType, DeferredJobEvent
from botcore.vibe.events import EventType

MONDAY_9_UTC = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
TIMEOUT = 1  # the task queue's, in seconds: each hung handler sleeps past it
STARTED: list[str] = []  # what the hung handlers began, in order (the task_queue runs them in this process)


class HungJob(Skill):
    """Says it is on it and defers the work, which hangs (a service of the skill's that never answers)."""

    name = "hung_job"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        if isinstance(event, DeferredJobEvent) and event.job == "ping":
            ctx.reply("pong")
        elif isinstance(event, DeferredJobEvent):
            STARTED.append(event.job)
            time.sleep(TIMEOUT * 10)
        elif event.message.text == "ping":
            ctx.defer("ping")
        else:
            ctx.reply("On it…")
            ctx.defer("crunch")


class HungNightly(Skill):
    """A scheduled run that hangs, as a standup's summary would on a slow service."""

    name = "hung_nightly"
    event_types = frozenset({BackendEventType.SCHEDULED_RUN})

    def handle(self, event, ctx) -> None:
        STARTED.append(event.schedule)
        time.sleep(TIMEOUT * 10)


@pytest.fixture
def clock():
    """Started before the sandbox portal, so its session is issued on the moved clock too."""
    traveller = time_machine.travel(MONDAY_9_UTC, tick=True)
    yield traveller.start()
    traveller.stop()


@pytest.fixture
def skill_paths():
    return [f"{__name__}.HungJob", f"{__name__}.HungNightly"]


@pytest.fixture
def hung(task_queue, settings):
    """The task queue with a timeout of TIMEOUT, as the configuration says it (the errors quote it)."""
    STARTED.clear()
    task_queue.timeout = TIMEOUT
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": TIMEOUT}
    yield task_queue
    STARTED.clear()


def minutes_of_sweeps(clock, queue, *, sweeps: int = 10) -> None:
    """Each sweep past the lease of the one before (as long as a run whose worker died is held), the queue
    worked off after it: every chance the minute sweep gives a run to be tried again."""
    for _ in range(sweeps):
        clock.move_to(datetime.now(UTC) + timedelta(seconds=conf.lease_seconds() + 60))
        sweep_schedules()
        queue.run(allow_failures=True)


@pytest.mark.slow
def test_a_deferred_job_stopped_by_the_task_timeout_twice_is_failed_and_the_person_told(
    clock, world, hung, admin_client
):
    """A job that hangs held a worker for the whole timeout on every attempt, five of them and more while
    its catch-up window lasted, the portal's later runs of its skill waiting behind it: stopped by the
    timeout as often as a hung event handler is, then failed with a plain reason, and the person who asked
    hears so once."""
    world.say("crunch the numbers")
    world.poll()
    hung.run(allow_failures=True)
    assert STARTED == ["crunch"]
    minutes_of_sweeps(clock, hung)
    run = SkillRun.objects.get(kind=SkillRun.Kind.DEFERRED)
    assert STARTED == ["crunch"] * conf.handle_max_timed_out_attempts() == ["crunch", "crunch"]
    assert run.status == "failed" and run.timed_out_attempts == 2 and run.attempts == 2
    assert run.error.startswith(
        f"gave up after 2 attempts that ran past the task queue's timeout of {TIMEOUT} s"
    )
    assert "ctx.defer" not in run.error  # it is the deferred work already: not told to defer it
    shown = [m["text"] for m in world.messages()]
    assert shown.count("On it…") == 1
    assert sum(text.startswith("Sorry, something went wrong on our side") for text in shown) == 1
    # An operator runs it again (after a fix, say): its attempts start afresh, those the timeout stopped too.
    admin_client.post("/admin/botcore/skillrun/", {"action": "run_again", "_selected_action": [run.pk]})
    hung.run(allow_failures=True)
    run.refresh_from_db()
    assert len(STARTED) == 3 and (run.status, run.attempts, run.timed_out_attempts) == ("pending", 1, 1)


@pytest.mark.slow
def test_a_scheduled_run_stopped_by_the_task_timeout_twice_is_failed_and_its_admins_told(clock, world, hung):
    """As a standup's summary that hangs: tried as a stopped deferred job is, then failed, and the portal's
    admins get the failed run's notice once."""
    at = MONDAY_9_UTC.isoformat()
    run = claim_run(
        portal_id=world.bot.portal_id,
        skill_name="hung_nightly",
        kind=SkillRun.Kind.SCHEDULED,
        run_key=f"schedule:nightly:{at}",
        payload={"schedule": "nightly", "due_at": at, "local_due_at": at},
        enqueued=False,
    )
    enqueue_run(run)
    hung.run(allow_failures=True)
    minutes_of_sweeps(clock, hung)
    run.refresh_from_db()
    assert STARTED == ["nightly", "nightly"]
    assert run.status == "failed" and run.timed_out_attempts == 2
    assert run.error.startswith("gave up after 2 attempts that ran past the task queue's timeout")
    [notice] = [m["text"] for m in world.messages() if "did not run as planned" in m["text"]]
    assert notice.startswith("“hung_nightly” did not run as planned at 2030-03-04 09:00: it never finished")


@pytest.mark.slow
def test_a_job_stopped_by_the_task_timeout_holds_the_skills_later_jobs_no_longer(clock, world, hung):
    """A skill's jobs on a portal run in turn: one due after the hung job waited behind it through all of its
    attempts, a quarter of an hour and more. Stopped by the timeout, the hung job is a retry, due again later:
    the next job runs at once."""
    world.say("crunch the numbers")
    world.say("ping")
    world.poll()
    hung.run(allow_failures=True)
    assert STARTED == ["crunch"]
    assert [m["text"] for m in world.messages()].count("pong") == 1
