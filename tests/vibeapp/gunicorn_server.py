"""The web process as deploy/ runs it: gunicorn with deploy/gunicorn.conf.py, in production mode, on a free
loopback port, stopped with SIGTERM as systemd stops it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from sandbox.runner import free_port

ROOT = Path(__file__).resolve().parents[2]


def production_web_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A production environment for one gunicorn worker on a free port (VIBE_WEB_BIND names it)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIBE_"))}
    return {
        **clean,
        "VIBE_ENVIRONMENT": "production",
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "VIBE_FERNET_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "VIBE_VAR_DIR": str(tmp_path),
        "VIBE_WEB_BIND": f"127.0.0.1:{free_port()}",
        "VIBE_WEB_WORKERS": "1",
        **extra,
    }


def collect_static(env: dict[str, str]) -> None:
    """collectstatic into the environment's DJANGO_STATIC_ROOT, as the web unit does before it starts."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


@contextmanager
def served_by_gunicorn(
    env: dict[str, str], *, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
) -> Iterator[str]:
    """gunicorn serving the app until the block ends; yields its base URL once /healthz answers."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-c", "deploy/gunicorn.conf.py", "vibeapp.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=stderr,
    )
    try:
        base = f"http://{env['VIBE_WEB_BIND']}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not come up"
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
