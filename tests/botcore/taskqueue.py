"""Runs what the code under test enqueued, taken from the real django-q2 broker (ORM table or Redis)."""
from __future__ import annotations

from django.utils.module_loading import import_string
from django_q.brokers import get_broker
from django_q.signing import SignedPackage


def run_queued_tasks(*only: str) -> list:
    """Take every queued task off the configured broker and run those named in `only` (all when empty).

    The tasks go through the broker as a qcluster's would: signed, queued, dequeued and acknowledged;
    they run here, in the test's process, so a test can count their effects.
    """
    broker = get_broker()
    results = []
    while queued := broker.dequeue():
        for ack_id, payload in queued:
            broker.acknowledge(ack_id)
            task = SignedPackage.loads(payload)
            if only and task["func"] not in only:
                continue
            results.append(import_string(task["func"])(*task["args"], **task["kwargs"]))
    return results
