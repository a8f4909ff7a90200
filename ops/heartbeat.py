"""Write and read heartbeats, one row per process; a process beats at most every few seconds, however often
its loop turns."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

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
    """This host (a container's hostname; Linux's are at most 64 characters), with room for a pid after it
    in a row's 255."""
    return socket.gethostname()[:240]


def this_process() -> str:
    """This process as its heartbeat row names it, `host:pid`: two processes of a kind on one host (two
    qclusters beside each other) each have a row, so one of them dead shows, rather than the other's beats
    keeping a shared row fresh."""
    return f"{this_instance()}:{os.environ.get(PROCESS_PID_ENV) or os.getpid()}"


def rows_of_host(host: str) -> Q:
    """The rows of `host`'s processes (a host name holds no colon; a row of the release before names the
    host alone)."""
    return Q(instance=host) | Q(instance__startswith=f"{host}:")


def record_heartbeat(*, kind: str, force: bool = False) -> None:
    """Say this process's loop of `kind` turns; cheap to call on every turn (throttled), never raises."""
    now = time.monotonic()
    if not force and now - _last_beat.get(kind, float("-inf")) < settings.OPS_HEARTBEAT_EVERY_SECONDS:
        return
    try:
        Heartbeat.objects.update_or_create(
            kind=kind,
            instance=this_process(),
            defaults={"beat_at": timezone.now(), "release": running_release()},
        )
    except DatabaseError:
        # The database is what /readyz reports on; a lost beat is the symptom it shows, not a crash of the
        # loop.
        log.debug("heartbeat not written kind=%s", kind, exc_info=True)
        return
    _last_beat[kind] = now


def beat_qcluster() -> None:
    """A django-q2 schedule runs this each minute: a beat proves scheduler, broker and a worker all turn.
    It also deletes the rows of processes silent for HEARTBEATS_KEPT_FOR."""
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER, force=True)
    Heartbeat.objects.filter(beat_at__lt=timezone.now() - HEARTBEATS_KEPT_FOR).delete()


def beat_poller() -> None:
    """The process that watches the bots for events (runpoller, or runpacer in its place) beats each round;
    throttled like any beat."""
    record_heartbeat(kind=Heartbeat.Kind.POLLER)


def max_age(kind: str) -> timedelta:
    return timedelta(seconds=settings.OPS_HEARTBEAT_MAX_AGE_SECONDS[kind])


def find_latest_beat(kind: str, *, host: str | None = None, process: str | None = None) -> datetime | None:
    """The newest beat of any process of `kind`, or of those on `host`, or of the one `process`."""
    query = Heartbeat.objects.filter(kind=kind)
    if host is not None:
        query = query.filter(rows_of_host(host))
    if process is not None:
        query = query.filter(instance=process)
    return query.order_by("-beat_at").values_list("beat_at", flat=True).first()


def count_processes(kind: str, *, now: datetime) -> tuple[int, int]:
    """(alive, silent): the processes of `kind` that beat within its max age, and those that did not (dead,
    or replaced by a restart) but beat within HEARTBEATS_KEPT_FOR."""
    beats = Heartbeat.objects.filter(kind=kind, beat_at__gte=now - HEARTBEATS_KEPT_FOR)
    alive = beats.filter(beat_at__gte=now - max_age(kind)).count()
    return alive, beats.count() - alive
