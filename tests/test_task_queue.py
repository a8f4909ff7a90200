"""The task_queue fixture is the real django-q2 queue: what a worker could not run fails the test, a task
enqueued by a transaction that rolls back never reaches the broker, and each run leaves django-q2's row."""

from __future__ import annotations

import signal
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction
from django_q.models import Failure, Success
from django_q.tasks import async_task

from botcore.models import SkillRun
from botcore.services.skill_runs import enqueue_run
from tenants.models import Portal
from tests.taskqueue import TaskFailed


def test_a_task_the_worker_cannot_run_fails_the_test_and_is_recorded_failed(task_queue):
    async_task("botcore.tasks.no_such_task", 1)
    with pytest.raises(TaskFailed, match="no_such_task"):
        task_queue.run()
    assert Failure.objects.filter(func="botcore.tasks.no_such_task").count() == 1
    assert task_queue.queued == []  # taken off the broker, as a worker takes it


def test_a_run_enqueued_by_a_transaction_that_rolls_back_never_reaches_the_broker(task_queue):
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.example")
    run = SkillRun.objects.create(portal=portal, skill_name="probe", kind="deferred", run_key="k")
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_run(run)
        raise RuntimeError("the request failed after claiming")
    assert task_queue.queued == []
    enqueue_run(run)
    assert task_queue.queued == [("botcore.tasks.execute_skill_run", (run.pk,))]
    task_queue.run()
    assert Success.objects.filter(func="botcore.tasks.execute_skill_run").count() == 1


def test_a_task_enqueued_while_the_clock_stands_still_is_run(task_queue):
    """django-q2's ORM broker counts a task locked at this very instant as waiting, but takes only those
    locked before it: under time_machine's tick=False (a reminder's test moving to its due time) run() looped
    forever."""

    def give_up(signum, frame):
        raise TimeoutError("task_queue.run() did not return")

    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.example")
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(20)
    try:
        with time_machine.travel(datetime(2030, 3, 4, 9, 0, tzinfo=UTC), tick=False):
            enqueue_run(
                SkillRun.objects.create(portal=portal, skill_name="probe", kind="deferred", run_key="k")
            )
            task_queue.run()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert Success.objects.filter(func="botcore.tasks.execute_skill_run").count() == 1


def test_each_xdist_worker_queues_and_takes_tasks_on_a_queue_of_its_own(task_queue, monkeypatch, settings):
    """Under `-n 2` on Redis both workers shared the list VIBE_Q_NAME names: a re-provisioning test counted
    its neighbour's poll_bot among its own tasks. Here two workers in turn, in this one process."""
    from django_q.conf import Conf

    from tests.taskqueue import BrokerQueue, give_this_worker_a_queue_of_its_own

    for name in ("PREFIX", "CLUSTER_NAME", "Q_STAT"):
        monkeypatch.setattr(Conf, name, getattr(Conf, name))  # put back once the test ends
    monkeypatch.setitem(settings.Q_CLUSTER, "name", settings.Q_CLUSTER["name"])
    base = Conf.CLUSTER_NAME

    def become(worker: str) -> BrokerQueue:
        monkeypatch.setattr(Conf, "PREFIX", base)
        monkeypatch.setattr(Conf, "CLUSTER_NAME", base)
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        give_this_worker_a_queue_of_its_own()
        return BrokerQueue()

    become("gw7").purge()
    become("gw8").purge()
    become("gw7")
    async_task("botcore.tasks.poll_bot", 1)
    neighbour = become("gw8")
    assert settings.Q_CLUSTER["name"] == Conf.CLUSTER_NAME == f"{base}-gw8"
    assert neighbour.queued == []
    mine = become("gw7")
    assert mine.queued == [("botcore.tasks.poll_bot", (1,))]
    mine.purge()
