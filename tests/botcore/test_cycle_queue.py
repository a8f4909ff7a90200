"""Handing leased bots to their poll cycles: one broker connection per process, not one per task."""

from __future__ import annotations

import pytest
import redis.connection
from django.conf import settings
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from botcore import cycle_queue
from botcore.per_process import PerProcess


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis broker (CI's PostgreSQL + Redis run)")
def test_cycles_are_enqueued_over_one_redis_connection(monkeypatch):
    # A queue of its own, so that no other test's worker takes these tasks or sees them.
    queue_name = f"{Conf.CLUSTER_NAME}-cycle-queue-test"
    monkeypatch.setattr(cycle_queue, "_broker", PerProcess(lambda: get_broker(queue_name)))
    connected = []
    open_socket = redis.connection.Connection._connect  # a TCP connection to Redis, made

    def counting_connect(connection):
        connected.append(connection)
        return open_socket(connection)

    monkeypatch.setattr(redis.connection.Connection, "_connect", counting_connect)
    broker = get_broker(queue_name)
    broker.purge_queue()
    try:
        for round_ in range(2):  # two hand-overs, as the poller makes one per round
            bot_ids = [round_ * 10 + i for i in range(10)]
            assert cycle_queue.enqueue_cycles(bot_ids, "lease") == (bot_ids, [])
        assert len(connected) == 2  # the broker's one, and this test's own `broker`: not one per task
        assert broker.queue_size() == 20
        task = SignedPackage.loads(broker.dequeue()[0][1])
        assert (task["func"], tuple(task["args"])) == ("botcore.tasks.poll_bot", (0, "lease"))
    finally:
        broker.purge_queue()
