"""Readiness checks: the database (and, for SQLite, room left on its disk), the broker, the poller's and
qcluster's heartbeats (alive, and working), the platform reachable, and room left in the metrics directory.

Each check answers a `Check`; none raises. The platform is asked with no credential at all (any HTTP
answer below 500 means it is reachable), and at most every OPS_PLATFORM_CHECK_EVERY_SECONDS per process.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from botcore import conf
from ops.heartbeat import count_processes, find_latest_work, max_age
from ops.models import Heartbeat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: dict = field(default_factory=dict)
    # False where the check could not be made because another part is down: not named down itself.
    known: bool = True


# How long the check waits for SQLite's write lock; the processes' own writes wait the connection's timeout.
SQLITE_WRITE_CHECK_SECONDS = 1


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            if connection.vendor == "sqlite" and not connection.in_atomic_block:
                refused = find_sqlite_write_refusal(cursor)
                if refused is not None:
                    return Check(False, {"error": refused.__class__.__name__, "write": str(refused)})
    except DatabaseError as error:
        return Check(False, {"error": error.__class__.__name__})
    if connection.vendor == "sqlite":
        return check_sqlite_disk(str(connection.settings_dict["NAME"]))
    return Check(True)


def free_bytes(path: str) -> int:
    """Room left for an unprivileged process on the file system holding `path` (OSError when unreadable)."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def check_sqlite_disk(name: str) -> Check:
    """Room left beside an SQLite file (the embedded default: the database's disk is this host's). With the
    disk full, every write that needs a new page fails (events stored, replies recorded, heartbeats) while a
    SELECT and the write lock still pass, so the checks above said the database was fine. The file's path
    goes to the log, not to /readyz's answer."""
    if name == ":memory:" or name.startswith("file:"):
        return Check(True)
    directory = str(Path(name).resolve().parent)
    try:
        free = free_bytes(directory)
    except OSError as error:
        log.warning("the database's directory %s cannot be read: %s", directory, error.__class__.__name__)
        return Check(True)  # the database answered above: what cannot be measured is not named down
    if free < settings.OPS_DATABASE_DIR_MIN_FREE_BYTES:
        log.warning(
            "the database's disk (%s) has %d bytes free: writes fail when it is full", directory, free
        )
        return Check(False, {"error": "disk nearly full", "free_bytes": free})
    return Check(True)


def find_sqlite_write_refusal(cursor) -> DatabaseError | None:
    """Take SQLite's write lock and give it back at once; the error if it cannot be had. Reads go on (WAL)
    while another process holds the lock past the busy timeout or the file cannot be written, and every
    cycle, heartbeat and reply meanwhile waits and fails: a `SELECT 1` alone said the database was fine."""
    cursor.execute("PRAGMA busy_timeout")
    timeout_ms = int(cursor.fetchone()[0])
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_WRITE_CHECK_SECONDS * 1000}")
    try:
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("ROLLBACK")
    except DatabaseError as error:
        return error
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
    return None


def check_broker() -> Check:
    from django_q.brokers import get_broker

    try:
        broker = get_broker()
        ok = bool(broker.ping())
    except Exception as error:  # noqa: BLE001  (each broker client raises its own family; the name is enough)
        return Check(False, {"error": error.__class__.__name__})
    return Check(ok, {"broker": broker.__class__.__name__})


def check_heartbeat(kind: str) -> Check:
    """Up while the kind's work was done within its max age (`age_seconds`): one qcluster of two answers every
    bot, slower; a cluster alive whose workers do nothing is down. A work beat says its process lives, so up
    means one lives or was stopped on purpose since: a restart's gap of seconds fails no probe. How many live
    (`alive`), how many of those heard from today no longer beat (`silent`: dead, or replaced by a restart)
    and how many were stopped on purpose (`stopped`) are in the detail, for a monitor that knows how many
    there should be."""
    now = timezone.now()
    try:
        latest = find_latest_work(kind)
        count = count_processes(kind, now=now)
    except DatabaseError as error:
        return Check(False, {"error": error.__class__.__name__})
    detail = {"alive": count.alive, "silent": count.silent, "stopped": count.stopped}
    if latest is None:
        # Processes that live but never worked: the schedule has not run yet (or cannot: broker, workers).
        return Check(False, {"error": "never worked" if sum(count) else "never beat", **detail})
    age = (now - latest).total_seconds()
    return Check(age <= max_age(kind).total_seconds(), {"age_seconds": round(age, 1), **detail})


_platform_memo: dict[str, tuple[float, Check]] = {}


def check_platform() -> Check:
    """Reachable means any answer below 500 to an unauthenticated GET; no credential is ever sent."""
    url = conf.vibe_base_url() + "/"
    remembered = _platform_memo.get(url)
    if remembered and time.monotonic() - remembered[0] < settings.OPS_PLATFORM_CHECK_EVERY_SECONDS:
        return remembered[1]
    try:
        status = httpx.get(url, timeout=3.0).status_code
        result = Check(status < 500, {"status": status})
    except httpx.HTTPError as error:
        result = Check(False, {"error": error.__class__.__name__})
    _platform_memo[url] = (time.monotonic(), result)
    return result


def check_metrics_dir(path: str) -> Check:
    """Room left where every process of the host memory-maps its series (PROMETHEUS_MULTIPROC_DIR): a write
    that needs a page the file system cannot give is a SIGBUS, not an error, so a full directory kills each
    new worker at its first metric, and the qcluster restarts them in a loop while no reply goes out.
    The directory's path goes to the log, not to /readyz's answer, which anyone who reaches it reads."""
    try:
        free = free_bytes(path)
    except OSError as error:
        log.warning("metrics directory %s cannot be read: %s", path, error.__class__.__name__)
        return Check(False, {"error": error.__class__.__name__})
    if free < settings.OPS_METRICS_DIR_MIN_FREE_BYTES:
        log.warning("metrics directory %s has %d bytes free", path, free)
        return Check(False, {"free_bytes": free})
    return Check(True, {"free_bytes": free})


# The heartbeats are rows of the database: while it is down they cannot be read, and naming the poller and
# the qcluster down as well sent an on-call operator to restart processes that were fine.
UNREAD_BEAT = Check(False, {"unknown": "its heartbeat is read from the database, which is down"}, known=False)


def run_readiness_checks() -> dict[str, Check]:
    database = check_database()
    checks = {
        "database": database,
        "broker": check_broker(),
        "poller": check_heartbeat(Heartbeat.Kind.POLLER) if database.ok else UNREAD_BEAT,
        "qcluster": check_heartbeat(Heartbeat.Kind.QCLUSTER) if database.ok else UNREAD_BEAT,
        "platform": check_platform(),
    }
    if metrics_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        checks["metrics_dir"] = check_metrics_dir(metrics_dir)
    return checks
