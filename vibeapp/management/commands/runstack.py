"""`manage.py runstack`: the whole system on one machine (sandbox, web, task workers, poller) and a demo
portal."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Portal
from tenants.selectors import find_portal
from vibeapp.children import stop_groups
from vibeapp.database_steps import migrate_in_steps
from vibeapp.env import ensure_local_secret, make_private_dir

STOP_GRACE_SECONDS = 10.0


class _StopRequested(Exception):
    """The first Ctrl-C or SIGTERM; any further one while stopping is ignored, never a traceback."""


class _StopSignals:
    """Turn the first SIGINT/SIGTERM into _StopRequested; swallow the rest (make forwards a second one)."""

    def __init__(self) -> None:
        self.stopping = False

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if self.stopping:
            return
        self.stopping = True
        raise _StopRequested


def _wait_until_up(url: str, *, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise CommandError(f"{url} did not come up within {seconds:.0f}s")


def hold_var_dir(var_dir: Path) -> int:
    """Lock `var_dir` for this stack, or raise CommandError naming the runstack that holds it.

    A second stack on one var/ runs a second sandbox, another platform, over the same database: its workers
    take the first stack's queued cycles there, meet TOKEN_INVALID, and every portal then waits for a
    session, on both stacks. The lock is an flock on an open file, which the children inherit (see _spawn):
    it holds while any process of the stack lives, even with runstack itself killed, and ends with the last.
    """
    path = var_dir / "runstack.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise CommandError(
            f"another runstack (pid {holder}, or the processes it started) is running on {var_dir}: stop it"
            " first, or give this one a var/ of its own with VIBE_VAR_DIR"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def check_ports_free(ports: dict[str, int]) -> None:
    """Raise CommandError naming the first port something already listens on (another stack, another app).

    Otherwise the stack starts, its readiness checks are answered by whatever holds the port (another stack's
    sandbox and web: the demo portal is then opened on that stack), and only its child's bind error tells.
    """
    for name, port in ports.items():
        with socket.socket() as sock:
            # As the servers bind: a port whose last connections wait in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as error:
                raise CommandError(
                    f"port {port}, the {name}'s, is taken ({error.strerror}): stop what listens there, or"
                    f" give the {name} another with VIBE_{name.upper()}_PORT (or --{name}-port)"
                ) from None


def build_commands(*, web_port: int, sandbox_port: int, gateway_port: int) -> dict[str, list[str]]:
    """The stack's processes by name; no secret on any of these lines (the sandbox reads its key from the
    environment)."""
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    return {
        "sandbox": [
            *manage,
            "runsandbox",
            "--port",
            str(sandbox_port),
            "--gateway-port",
            str(gateway_port),
            "--app-url",
            f"http://127.0.0.1:{web_port}",
            "--demo",
            # The sandbox remembers its portals, bots and sessions between runs, like the platform.
            "--state-file",
            str(Path(settings.VAR_DIR) / "sandbox-state.pickle"),
        ],
        "web": [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"],
        "qcluster": [*manage, "qcluster"],
        "poller": [*manage, "runpoller"],
    }


class Command(BaseCommand):
    help = (
        "Start the embedded default: the VibeCode sandbox (with its gateway and a demo portal), the web app, "
        "the django-q2 cluster and the poller; install the demo portal as its admin would;"
        " stop all on Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--web-port", type=int, default=settings.VIBE_WEB_PORT)
        parser.add_argument("--sandbox-port", type=int, default=settings.VIBE_SANDBOX_PORT)
        parser.add_argument("--gateway-port", type=int, default=settings.VIBE_GATEWAY_PORT)
        parser.add_argument(
            "--no-demo-install", action="store_true", help="leave the demo portal uninstalled"
        )

    def handle(
        self, *args, web_port: int, sandbox_port: int, gateway_port: int, no_demo_install: bool, **options
    ):
        if not settings.VIBE_SANDBOX_INSTALLED:
            raise CommandError('runstack needs the sandbox: pip install -e ".[sandbox]" (make run does)')
        app_key = settings.VIBE_APP_KEY or ensure_local_secret(
            Path(settings.VAR_DIR) / "demo_app_key", lambda: "vibe_app_" + secrets.token_hex(20)
        )
        web = f"http://127.0.0.1:{web_port}"
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        gateway = f"http://127.0.0.1:{gateway_port}"
        make_private_dir(Path(settings.VAR_DIR))  # before migrate creates the database in it
        self.var_dir_lock = hold_var_dir(Path(settings.VAR_DIR))
        try:
            check_ports_free({"web": web_port, "sandbox": sandbox_port, "gateway": gateway_port})
        except CommandError:
            os.close(self.var_dir_lock)
            raise
        metrics_dir = Path(settings.VAR_DIR) / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # counters start afresh with the stack
        metrics_dir.mkdir(parents=True)
        env = {
            **os.environ,
            # Every process writes its series here; the web's /metrics sums them.
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "VIBE_APP_KEY": app_key,
            "VIBE_BASE_URL": f"{sandbox}/v1",
            "VIBE_APP_PUBLIC_URL": gateway,
            # The ports as the flags gave them: the web's settings read them (the sandbox's portal page frames
            # the portal pages); without them it named port 8100's sandbox, perhaps another stack's.
            "VIBE_WEB_PORT": str(web_port),
            "VIBE_SANDBOX_PORT": str(sandbox_port),
            "VIBE_GATEWAY_PORT": str(gateway_port),
            "PYTHONUNBUFFERED": "1",
            # Secrets travel in the environment, never on a command line (`ps` shows those to every user).
            "SANDBOX_DEMO_APP_KEY": app_key,
            # The embedded default is a developer's machine: debug pages on, unless the caller said otherwise.
            "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1"),
        }
        os.environ.update({k: env[k] for k in ("VIBE_APP_KEY", "VIBE_BASE_URL", "VIBE_APP_PUBLIC_URL")})

        commands = build_commands(web_port=web_port, sandbox_port=sandbox_port, gateway_port=gateway_port)
        stop_signals = _StopSignals()
        stop_signals.install()
        processes: dict[str, subprocess.Popen] = {}
        try:
            migrate_in_steps(self.stdout.write)
            call_command("ensure_schedules", stdout=self.stdout)
            for name, argv in commands.items():
                processes[name] = self._spawn(name, argv, env)
            _wait_until_up(f"{sandbox}/v1")
            _wait_until_up(f"{web}/healthz")
            if not no_demo_install:
                self._install_demo_portal(sandbox=sandbox, gateway=gateway)
            self._print_welcome(web=web, sandbox=sandbox, gateway=gateway)
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            dead = [name for name, p in processes.items() if p.poll() is not None]
            raise CommandError(f"{', '.join(dead)} stopped; shutting the rest down")
        except _StopRequested:
            self.stdout.write("\nStopping…")
        finally:
            stop_signals.stopping = True  # a signal during the cleanup must not interrupt it
            # The app first, the platform last: a task still running must not find the sandbox gone.
            app = [p for name, p in processes.items() if name != "sandbox"]
            platform = [p for name, p in processes.items() if name == "sandbox"]
            killed = stop_groups(app, grace=STOP_GRACE_SECONDS) + stop_groups(
                platform, grace=STOP_GRACE_SECONDS
            )
            names = [name for name, p in processes.items() if p.pid in killed]
            if names:
                self.stdout.write(
                    f"Killed {', '.join(names)}: not stopped {STOP_GRACE_SECONDS:.0f}s after SIGTERM."
                )
            self.stdout.write("Stopped.")

    def _spawn(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
            pass_fds=(self.var_dir_lock,),  # the var/ lock lives while any process of the stack does
        )

        def relay() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.stdout.write(f"[{name:8}] {line.rstrip()}")

        threading.Thread(target=relay, daemon=True).start()
        return process

    def _install_demo_portal(self, *, sandbox: str, gateway: str) -> None:
        """Open the app through the gateway as the demo portal's admin, exactly as a person would: that
        installs the portal unless it is installed already (a start after the first); the line says which."""
        state = httpx.get(f"{sandbox}/_sandbox/state", timeout=5)
        admins = [(p, u) for p in state.json()["data"]["portals"] for u in p["users"] if u.get("isAdmin")]
        if not admins:
            raise CommandError("the sandbox's demo portal has no admin to install it")
        portal, admin = admins[0]
        known = find_portal(member_id=portal["memberId"])
        installed_before = known is not None and known.status != Portal.Status.UNINSTALLED
        with httpx.Client(follow_redirects=True, timeout=15) as browser:
            page = browser.get(f"{gateway}/_gateway/open", params={"userId": admin["id"], "next": "/"})
        if page.status_code != 200:
            raise CommandError(
                f"installing the demo portal through the gateway failed: HTTP {page.status_code}"
            )
        if installed_before:
            self.stdout.write(
                f"Demo portal opened again by {admin['name']} through the gateway (installed already)."
            )
        else:
            self.stdout.write(f"Demo portal installed: opened by {admin['name']} through the gateway.")

    def _print_welcome(self, *, web: str, sandbox: str, gateway: str) -> None:
        self.stdout.write(self.style.SUCCESS("\nvibeapp is running.\n"))
        self.stdout.write(f"  Talk to the demo bot:      {sandbox}/chat")
        self.stdout.write(f"  Open the app as a user:    {gateway}/_gateway/login")
        self.stdout.write(f"  ... in the portal's frame: {sandbox}/portal   (as Bitrix24 shows it)")
        self.stdout.write(
            f"  Operators (Django admin):  {web}/admin/   (an account: manage.py create_operator NAME)"
        )
        self.stdout.write(f"  Health and metrics:        {web}/readyz · {web}/metrics   (docs/operators.md)")
        self.stdout.write(f"  Platform API (sandbox):    {sandbox}/v1   · control API {sandbox}/_sandbox")
        self.stdout.write("  Stop everything with Ctrl-C.\n")
