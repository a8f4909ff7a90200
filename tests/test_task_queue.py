"""The task_queue fixture is the real django-q2 queue: what a worker could not run fails the test, a task
enqueued by a transaction that rolls back never reaches the broker, and each run leaves django-q2's row."""

from __future__ import annotations

import pytest
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
