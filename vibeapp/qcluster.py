"""A django-q2 cluster that survives a child killed by a signal: the sentinel starts every process and both
queues afresh instead of reincarnating the one that died.

Why: django-q2's processes share two multiprocessing queues, each guarded by locks that live in shared
memory. An idle worker waits for its next task *holding* the task queue's read lock; the pusher's feeder
thread holds the write lock while it writes; the monitor holds the result queue's. A process SIGKILLed
(the OOM killer, an operator, the chaos benchmark) dies holding its lock, nothing ever releases it, and
every process after it blocks for good: the stock sentinel reincarnates the dead one into the same wedged
queue, tasks pile up on the broker and no bot is answered again (seen in benchmarks/chaos.py, py-spy
showing every worker in SemLock.__enter__). A lock's holder cannot be told from outside, so any death by a
signal the sentinel did not send restarts the lot. What was in flight is recovered as after a killed
qcluster, offsets stored before acting and the action ledger keeping each side effect once, except that
the bots whose cycles the killed workers ran are handed back at once (their lease tokens name the worker:
botcore.services.polling.release_cycles_of), not when their leases run out two minutes later.

The sentinel is also the cluster's proof of life (ops/heartbeat.py): its guard loop beats that the cluster
lives, idle or not, and it says the cluster stopped once a stop on purpose has ended its processes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import Event, current_process
from typing import Any

from django_q.cluster import Sentinel
from django_q.conf import Conf
from django_q.conf import logger as django_q_log
from django_q.queues import Queue
from django_q.status import Stat

log = logging.getLogger(__name__)


# What an operator should look at first, by the signal that killed a child (docs/operators.md).
LIKELY_CAUSES = {
    signal.SIGKILL: "; SIGKILL: the OOM killer (dmesg) or someone's kill -9",
    signal.SIGBUS: (
        "; SIGBUS: most often a full PROMETHEUS_MULTIPROC_DIR, where every process memory-maps its metrics"
        " (df on it; /readyz names metrics_dir): each new worker dies at its first metric until there is room"
    ),
}


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def died_of_a_signal(process) -> bool:
    """Ended by a signal (exit code below zero), not by returning as a recycled worker does."""
    return not process.is_alive() and process.exitcode is not None and process.exitcode < 0


def hand_back_cycles(pids: list[int]) -> None:
    """The bots whose cycles died with these workers, due again now (after their recorded backoff). Never
    raises: the cluster restarts whatever the database says, and a lease not released runs out anyway."""
    from django.db import connections

    from botcore.services.polling import release_cycles_of

    try:
        connections.close_all()  # a connection inherited across the fork is not this process's to use
        release_cycles_of(pids)
    except Exception:
        log.exception("the leases of the killed workers' cycles were not released: they run out instead")
    finally:
        connections.close_all()


def hand_back_cycles_of_dead_processes(*, as_it_starts: bool = True) -> None:
    """The bots whose cycles died with a process that is gone (botcore.services.polling
    .release_cycles_of_dead_processes: a qcluster killed whole, of this pid space or of another whose every
    heartbeat reads not alive), due again now. Never raises: a lease not released runs out anyway. As the
    cluster starts, the connections are closed around it (one inherited across the fork is not this
    process's; the workers are forked next); from the guard loop they are left to django-q2, which closes
    the sentinel's before each fork."""
    from django.db import DatabaseError, connections

    from botcore.services.polling import release_cycles_of_dead_processes

    try:
        if as_it_starts:
            connections.close_all()
        release_cycles_of_dead_processes()
    except DatabaseError:
        if as_it_starts:
            log.exception("the leases of dead processes' cycles were not released: they run out instead")
        else:
            # Looked at once a beat interval: the database down is /readyz's to report, not a traceback's
            # each 10 s; the next look tries again.
            log.debug("no look for dead processes' cycles: the database refused", exc_info=True)
    except Exception:
        log.exception("the leases of dead processes' cycles were not released: they run out instead")
    finally:
        if as_it_starts:
            connections.close_all()


def close_processes(children: list[Any]) -> None:
    """Release what this process holds of each ended child (multiprocessing keeps a pipe to it, two
    descriptors, until its Process object is closed or collected). Still held when the cluster's new
    processes were forked, each of them inherited every one for its life: 12 descriptors more in each new
    child of a 4-worker cluster after its first restart. A child that has not ended keeps its pipe."""
    for child in children:
        try:
            child.close()
        except ValueError:  # still running after the join's timeout: its pipe is how it will be reaped
            log.warning("process %s did not end when killed: its descriptors stay open", child.pid)


class StopWhenOrphaned:
    """The cluster's stop event, read by the sentinel's guard loop, also set once the qcluster's first process
    (the sentinel's parent) is gone. Killed alone (`kill -9` of its pid, an operator trial), it left the
    sentinel and workers running without it, re-parented, taking tasks: a qcluster the operator had stopped,
    or restarted on a new release, would go on answering with the old code, out of reach of its unit."""

    def __init__(self, event, parent_pid: int) -> None:
        self.event = event
        self.parent_pid = parent_pid
        self.orphaned = False

    def _check_orphaned(self) -> bool:
        if not self.orphaned and os.getppid() != self.parent_pid:
            self.orphaned = True
            log.critical(
                "the qcluster's first process %s is gone: stopping its cluster (each worker ends its task)",
                self.parent_pid,
            )
        return self.orphaned

    def is_set(self) -> bool:
        return self.event.is_set() or self._check_orphaned()

    def wait(self, timeout: float | None = None) -> bool:
        return self.event.wait(timeout) or self._check_orphaned()

    def set(self) -> None:
        self.event.set()


def beat_cluster_alive() -> None:
    """This cluster lives (ops.heartbeat.record_liveness, throttled; never raises): an idle cluster took no
    task and perhaps not the minute's schedule either, which one cluster of several runs, and read silent
    after its max age, though it was fine. The sentinel's connection is django-q2's to close: before it forks
    a process, and each turn of its scheduler (stale or broken)."""
    from ops.heartbeat import record_liveness
    from ops.models import Heartbeat

    record_liveness(kind=Heartbeat.Kind.QCLUSTER)


class BeatEachGuardTurn:
    """The cluster's stop event, as the sentinel's guard loop waits on it between its turns (Conf.GUARD_CYCLE,
    half a second), beating the cluster's liveness first: the loop that restarts the cluster's processes is
    the cluster's proof of life, whatever work comes its way. Once a beat interval it also hands back the
    cycles of dead processes, as the cluster did when it started: a container restarted within the liveness
    of its qcluster killed whole (ops.heartbeat.liveness_max_age, half a minute; a restart policy takes
    seconds) found that qcluster still alive as it started, and only a later look proves it dead. Its rows
    fall silent at their alive_until, which moves once a beat interval: looking more often finds nothing
    sooner."""

    def __init__(self, event) -> None:
        self.event = event
        self.next_hand_back = time.monotonic() + hand_back_every_seconds()

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        beat_cluster_alive()
        if time.monotonic() >= self.next_hand_back:
            self.next_hand_back = time.monotonic() + hand_back_every_seconds()
            hand_back_cycles_of_dead_processes(as_it_starts=False)
        return self.event.wait(timeout)

    def set(self) -> None:
        self.event.set()


def hand_back_every_seconds() -> float:
    """How often the guard loop looks for dead processes' cycles: once a liveness beat interval."""
    from ops.heartbeat import LIVENESS_BEATS, liveness_max_age

    return liveness_max_age().total_seconds() / LIVENESS_BEATS


# django-q2's wait for its monitor as it stops, when no task timeout is set (Sentinel.stop).
STOP_WAIT_WITHOUT_TIMEOUT_SECONDS = 30
# How often a stop's waits save the cluster's status (django-q2's Stat, what `qmonitor` shows), as its own
# waits did between their sleeps.
STOP_STAT_EVERY_SECONDS = 0.1


@contextmanager
def beating_while_stopping() -> Iterator[None]:
    """The cluster's liveness beat from a thread of the sentinel while its stop waits for each worker to end
    its task (up to the task timeout): the guard loop that beat has ended, and a stop on purpose read
    silent a few beats in (ops.heartbeat.liveness_max_age), as a dead cluster. For as long as a healthy stop
    takes, its workers' tasks and then django-q2's wait for the monitor (a task timeout each): a stop hung
    past it (a worker that never ends, no guard loop left to kill it) reads silent. The thread has ended
    when this does, so no beat comes after the stop is said."""
    from django.db import connection

    stopped = threading.Event()
    beat_until = time.monotonic() + 2 * (Conf.TIMEOUT or STOP_WAIT_WITHOUT_TIMEOUT_SECONDS)

    def beat() -> None:
        try:
            while not stopped.wait(Conf.GUARD_CYCLE) and time.monotonic() < beat_until:
                beat_cluster_alive()
        finally:
            connection.close()  # this thread's own

    beats = threading.Thread(target=beat, name="liveness-while-stopping", daemon=True)
    beats.start()
    try:
        yield
    finally:
        stopped.set()
        beats.join()


def say_cluster_stopped() -> None:
    """This cluster was stopped on purpose and its processes have ended: it reads stopped at once, not alive
    for its max age and then silent (ops.heartbeat.record_stop; never raises)."""
    from ops.heartbeat import record_stop
    from ops.models import Heartbeat

    record_stop(kind=Heartbeat.Kind.QCLUSTER)


class GuardedSentinel(Sentinel):
    """django-q2's sentinel, restarting all of its processes with new queues after a death by signal,
    handing back, as it starts and once a beat interval after, the cycles of qcluster processes that died
    without a word (of this pid space, or of another proven dead by its heartbeats),
    stopping its cluster when the qcluster's first process is gone, beating the cluster's liveness from its
    guard loop and while it stops, and saying the cluster stopped once its processes have."""

    # django-q2's multiprocessing Event, within StopWhenOrphaned and BeatEachGuardTurn (guard)
    stop_event: Any
    # django-q2's Process objects, None before spawn_cluster starts them (and in restart_processes)
    monitor: Any
    pusher: Any

    def start(self) -> None:
        hand_back_cycles_of_dead_processes()
        super().start()

    def guard(self) -> None:
        self.stop_event = BeatEachGuardTurn(StopWhenOrphaned(self.stop_event, self.parent_pid))
        super().guard()

    def stop(self) -> None:
        # The guard loop ends here on the stop event (SIGTERM to the first process: systemd's KillMode=mixed,
        # compose's stop, Ctrl-C) or with the first process gone; a sentinel killed outright never gets here,
        # and its cluster reads silent.
        with beating_while_stopping():
            self.stop_processes()
        say_cluster_stopped()

    def stop_processes(self) -> None:
        """django-q2's Sentinel.stop (1.11), step for step: the pusher stopped, a poison pill per
        worker, every worker ended, then the monitor handed its STOP after their last results and waited for
        (at most a task timeout) as it saves and acknowledges them. Each wait ends as soon as its process
        does: django-q2's slept a tenth of a second between looks and, removing ended workers from the list
        it was iterating, took one look per halving of the pool; 24 workers' stop waited ~0.5 s past the last
        one's end before the monitor was even told (docs/benchmarks.md, Start-up and stop)."""
        Stat(self).save()
        name = current_process().name
        django_q_log.info("%s stopping cluster processes", name)  # django-q2's own lines, as it logged them
        self.event_out.set()
        self.wait_for_end(self.pusher)
        for _worker in self.pool:
            self.task_queue.put("STOP")
        self.task_queue.close()
        self.task_queue.join_thread()
        while self.pool:
            self.wait_for_end(self.pool[0])
            self.pool.pop(0)
        self.result_queue.put("STOP")
        self.result_queue.close()
        self.result_queue.join_thread()
        django_q_log.info("%s waiting for the monitor.", name)
        self.wait_for_end(self.monitor, timeout=self.timeout or STOP_WAIT_WITHOUT_TIMEOUT_SECONDS)
        Stat(self).save()

    def wait_for_end(self, process, timeout: float | None = None) -> None:
        """Until `process` has ended, or `timeout` seconds have passed, saving the cluster's status between
        looks as django-q2's waits did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while process.is_alive():
            step = STOP_STAT_EVERY_SECONDS
            if deadline is not None:
                step = min(step, deadline - time.monotonic())
                if step <= 0:
                    return
            process.join(step)
            Stat(self).save()

    def reincarnate(self, process) -> None:
        # A worker past its task's timeout is the sentinel's own to kill: it holds no queue lock then.
        timed_out = getattr(process, "timer", None) is not None and process.timer.value == 0
        if timed_out or not died_of_a_signal(process):
            super().reincarnate(process)
            return
        number = -process.exitcode
        log.critical(
            "%s %s died of signal %s (%s) and may hold a queue lock: restarting the cluster's processes%s",
            self._role_of(process), process.pid, number, signal_name(number), LIKELY_CAUSES.get(number, ""),
        )  # fmt: skip
        self.restart_processes()

    def _role_of(self, process) -> str:
        if process is self.pusher:
            return "pusher"
        return "monitor" if process is self.monitor else "worker"

    def restart_processes(self) -> None:
        """Kill every child, then start workers, monitor and pusher on new queues (new locks)."""
        old_pool = self.pool
        children = [child for child in (*old_pool, self.monitor, self.pusher) if child is not None]
        for child in children:
            if child.is_alive():
                child.kill()
        for child in children:
            child.join(timeout=5)
        hand_back_cycles([worker.pid for worker in old_pool if worker.pid is not None])
        close_processes(children)
        # Closed, they answer nothing (not even their pid, which Stat reads as spawn_cluster begins); None
        # is django-q2's own "not started yet", until spawn_cluster starts the new ones.
        self.monitor = self.pusher = None
        # Emptied in place: the guard loop that called us is iterating this very list.
        old_pool.clear()
        self.task_queue = Queue(maxsize=Conf.QUEUE_LIMIT) if Conf.QUEUE_LIMIT else Queue()
        self.result_queue = Queue()
        self.event_out = Event()
        self.spawn_cluster()
        self.reincarnations += 1
