"""Write and read heartbeats, one row per process: that it lives, that its loop did its work, that it was
stopped on purpose; and the one rule that says which processes are alive. A process beats at most every few
seconds, however often its loop turns."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max, Q
from django.utils import timezone

from botcore.host_identity import this_host_tag
from ops.models import Heartbeat
from ops.release import running_release

log = logging.getLogger(__name__)

_last_beat: dict[str, float] = {}

# The pid `manage.py qcluster` sets for the processes it forks (vibeapp/management/commands/qcluster.py): a
# cluster beats from its monitor and its workers, whose own pids come and go, and is one process to whoever
# starts and stops it.
PROCESS_PID_ENV = "VIBE_HEARTBEAT_PID"

# A row not written for this long is deleted (by the qcluster's one-minute beat): each restart of a process
# leaves the row of the one before, and a container recreated on deploy beats under a new host name.
HEARTBEATS_KEPT_FOR = timedelta(days=1)


def this_instance() -> str:
    """This host (a container's hostname; Linux's are at most 64 characters), with room for a pid and a pid
    space after it in a row's 255."""
    return socket.gethostname()[:228]


def this_process(pid: int | None = None) -> str:
    """This process (or the process `pid` of its pid space) as its heartbeat row names it,
    `host:pid@pid-space` (botcore.host_identity.this_host_tag): two processes of a kind on one host (two
    qclusters beside each other) each have a row, so one of them dead shows, rather than the other's beats
    keeping a shared row fresh. The pid space tells apart two containers under one host name whose qclusters
    both run as PID 1 (pods with hostNetwork, a container restarted): one row between them hid a death, and
    the new cluster's beats would take over the row of the one it replaced, whose leases could then never
    be handed back."""
    pid = pid or int(os.environ.get(PROCESS_PID_ENV) or os.getpid())
    return f"{this_instance()}:{pid}@{this_host_tag()}"


def rows_of_process(pid: int) -> Q:
    """The rows of this host's process `pid`: this release's name, and the release before's (`host:pid`)
    through a rolling upgrade."""
    return Q(instance=this_process(pid)) | Q(instance=f"{this_instance()}:{pid}")


def rows_of_host(host: str) -> Q:
    """The rows of `host`'s processes (a host name holds no colon; a row of the release before names the
    host alone)."""
    return Q(instance=host) | Q(instance__startswith=f"{host}:")


def record_heartbeat(*, kind: str, force: bool = False) -> None:
    """Say this process's loop of `kind` did its work (the poller's round, a qcluster's task or its minute's
    schedule), which says it lives as well; cheap to call on every turn (throttled), never raises."""
    now = timezone.now()
    _write_beat(kind, "work", force=force, values={"beat_at": now, "worked_at": now})


def record_liveness(*, kind: str, force: bool = False) -> None:
    """Say this process lives, whether or not work came its way (a qcluster's sentinel, each turn of its
    guard loop): what counts it alive, never what says its kind's work is done. The beat says how long it
    holds (`alive_until`, liveness_max_age): a process that beats on a clock reads silent a few missed beats
    after it dies, not after its kind's max age, which is the work's. Throttled like a work beat, never
    raises."""
    now = timezone.now()
    _write_beat(kind, "life", force=force, values={"beat_at": now, "alive_until": now + liveness_max_age()})


def _write_beat(kind: str, beat: str, *, force: bool, values: dict) -> None:
    now, key = time.monotonic(), f"{kind}:{beat}"
    if not force and now - _last_beat.get(key, float("-inf")) < settings.OPS_HEARTBEAT_EVERY_SECONDS:
        return
    # The try counts, not its success: a database that refuses is tried once an interval, not on each turn
    # of a loop that has other things to do (a sentinel restarting workers).
    _last_beat[key] = now
    try:
        Heartbeat.objects.update_or_create(
            kind=kind,
            instance=this_process(),
            defaults={
                **values,
                "stopped_at": None,
                "release": running_release(),
                "pid_space": this_host_tag(),
            },
        )
    except DatabaseError:
        # The database is what /readyz reports on; a lost beat is the symptom it shows, not a crash of the
        # loop.
        log.debug("heartbeat not written kind=%s", kind, exc_info=True)


def record_stop(*, kind: str) -> None:
    """Say this process of `kind` was stopped on purpose, as it ends (after its last beat): it reads stopped
    at once, not alive for its max age and then silent. Never raises: unsaid, it reads silent instead."""
    try:
        Heartbeat.objects.filter(kind=kind, instance=this_process()).update(stopped_at=timezone.now())
    except DatabaseError:
        log.warning("the stop of this %s was not written: it reads silent, not stopped", kind, exc_info=True)


def beat_qcluster() -> None:
    """A django-q2 schedule runs this each minute: a beat proves scheduler, broker and a worker all turn.
    It also deletes the rows of processes silent for HEARTBEATS_KEPT_FOR."""
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER, force=True)
    Heartbeat.objects.filter(beat_at__lt=timezone.now() - HEARTBEATS_KEPT_FOR).delete()


