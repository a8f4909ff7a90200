"""`manage.py runstack`: the whole system on one machine — sandbox, web, task workers, pacer — and a demo portal."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from vibeapp.env import ensure_local_secret


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass  # already gone


def _stop_on_sigterm(signum, frame) -> None:
    """SIGTERM (a service manager, `timeout`) stops the stack as cleanly as Ctrl-C does."""
    raise KeyboardInterrupt


def _wait_until_up(url: str, *, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise CommandError(f"{url} did not come up within {seconds:.0f}s")


def build_commands(*, web_port: int, sandbox_port: int, gateway_port: int) -> dict[str, list[str]]:
    """The stack's processes by name; no secret on any of these lines (the sandbox reads its key from the env)."""
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    return {
        "sandbox": [*manage, "runsandbox", "--port", str(sandbox_port), "--gateway-port", str(gateway_port),
                    "--app-url", f"http://127.0.0.1:{web_port}", "--demo",
                    # The sandbox remembers its portals, bots and sessions between runs, like the platform.
                    "--state-file", str(Path(settings.VAR_DIR) / "sandbox-state.pickle")],
        "web": [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"],
        "qcluster": [*manage, "qcluster"],
        "pacer": [*manage, "runpacer"],
    }


class Command(BaseCommand):
    help = (
        "Start the embedded default: the VibeCode sandbox (with its gateway and a demo portal), the web app, "
        "the django-q2 cluster and the pacer; install the demo portal as its admin would; stop all on Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--web-port", type=int, default=settings.VIBE_WEB_PORT)
        parser.add_argument("--sandbox-port", type=int, default=settings.VIBE_SANDBOX_PORT)
        parser.add_argument("--gateway-port", type=int, default=settings.VIBE_GATEWAY_PORT)
        parser.add_argument("--no-demo-install", action="store_true", help="leave the demo portal uninstalled")

    def handle(self, *args, web_port: int, sandbox_port: int, gateway_port: int, no_demo_install: bool, **options):
        app_key = settings.VIBE_APP_KEY or ensure_local_secret(
            Path(settings.VAR_DIR) / "demo_app_key", lambda: "vibe_app_" + secrets.token_hex(20)
        )
        web = f"http://127.0.0.1:{web_port}"
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        gateway = f"http://127.0.0.1:{gateway_port}"
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
            "PYTHONUNBUFFERED": "1",
            # Secrets travel in the environment, never on a command line (`ps` shows those to every user).
            "SANDBOX_DEMO_APP_KEY": app_key,
            # The embedded default is a developer's machine: debug pages on, unless the caller said otherwise.
            "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1"),
        }
        os.environ.update({k: env[k] for k in ("VIBE_APP_KEY", "VIBE_BASE_URL", "VIBE_APP_PUBLIC_URL")})
        self.stdout.write("Preparing the database…")
        call_command("migrate", verbosity=0)
        call_command("ensure_schedules", stdout=self.stdout)

        commands = build_commands(web_port=web_port, sandbox_port=sandbox_port, gateway_port=gateway_port)
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        processes = {name: self._spawn(name, argv, env) for name, argv in commands.items()}
        try:
            _wait_until_up(f"{sandbox}/v1")
            _wait_until_up(f"{web}/healthz")
            if not no_demo_install:
                self._install_demo_portal(sandbox=sandbox, gateway=gateway)
            self._print_welcome(web=web, sandbox=sandbox, gateway=gateway)
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            dead = [name for name, p in processes.items() if p.poll() is not None]
            raise CommandError(f"{', '.join(dead)} stopped; shutting the rest down")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            # Each child leads its own process group, so the whole tree (a qcluster's workers too) is signalled.
            for process in processes.values():
                _signal_group(process, signal.SIGINT)
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                _signal_group(process, signal.SIGKILL)  # whatever outlived a graceful stop

    def _spawn(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True
        )

        def relay() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.stdout.write(f"[{name:8}] {line.rstrip()}")

        threading.Thread(target=relay, daemon=True).start()
        return process

    def _install_demo_portal(self, *, sandbox: str, gateway: str) -> None:
        """Open the app through the gateway as the demo portal's admin, exactly as a person would."""
        state = httpx.get(f"{sandbox}/_sandbox/state", timeout=5)
        users = [u for p in state.json()["data"]["portals"] for u in p["users"] if u.get("isAdmin")]
        if not users:
            raise CommandError("the sandbox's demo portal has no admin to install it")
        with httpx.Client(follow_redirects=True, timeout=15) as browser:
            page = browser.get(f"{gateway}/_gateway/open", params={"userId": users[0]["id"], "next": "/"})
        if page.status_code != 200:
            raise CommandError(f"installing the demo portal through the gateway failed: HTTP {page.status_code}")
        self.stdout.write(f"Demo portal opened by {users[0]['name']} through the gateway (the first time, that installs it).")

    def _print_welcome(self, *, web: str, sandbox: str, gateway: str) -> None:
        self.stdout.write(self.style.SUCCESS("\nvibeapp is running.\n"))
        self.stdout.write(f"  Talk to the demo bot:      {sandbox}/chat")
        self.stdout.write(f"  Open the app as a user:    {gateway}/_gateway/login")
        self.stdout.write(f"  Operators (Django admin):  {web}/admin/   (create a user: python manage.py createsuperuser)")
        self.stdout.write(f"  Health and metrics:        {web}/readyz · {web}/metrics   (docs/operators.md)")
        self.stdout.write(f"  Platform API (sandbox):    {sandbox}/v1   · control API {sandbox}/_sandbox")
        self.stdout.write("  Stop everything with Ctrl-C.\n")
