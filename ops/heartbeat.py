"""Write and read heartbeats; a process beats at most every few seconds, however often its loop turns."""

from __future__ import annotations

import logging
import socket
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from ops.models import Heartbeat
from ops.release import running_release

log = logging.getLogger(__name__)

_last_beat: dict[str, float] = {}


def this_instance() -> str:
    return socket.gethostname()[:255]


def record_heartbeat(*, kind: str, force: bool = False) -> None:
    """Say this process's loop of `kind` turns; cheap to call on every turn (throttled), never raises."""
    now = time.monotonic()
    if not force and now - _last_beat.get(kind, float("-inf")) < settings.OPS_HEARTBEAT_EVERY_SECONDS:
        return
    try:
        Heartbeat.objects.update_or_create(
            kind=kind,
            instance=this_instance(),
            defaults={"beat_at": timezone.now(), "release": running_release()},
        )
    except DatabaseError:
        # The database is what /readyz reports on; a lost beat is the symptom it shows, not a crash of the
        # loop.
        log.debug("heartbeat not written kind=%s", kind, exc_info=True)
        return
    _last_beat[kind] = now


def beat_qcluster() -> None:
    """A django-q2 schedule runs this each minute: a beat proves scheduler, broker and a worker all turn."""
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER, force=True)


def beat_poller() -> None:
    """The process that watches the bots for events (runpoller, or runpacer in its place) beats each round;
    throttled like any beat."""
    record_heartbeat(kind=Heartbeat.Kind.POLLER)


def max_age(kind: str) -> timedelta:
    return timedelta(seconds=settings.OPS_HEARTBEAT_MAX_AGE_SECONDS[kind])


def find_latest_beat(kind: str, *, instance: str | None = None) -> datetime | None:
    query = Heartbeat.objects.filter(kind=kind)
    if instance is not None:
        query = query.filter(instance=instance)
    return query.order_by("-beat_at").values_list("beat_at", flat=True).first()
