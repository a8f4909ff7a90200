"""The qcluster's stop, in order and without idle waits: the pusher stopped, every worker ended, then the
monitor told to stop after their last results and waited for, as django-q2's own stop did
(vibeapp/qcluster.py), but with no wait on a process that has already ended. The stop is restart downtime: no
reply leaves meanwhile.

Counted, not timed: the sleeps and joins made, on fakes of django-q2's processes and queues."""

from __future__ import annotations

import threading

import django_q.cluster
import pytest

import vibeapp.qcluster
from vibeapp.qcluster import GuardedSentinel

WORKERS = 24


class Ended:
    """A child process of the cluster that has already ended when the stop looks at it."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        self.journal.append(f"join {self.name}")


class Queue:
    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    def put(self, item: str) -> None:
        self.journal.append(f"{item} to {self.name}")

    def close(self) -> None:
        pass

    def join_thread(self) -> None:
        pass


@pytest.fixture
def journal(monkeypatch) -> list[str]:
    """What the stop did, in order: sleeps, joins and what it put on the queues."""
    entries: list[str] = []
    monkeypatch.setattr(django_q.cluster, "sleep", lambda seconds: entries.append("sleep"))

    class NoStat:
        def __init__(self, sentinel) -> None:
            pass

        def save(self) -> None:
            pass

    monkeypatch.setattr(django_q.cluster, "Stat", NoStat)
    monkeypatch.setattr(vibeapp.qcluster, "Stat", NoStat, raising=False)
    monkeypatch.setattr(vibeapp.qcluster, "beat_cluster_alive", lambda: None)
    monkeypatch.setattr(vibeapp.qcluster, "say_cluster_stopped", lambda: None)
    return entries


def ended_cluster(journal: list[str]) -> GuardedSentinel:
    sentinel = GuardedSentinel.__new__(GuardedSentinel)
    sentinel.pool = [Ended(f"worker {n}", journal) for n in range(WORKERS)]
    sentinel.pusher = Ended("pusher", journal)
    sentinel.monitor = Ended("monitor", journal)
    sentinel.task_queue = Queue("tasks", journal)
    sentinel.result_queue = Queue("results", journal)
    sentinel.event_out = threading.Event()
    sentinel.start_event = threading.Event()
    sentinel.stop_event = threading.Event()
    sentinel.start_event.set()
    sentinel.stop_event.set()
    sentinel.timeout = 90
    return sentinel


def test_a_stop_waits_on_no_process_that_has_already_ended(journal):
    """django-q2's stop slept a tenth of a second between looks, and removing ended workers from the list it
    was iterating saw only every other one per look: with 24 workers ended at once it slept five times
    (~0.5 s of a ~0.95 s stop) before telling the monitor, and once more after it had ended."""
    sentinel = ended_cluster(journal)
    sentinel.stop()
    assert sentinel.pool == []
    assert [entry for entry in journal if entry.startswith(("sleep", "join"))] == []


def test_the_monitor_is_told_to_stop_only_after_every_worker_was_told_and_has_ended(journal):
    """Its STOP comes after the workers' last results on the result queue: each is saved and acknowledged."""
    sentinel = ended_cluster(journal)
    sentinel.stop()
    told = [entry for entry in journal if entry.startswith("STOP")]
    assert told == [*["STOP to tasks"] * WORKERS, "STOP to results"]
    assert sentinel.event_out.is_set()  # the pusher was told first
