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


@pytest.mark.django_db
def test_a_broker_outage_is_one_plain_line_a_while_not_a_traceback_per_round(monkeypatch, caplog):
    """With Redis down the poller's every round failed to enqueue and logged an ERROR with a full traceback:
    ~900 in two minutes of an on-call trial, none saying what was down. Now one line says so and what to
    check, once a while, counting the rounds it leaves out; the leases are released every time."""
    from botcore.models import Bot
    from botcore.vibe import outage_log
    from tenants.models import Portal

    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    bot = Bot.objects.create(portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE)
    clock = [1000.0]
    monkeypatch.setattr(outage_log.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cycle_queue, "_broker_down", outage_log.OutageLog())

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(cycle_queue, "async_task", refuse)
    with caplog.at_level("WARNING", logger="botcore.cycle_queue"):
        for _ in range(5):
            Bot.objects.filter(pk=bot.pk).update(lease_token="lease")
            assert cycle_queue.enqueue_cycles([bot.pk], "lease") == ([], [bot.pk])
            assert Bot.objects.get(pk=bot.pk).lease_token == ""  # released at once, every time
            clock[0] += 1.0
        clock[0] += outage_log.OUTAGE_LOG_EVERY_SECONDS
        Bot.objects.filter(pk=bot.pk).update(lease_token="lease")
        cycle_queue.enqueue_cycles([bot.pk], "lease")
    lines = [r for r in caplog.records if r.name == "botcore.cycle_queue"]
    assert len(lines) == 2
    assert all(r.exc_info is None for r in lines)  # a connection refused needs no traceback
    first, second = (r.getMessage() for r in lines)
    assert "ConnectionError" in first and "REDIS_URL" in first and "/readyz" in first
    assert "4 more" in second
