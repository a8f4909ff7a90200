"""/healthz answers while the process runs; /readyz names each part that is down with a 503, and sends no
secret."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from ops import health
from ops.heartbeat import beat_qcluster, record_heartbeat, this_instance
from ops.models import Heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_platform_answers():
    health._platform_memo.clear()
    yield
    health._platform_memo.clear()


@pytest.fixture
def platform_up(sandbox, settings):
    settings.VIBE_BASE_URL = sandbox.base_url
    return sandbox


def test_healthz_answers_without_touching_anything():
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ok_when_every_part_answers(platform_up):
    record_heartbeat(kind="poller", force=True)
    beat_qcluster()
    response = Client().get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["down"] == []
    assert set(body["checks"]) == {"database", "broker", "poller", "qcluster", "platform"}


def test_a_platform_outage_rehearsed_in_the_sandbox_shows_in_readyz(platform_up):
    """The runbook's "platform outage" (a sandbox fault on every path): the check's unauthenticated GET of the
    API's root is answered as every other path is, 503, not 404 (which read as reachable)."""
    import httpx

    control = httpx.Client(base_url=platform_up.root_url, timeout=5)
    assert control.post("/_sandbox/faults", json={"path": "*", "errorRate": 1}).status_code in (200, 201)
    result = health.check_platform()
    assert result.ok is False and result.detail["status"] >= 500
    control.delete("/_sandbox/faults")
    health._platform_memo.clear()
    assert health.check_platform().ok is True


@pytest.mark.parametrize(("dialect", "status"), [(None, 401), ("path-before-key", 404)])
def test_the_platform_is_reachable_whichever_check_answers_its_keyless_get_first(
    platform_up, dialect, status
):
    """The check's GET of the API root carries no key: the sandbox asks for one first (401 AUTH_REQUIRED, a
    gateway's order), `path-before-key` finds no such path first (404). Either is the platform answering."""
    import httpx

    control = httpx.Client(base_url=platform_up.root_url, timeout=5)
    control.post("/_sandbox/dialects", json={"dialects": [dialect] if dialect else []}).raise_for_status()
    result = health.check_platform()
    assert result.ok is True and result.detail["status"] == status


def test_readyz_names_silent_processes_and_an_unreachable_platform(settings):
    settings.VIBE_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    Heartbeat.objects.create(
        kind="poller", instance="old-host", beat_at=ten_minutes_ago, worked_at=ten_minutes_ago
    )
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["platform", "poller", "qcluster"]
    assert body["checks"]["qcluster"]["error"] == "never beat"
    assert body["checks"]["poller"]["age_seconds"] >= 600


def test_while_the_database_is_down_readyz_names_it_and_not_the_processes_whose_beats_it_holds(
    monkeypatch, settings
):
    """From an on-call trial: with the database refusing, /readyz named database, poller and qcluster, and
    the operator restarted a poller and a qcluster that were fine (their beats are rows of that database)."""
    from django.db import OperationalError

    settings.VIBE_BASE_URL = "http://127.0.0.1:9/v1"
    record_heartbeat(kind="poller", force=True)
    beat_qcluster()

    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "check_database", lambda: health.Check(False, {"error": "OperationalError"}))
    monkeypatch.setattr(health, "find_latest_work", refused)
    body = Client().get("/readyz").json()
    assert body["down"] == ["database", "platform"]
    assert body["checks"]["poller"]["ok"] is None and "database" in body["checks"]["poller"]["unknown"]


def test_readyz_down_logs_what_is_down_as_a_warning_and_no_error(settings, caplog):
    settings.VIBE_BASE_URL = "http://127.0.0.1:9/v1"
    with caplog.at_level(logging.INFO):
        assert Client().get("/readyz").status_code == 503
        assert Client().get("/no-such-page-here").status_code == 404  # other answers still logged
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert ("ops.views", "WARNING", "not ready: platform, poller, qcluster down") in lines
    assert not [line for line in lines if line[1] == "ERROR"], lines
    assert ("django.request", "WARNING", "Not Found: /no-such-page-here") in lines