def beat_poller() -> None:
    """The process that watches the bots for events (runpoller, or runpacer in its place) beats each round;
    throttled like any beat."""
    record_heartbeat(kind=Heartbeat.Kind.POLLER)


def record_poller_stopped() -> None:
    """The poller (or pacer) was stopped on purpose (SIGTERM, Ctrl-C) and its loop has ended."""
    record_stop(kind=Heartbeat.Kind.POLLER)


def max_age(kind: str) -> timedelta:
    """How old the kind's last work may be while the kind is up (/readyz); also how long a beat of a process
    that beats only with its work (the poller's round, a qcluster of a release before the liveness beat)
    says it lives. Long for a qcluster: its work may be the minute's schedule alone."""
    return timedelta(seconds=settings.OPS_HEARTBEAT_MAX_AGE_SECONDS[kind])


# A liveness beat holds for this many beat intervals: one or two late beats (a slow write, a busy host, a
# sentinel restarting its workers) are no death; a qcluster killed whole reads silent half a minute later
# (the default interval), where its work's max age left it alive for three minutes.
LIVENESS_BEATS = 3
# The least interval counted: a liveness beat comes at most once per turn of the loop that writes it (the
# sentinel's, half a second), and tests unthrottle the beats with an interval of 0.
LIVENESS_MIN_INTERVAL_SECONDS = 1.0


def liveness_max_age() -> timedelta:
    """How long a liveness beat (record_liveness) says its process lives: the one place this is decided.
    The beating process writes it into its row, so a reader with another interval (a rolling change of
    OPS_HEARTBEAT_EVERY_SECONDS) still reads each process by the interval it beats at."""
    interval = max(settings.OPS_HEARTBEAT_EVERY_SECONDS, LIVENESS_MIN_INTERVAL_SECONDS)
    return timedelta(seconds=LIVENESS_BEATS * interval)


ProcessState = Literal["alive", "silent", "stopped"]


def process_state(beat: Heartbeat, *, now: datetime) -> ProcessState:
    """The one rule of a process's liveness, for every count and list (/readyz's counts,
    vibeapp_processes_alive, the fleet dashboard, check_heartbeat): stopped when it said so as it ended;
    alive while its last liveness beat holds (`alive_until`: a qcluster's sentinel), or, for a process that
    beats only with its work (the poller, whose round is its beat; a row of the release before), while its
    last beat is within its kind's max age; silent otherwise (dead, or replaced by a restart)."""
    if beat.stopped_at is not None:
        return "stopped"
    if beat.alive_until is not None:
        return "alive" if now <= beat.alive_until else "silent"
    return "alive" if now - beat.beat_at <= max_age(beat.kind) else "silent"


class ProcessCount(NamedTuple):
    alive: int
    silent: int
    stopped: int


def list_processes(
    *, now: datetime, kind: str | None = None, host: str | None = None, pid: int | None = None
) -> list[Heartbeat]:
    """The processes heard from within HEARTBEATS_KEPT_FOR (of `kind`, on `host`, or this host's process
    `pid`: rows_of_process), by kind and instance: a few rows."""
    beats = Heartbeat.objects.filter(beat_at__gte=now - HEARTBEATS_KEPT_FOR)
    if kind is not None:
        beats = beats.filter(kind=kind)
    if host is not None:
        beats = beats.filter(rows_of_host(host))
    if pid is not None:
        beats = beats.filter(rows_of_process(pid))
    return list(beats)


def count_processes(kind: str, *, now: datetime) -> ProcessCount:
    """The processes of `kind` heard from within HEARTBEATS_KEPT_FOR, by process_state."""
    states = Counter(process_state(beat, now=now) for beat in list_processes(now=now, kind=kind))
    return ProcessCount(alive=states["alive"], silent=states["silent"], stopped=states["stopped"])


def find_dead_pid_spaces(pid_spaces: Iterable[str], *, now: datetime) -> set[str]:
    """Those of `pid_spaces` (botcore.host_identity tags) proven dead: at least one heartbeat row names it,
    and every one reads not alive by process_state (silent or stopped), whatever its kind. A pid space with
    no row at all (a process that never beat, a row of a release before) is not proven dead."""
    states: dict[str, set[ProcessState]] = {}
    for beat in Heartbeat.objects.filter(pid_space__in=set(pid_spaces)):
        states.setdefault(beat.pid_space, set()).add(process_state(beat, now=now))
    return {pid_space for pid_space, seen in states.items() if "alive" not in seen}


def find_latest_work(kind: str) -> datetime | None:
    """When any process of `kind` last did its work (record_heartbeat), however many live."""
    return Heartbeat.objects.filter(kind=kind).aggregate(latest=Max("worked_at"))["latest"]
