"""A skill run whose worker died is handed back as soon as the minute sweep sees that worker gone, as a poll
cycle's bot is (botcore.worker_liveness), not after the lease: a job claimed by a killed worker waited
BOTCORE_LEASE_SECONDS plus a sweep (about three minutes in a trial) while the cycles of that same worker were
handed back at once. A run whose worker lives is left to it.

The worker is a real process: forked here, it claims the run and dies in the skill (os._exit, as SIGKILL
leaves it: nothing after it runs), and is reaped, so no process has its pid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from botcore.models import SkillRun
from botcore.services.executor import execute_run
from botcore.services.skill_runs import claim_run
from botcore.services.skill_schedules import sweep_schedules
from botcore.skills.base import Skill
from botcore.skills.events import BackendEventType

pytestmark = [pytest.mark.slow]


class FilingSkill(Skill):
    """A deferred job that files something with another service: each run is a line in `calls` (the
    outside call, counted), and a run in a worker that is to die ends its process there."""

    name = "filing"
    event_types = frozenset({BackendEventType.DEFERRED_JOB})
    calls: Path | None = None
    dies_in: int = 0  # the pid of the process that dies as it makes the call

    def handle(self, event, ctx) -> None:
        assert FilingSkill.calls is not None
        with FilingSkill.calls.open("a") as calls:
            calls.write(f"{os.getpid()}\n")
        if os.getpid() == FilingSkill.dies_in:
            os._exit(0)  # killed: no verdict, no cleanup
        if FilingSkill.dies_in == -1:
            raise SystemExit("worker killed")  # this process lives on: only the run's attempt is lost


@pytest.fixture
def skill_paths():
    return [f"{__name__}.FilingSkill"]


@pytest.fixture
def calls(tmp_path):
    FilingSkill.calls, FilingSkill.dies_in = tmp_path / "calls", 0
    yield FilingSkill.calls
    FilingSkill.calls, FilingSkill.dies_in = None, 0


def calls_made(calls: Path) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def deferred_job(world) -> SkillRun:
    run = claim_run(
        portal_id=world.bot.portal.pk,
        skill_name="filing",
        kind=SkillRun.Kind.DEFERRED,
        run_key="defer:file:1",
        payload={"job": "file", "data": {}, "origin": None, "due_at": timezone.now().isoformat()},
    )
    assert run is not None
    return run


def run_in_a_worker_that_dies(run_id: int) -> None:
    """A worker process claims and runs the job, and is killed in the skill; reaped, its pid is no one's."""
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            # Its own connections: the parent's stay open in the parent (kept referenced, so nothing closes
            # them from here: a PostgreSQL connection's close would end the parent's session).
            inherited = [connections[alias].connection for alias in connections]
            for alias in connections:
                connections[alias].connection = None
            FilingSkill.dies_in = os.getpid()
            execute_run(run_id)
        finally:
            del inherited
            os._exit(1)  # the skill did not end the process: the test sees the run not claimed
    os.waitpid(pid, 0)


def test_a_job_whose_worker_is_gone_is_handed_back_at_the_next_sweep_and_runs_again(world, task_queue, calls):
    run = deferred_job(world)
    task_queue.purge()  # its first delivery is the worker's below
    run_in_a_worker_that_dies(run.pk)
    run.refresh_from_db()
    assert run.status == SkillRun.Status.RUNNING and calls_made(calls) == 1

    sweep_schedules(timezone.now())  # well within the lease: only the worker's death hands it back
    task_queue.run()

    run.refresh_from_db()
    assert run.status == SkillRun.Status.DONE and run.attempts == 2
    assert calls_made(calls) == 2


def test_a_job_whose_worker_lives_is_left_to_it(world, task_queue, calls):
    """This process claimed it (and lives on): the sweep does not hand it back, so nothing runs it twice."""
    run = deferred_job(world)
    task_queue.purge()
    FilingSkill.dies_in = -1
    with pytest.raises(SystemExit):
        execute_run(run.pk)
    FilingSkill.dies_in = 0
    run.refresh_from_db()
    assert run.status == SkillRun.Status.RUNNING and calls_made(calls) == 1

    sweep_schedules(timezone.now())
    task_queue.run()

    run.refresh_from_db()
    assert run.status == SkillRun.Status.RUNNING and calls_made(calls) == 1
