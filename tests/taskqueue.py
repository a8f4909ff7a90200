"""The real task queue in tests: django-q2's own async_task puts tasks on the configured broker (ORM on
SQLite, Redis when REDIS_URL is set); `run()` takes them back with the broker's API and executes each through
django-q2's worker and monitor, as a qcluster's pusher, worker and monitor would, minus the processes."""

from __future__ import annotations

import os
from datetime import timedelta
from multiprocessing import Queue, Value
from typing import Any

import setproctitle
from django.conf import settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.monitor import monitor
from django_q.signing import SignedPackage
from django_q.utils import get_func_repr
from django_q.worker import worker


def give_this_worker_a_queue_of_its_own() -> None:
    """Under pytest-xdist, this worker's queue is VIBE_Q_NAME suffixed with its id (gw0, gw1...): on Redis the
    workers of one run share the list VIBE_Q_NAME names, so one test's purge and `queued` took the other
    worker's tasks (a re-provisioning test saw its neighbour's poll_bot). The ORM broker's rows were apart
    already, in each worker's own test database. Settings and django-q2's Conf, which read the name once at
    import, both change, so what a test hands a process of its own (VIBE_Q_NAME) is the same queue."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    settings.Q_CLUSTER["name"] = Conf.PREFIX = f"{Conf.PREFIX}-{worker}"
    Conf.CLUSTER_NAME = f"{Conf.CLUSTER_NAME}-{worker}"
    Conf.Q_STAT = f"django_q:{Conf.PREFIX}:cluster"


class TaskFailed(AssertionError):
    """A task raised in the worker: the test fails with what the worker recorded."""


class BrokerQueue:
    """The broker of this test run's queue (VIBE_Q_NAME; one an xdist worker), emptied when the test starts
    and ends."""

    def __init__(self) -> None:
        self.broker = get_broker()
        self.pulled: list[dict[str, Any]] = []  # taken from the broker and not run yet, ack_id kept
        self.done: list[dict[str, Any]] = []  # run, with django-q2's result and success
        # The queue's timeout for the tasks run, in whole seconds (None: the configured one): past it,
        # django-q2 raises its TimeoutException in the task, as a qcluster's worker does.
        self.timeout: int | None = None

    def purge(self) -> None:
        self.broker.purge_queue()
        self.pulled.clear()

    def _pull(self) -> list[dict[str, Any]]:
        # queue_size first: Redis's dequeue blocks a second on an empty list.
        while self.broker.queue_size():
            taken = self.broker.dequeue()
            if not taken and not self._release_stopped_clock():
                break
            for ack_id, payload in taken or []:
                task = SignedPackage.loads(payload)
                task["ack_id"] = ack_id  # as django-q2's pusher does, so the monitor acknowledges it
                self.pulled.append(task)
        return self.pulled

    def _release_stopped_clock(self) -> bool:
        """The ORM broker counts a task locked at this very instant as waiting (lock <= now) but takes only
        those locked before it (lock < now): while a test holds the clock still (time_machine's tick=False)
        they would wait forever. Moved a microsecond back, they are taken as a worker takes them once the
        clock has moved on; True when there were such tasks."""
        if not isinstance(self.broker, ORM):
            return False
        now = timezone.now()
        stuck = self.broker.get_connection().filter(key=self.broker.list_key, lock=now)
        return bool(stuck.update(lock=now - timedelta(microseconds=1)))

    @property
    def queued(self) -> list[tuple[str, tuple]]:
        """(function path, args) of every task waiting on the broker, in order."""
        return [(get_func_repr(task["func"]), tuple(task["args"])) for task in self._pull()]

    def kwargs_of(self, func: str) -> list[dict[str, Any]]:
        """The keyword arguments of every waiting task of `func`, in order."""
        return [dict(t.get("kwargs") or {}) for t in self._pull() if get_func_repr(t["func"]) == func]

    def names(self) -> list[str]:
        return [func for func, _ in self.queued]

    def run(self, prefix: str = "botcore.", *, allow_failures: bool = False) -> list:
        """Execute the waiting tasks whose function starts with `prefix`, and those they enqueue, until none
        is left; returns their results. A task that raises fails the test unless `allow_failures`."""
        results = []
        while batch := [t for t in self._pull() if get_func_repr(t["func"]).startswith(prefix)]:
            self.pulled = [t for t in self.pulled if t not in batch]
            for task in batch:
                done = self._execute(task)
                if not done["success"] and not allow_failures:
                    func = get_func_repr(done["func"])
                    raise TaskFailed(f"task {func} failed in the worker: {done['result']}")
                results.append(done["result"])
        return results

    def run_one(self) -> list:
        """Execute the oldest waiting task alone (what it enqueues waits); returns its result, in a list."""
        pulled = self._pull()
        if not pulled:
            return []
        task = pulled[0]
        self.pulled = pulled[1:]
        done = self._execute(task)
        if not done["success"]:
            raise TaskFailed(f"task {get_func_repr(done['func'])} failed in the worker: {done['result']}")
        return [done["result"]]

    def _execute(self, task: dict[str, Any]) -> dict[str, Any]:
        title = setproctitle.getproctitle()  # django-q2's worker and monitor retitle the process they run in
        tasks, results = Queue(), Queue()
        if self.timeout is not None:
            task = {
                **task,
                "timeout": self.timeout,
            }  # django-q2's worker takes a task's own before its default
        tasks.put(task)
        tasks.put("STOP")
        worker(tasks, results, Value("f", -1))
        done = results.get()
        results.put(done)
        results.put("STOP")
        monitor(results, self.broker)  # saves the Task row and acknowledges it on the broker
        setproctitle.setproctitle(title)
        for queue in (tasks, results):
            queue.close()
            queue.join_thread()
        self.done.append(done)
        return done
