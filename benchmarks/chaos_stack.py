"""The chaos benchmark's processes: a private redis-server, a throwaway PostgreSQL database, the sandbox, and
the app's qclusters and pollers (or pacers), each startable, killable and always cleaned up.

Every child runs in its own process group, so a kill takes a qcluster's forked workers with it and a
Ctrl-C in the terminal reaches only the benchmark, which then stops them all itself.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.sandbox_process import wait_for_sandbox
from vibeapp.children import signal_group, stop_groups

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def stop_group(process: subprocess.Popen, *, grace: float = 5.0) -> None:
    """SIGTERM the process (a qcluster stops its own workers, and hangs when they were signalled behind its
    back), then SIGKILL its group if anything of it is left after `grace` seconds (vibeapp/children.py)."""
    if process.poll() is not None:
        signal_group(pgid=process.pid, signum=signal.SIGKILL)  # its forked children may outlive it
        return
    stop_groups([process], grace=grace)


def wait_until(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def free_port() -> int:
    from sandbox.runner import free_port as pick

    return pick()


class PrivateRedis:
    """A redis-server of the benchmark's own; no persistence, so a restart loses the queue as a crash does."""

    def __init__(self, workdir: Path, *, port: int | None = None, db: int = 0) -> None:
        self.port = port or free_port()
        self.db = db
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self._answers, timeout=15, what="redis-server")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            signal_group(pgid=self.process.pid, signum=signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)
            self.process = None


class ScratchDatabase:
    """A PostgreSQL database created for one run and dropped after it (trust auth on 127.0.0.1)."""

    def __init__(self, *, host: str, port: int, user: str, name: str) -> None:
        self.host, self.port, self.user, self.name = host, port, user, name
        self.created = False

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{self.name}"

    def _admin(self):
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def create(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True

    def drop(self) -> None:
        if not self.created:
            return
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 (Django may never have been set up)
            pass
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.created = False


@dataclass
class AppProcess:
    """One qcluster, poller or pacer; `restart_at` set: killed, back then (as systemd would restart it)."""

    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    restart_at: float | None = None
    exits: int = 0  # times it ended by itself (a crash the benchmark did not cause)
    log: Path | None = field(default=None, repr=False)


class Stack:
    """The sandbox and the app's processes, all sharing one environment."""

    def __init__(self, *, env: dict[str, str], workdir: Path, sandbox_port: int) -> None:
        self.env = env
        self.workdir = workdir
        self.sandbox_port = sandbox_port
        self.sandbox: subprocess.Popen | None = None
        self.apps: dict[str, AppProcess] = {}

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.workdir / f"{log_name}.log", "ab")  # noqa: SIM115 - the child owns it from here
        try:
            return subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()

    def start_sandbox(self) -> None:
        # The platform's own limit is lifted: 429 storms are injected on purpose, not left to chance.
        command = [*MANAGE, "runsandbox", "--port", str(self.sandbox_port), "--rate-limit", "100000"]
        self.sandbox = self._spawn(command, "sandbox")
        wait_for_sandbox(self.sandbox, self.sandbox_url, timeout=60)

    def add_app(self, name: str) -> AppProcess:
        command = [
            *MANAGE,
            {"qcluster": "qcluster", "poller": "runpoller", "pacer": "runpacer"}[name.rstrip("0123456789")],
        ]
        app = AppProcess(name=name, command=command)
        self.apps[name] = app
        self.start_app(app)
        return app

    def start_app(self, app: AppProcess) -> None:
        app.process = self._spawn(app.command, app.name)
        app.restart_at = None

    def kill_app(self, name: str, *, restart_in: float) -> None:
        """SIGKILL the process and everything it forked, mid-whatever it was doing; restart it later."""
        app = self.apps[name]
        if app.process is not None:
            signal_group(pgid=app.process.pid, signum=signal.SIGKILL)
            app.process.wait(timeout=10)
            app.process = None
        app.restart_at = time.monotonic() + restart_in

    def kill_worker(self, name: str, rng: random.Random) -> bool:
        """SIGKILL one of a qcluster's worker processes (the cluster spawns a new one); False if none yet.

        django-q2 forks workers, a monitor and a pusher alike; a worker is the one talking to the sandbox,
        and when none has yet, any forked process that has no children of its own is taken. Never the
        sentinel (the main process's own child), which has none for a moment while it restarts the rest:
        killed, the whole qcluster ended, and the run counted it as a process that died by itself.
        """
        app = self.apps[name]
        if app.process is None:
            return False
        try:
            main = psutil.Process(app.process.pid)
            sentinels = {p.pid for p in main.children()}
            forked = [p for p in main.children(recursive=True) if p.pid not in sentinels and not p.children()]
        except psutil.NoSuchProcess:
            return False
        talking = [p for p in forked if self._talks_to_sandbox(p)]
        pool = talking or forked
        if not pool:
            return False
        try:
            rng.choice(pool).send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            return False
        return True

    def _talks_to_sandbox(self, process: psutil.Process) -> bool:
        try:
            return any(c.raddr and c.raddr.port == self.sandbox_port for c in process.net_connections("tcp"))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def supervise(self) -> None:
        """Bring back what was killed once its time has come, and what died by itself at once."""
        now = time.monotonic()
        for app in self.apps.values():
            if app.process is not None and app.process.poll() is not None:
                signal_group(pgid=app.process.pid, signum=signal.SIGKILL)
                app.exits += 1
                app.process = None
                app.restart_at = now + 1.0
            if app.process is None and app.restart_at is not None and app.restart_at <= now:
                self.start_app(app)

    def ensure_all_running(self) -> None:
        for app in self.apps.values():
            if app.process is None or app.process.poll() is not None:
                app.restart_at = 0.0
        self.supervise()

    def stop_apps(self) -> None:
        for app in self.apps.values():
            if app.process is not None:
                stop_group(app.process)
                app.process = None
            app.restart_at = None

    def stop(self) -> None:
        self.stop_apps()
        if self.sandbox is not None:
            stop_group(self.sandbox)
            self.sandbox = None
