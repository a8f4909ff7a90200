"""The ORM broker's per-task statements in plain SQL (vibeapp/orm_broker.py): the hand-over django-q2's own
ORM broker makes, a task taken once until its lock passes and gone once acknowledged, without the ORM
building each statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from django_q.tasks import async_task

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(bool(settings.REDIS_URL), reason="the ORM broker (no REDIS_URL)"),
]


def _broker():
    broker = get_broker(f"{Conf.CLUSTER_NAME}-orm-broker-test")
    broker.purge_queue()
    return broker


def test_a_task_is_taken_once_until_its_lock_passes_and_gone_once_acknowledged():
    broker = _broker()
    async_task(
        "botcore.tasks.poll_bot", 7, "lease", task_name="poll-7", q_options={"broker": broker, "save": False}
    )
    with time_machine.travel(timezone.now() + timedelta(seconds=1)):
        [(ack_id, payload)] = broker.dequeue()
        assert SignedPackage.loads(payload)["args"] == (7, "lease")
        assert not broker.dequeue()  # taken: locked until the retry has passed
    with time_machine.travel(timezone.now() + timedelta(seconds=Conf.RETRY + 2)):
        [(again, _)] = broker.dequeue()  # never acknowledged (a worker killed): handed out again
        assert again == ack_id
        broker.acknowledge(ack_id)
        assert not OrmQ.objects.filter(pk=ack_id).exists()
        assert not broker.dequeue()


def test_tasks_are_taken_in_the_order_they_came_at_most_bulk_at_a_time(monkeypatch):
    broker = _broker()
    monkeypatch.setattr(Conf, "BULK", 3)
    ids = [broker.enqueue(SignedPackage.dumps({"n": n})) for n in range(5)]
    with time_machine.travel(timezone.now() + timedelta(seconds=1)):
        first, rest = broker.dequeue(), broker.dequeue()
    assert [pk for pk, _ in first] == ids[:3]
    assert [SignedPackage.loads(payload)["n"] for _, payload in rest] == [3, 4]
    assert OrmQ.objects.get(pk=ids[0]).key == broker.list_key


def test_the_per_task_statements_are_not_built_by_the_orm_each_time(monkeypatch):
    """Built by the ORM, enqueue, take and acknowledge cost ~1.3 CPU-ms a task on SQLite, ~0.4 written out
    (README, "The task hand-over"): every poll cycle, so every message, pays them."""
    broker = _broker()

    def built(*args, **kwargs):
        raise AssertionError("a per-task statement was built by the ORM")

    monkeypatch.setattr(SQLCompiler, "as_sql", built)
    ack_id = broker.enqueue(SignedPackage.dumps({"n": 1}))
    with time_machine.travel(timezone.now() + timedelta(seconds=1)):
        assert [pk for pk, _ in broker.dequeue()] == [ack_id]
    broker.acknowledge(ack_id)
    monkeypatch.undo()
    assert not OrmQ.objects.filter(pk=ack_id).exists()