@pytest.fixture
def listening_platform():
    """A stand-in platform that records the headers of each request it gets and answers 401, as to no key."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(dict(self.headers))
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", seen
    server.shutdown()


def test_the_platform_check_sends_no_credential(listening_platform, settings):
    url, seen = listening_platform
    settings.VIBE_BASE_URL = url
    settings.VIBE_APP_KEY = "vibe_app_" + "z" * 40
    result = health.check_platform()
    assert result.ok and result.detail["status"] == 401
    assert len(seen) == 1
    sent = " ".join(f"{k}: {v}" for k, v in seen[0].items()).lower()
    assert "vibe_app_" not in sent and "authorization" not in sent and "x-api-key" not in sent


def test_heartbeats_are_throttled_per_process(settings):
    settings.OPS_HEARTBEAT_EVERY_SECONDS = 3600
    record_heartbeat(kind="poller", force=True)
    first = Heartbeat.objects.get(kind="poller").beat_at
    record_heartbeat(kind="poller")
    assert Heartbeat.objects.get(kind="poller").beat_at == first


def test_check_heartbeat_command_reads_this_hosts_row():
    with pytest.raises(CommandError):
        call_command("check_heartbeat", "poller")
    Heartbeat.objects.create(kind="poller", instance=this_instance(), beat_at=timezone.now())
    call_command("check_heartbeat", "poller")
    Heartbeat.objects.filter(kind="poller").update(beat_at=timezone.now() - timedelta(hours=1))
    with pytest.raises(CommandError):
        call_command("check_heartbeat", "poller")


def test_a_full_metrics_directory_shows_in_readyz(tmp_path, monkeypatch, settings):
    """Every process memory-maps its series in PROMETHEUS_MULTIPROC_DIR: once it is full, each new worker
    dies of SIGBUS at its first metric and no reply goes out, while /readyz said ok (an on-call trial: 65 of
    88 messages unanswered in a minute). Now it names `metrics_dir` with the free space left."""
    import os
    from types import SimpleNamespace

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    settings.OPS_METRICS_DIR_MIN_FREE_BYTES = 4 * 1024 * 1024
    real_statvfs = os.statvfs

    def nearly_full(path):
        if str(path) == str(tmp_path):
            return SimpleNamespace(f_bavail=10, f_frsize=4096)
        return real_statvfs(path)

    monkeypatch.setattr(health.os, "statvfs", nearly_full)
    result = health.run_readiness_checks()["metrics_dir"]
    assert result.ok is False
    # The directory's path is the operator's to know: /readyz answers anyone who can reach it.
    assert result.detail == {"free_bytes": 40960}
    monkeypatch.setattr(health.os, "statvfs", real_statvfs)
    assert health.run_readiness_checks()["metrics_dir"].ok is True


def test_no_metrics_directory_no_check(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert "metrics_dir" not in health.run_readiness_checks()


@pytest.mark.django_db(transaction=True)
def test_a_sqlite_database_another_process_holds_locked_shows_in_readyz():
    # From an outside trial: another process held SQLite's write lock for 90 s. Reads went on (WAL), so
    # `database` stayed ok while every write waited and failed; after a minute /readyz named the poller
    # alone, whose own log sent the operator to /readyz's `database`.
    import sqlite3

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer")
    writer = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        locked = health.check_database()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert locked == health.Check(False, {"error": "OperationalError", "write": "database is locked"})
    assert health.check_database() == health.Check(True)
    with connection.cursor() as cursor:  # the connection's own wait for the lock is given back
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == connection.settings_dict["OPTIONS"]["timeout"] * 1000


@pytest.mark.django_db(transaction=True)
def test_a_sqlite_database_on_a_nearly_full_disk_shows_in_readyz(monkeypatch, settings):
    # From an outside trial of the embedded default: with the disk full every cycle's write failed while
    # /readyz said the database was fine (SELECT 1 and the write lock need no new page).
    import os
    from pathlib import Path
    from types import SimpleNamespace

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the database's own disk is the server's to watch on PostgreSQL")
    settings.OPS_DATABASE_DIR_MIN_FREE_BYTES = 64 * 1024 * 1024
    database_dir = str(Path(connection.settings_dict["NAME"]).resolve().parent)
    real_statvfs = os.statvfs

    def nearly_full(path):
        if str(path) == database_dir:
            return SimpleNamespace(f_bavail=100, f_frsize=4096)
        return real_statvfs(path)

    monkeypatch.setattr(health.os, "statvfs", nearly_full)
    result = health.run_readiness_checks()["database"]
    # Its path stays out of the answer, as the metrics directory's does.
    assert result == health.Check(False, {"error": "disk nearly full", "free_bytes": 409600})
    monkeypatch.setattr(health.os, "statvfs", real_statvfs)
    assert health.check_database() == health.Check(True)
