"""Runs the real qcluster and poller (or pacer) as subprocesses on the test database and sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.conftest import TEST_FERNET_KEY
from vibeapp.children import stop_groups

ROOT = Path(__file__).resolve().parents[2]


def database_env() -> dict[str, str]:
    """Point a child process at the database this test run uses (the test database, not the dev one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"VIBE_SQLITE_PATH": str(db["NAME"]), "DATABASE_URL": ""}
    user, host, port = db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return {"DATABASE_URL": f"postgres://{user}@{host}:{port}/{db['NAME']}"}


class LiveStack:
    """qcluster and poller (or pacer) processes sharing this test's database, broker and sandbox."""

    def __init__(self, *, base_url: str, app_key: str, extra_env: dict[str, str] | None = None) -> None:
        self.env = {
            **os.environ,
            **database_env(),
            "REDIS_URL": settings.REDIS_URL,
            "VIBE_APP_KEY": app_key,
            "VIBE_BASE_URL": base_url,
            "VIBE_FERNET_KEYS": TEST_FERNET_KEY,
            "VIBE_Q_NAME": f"test-{uuid.uuid4().hex[:8]}",
            "VIBE_Q_WORKERS": "2",
            # Short, in the required order (lease > timeout > deadline), so a killed cycle is retried soon.
            "VIBE_Q_TIMEOUT": "6",
            "VIBE_Q_RETRY": "8",
            "BOTCORE_LEASE_SECONDS": "7",
            "BOTCORE_CYCLE_DEADLINE_SECONDS": "4",
            "BOTCORE_EARLY_POLL_FLOOR_SECONDS": "0.5",
            # These tests are about crashes and overlap, not pacing: the sandbox fixture lifts its limit too.
            "VIBE_BUDGET_PER_SECOND": "200",
            "BOTCORE_POLL_FAST_SECONDS": "0.2",
            "BOTCORE_POLL_SLOW_SECONDS": "1",
            "VIBE_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *, own_pid_namespace: bool = False) -> subprocess.Popen:
        """Start the process `name` (qcluster, pacer, poller, a number after it for a second one); with
        `own_pid_namespace`, as PID 1 of a PID namespace of its own, as a container runs it (unshare: root,
        or user namespaces)."""
        command = {"qcluster": "qcluster", "pacer": "runpacer", "poller": "runpoller"}[
            name.rstrip("0123456789")
        ]
        in_namespace = ["unshare", "--pid", "--fork", "--mount-proc"] if own_pid_namespace else []
        process = subprocess.Popen(
            [*in_namespace, sys.executable, str(ROOT / "manage.py"), command],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it forked (a qcluster's workers), as a crash would."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM each process (not its group: a qcluster stops its own workers, and hangs when they were
        signalled behind its back), SIGKILL the group of any still running after the grace period."""
        processes = list(self.processes.values())
        self.processes.clear()
        stop_groups(processes, grace=15)


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
