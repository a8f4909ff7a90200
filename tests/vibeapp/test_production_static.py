"""Behind gunicorn in production mode the admin is styled: collectstatic's hashed files, served by
whitenoise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from sandbox.runner import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_admin_login_page_and_its_stylesheet_are_served_by_gunicorn(tmp_path):
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIBE_"))}
    env = {
        **clean,
        "VIBE_ENVIRONMENT": "production",
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "VIBE_FERNET_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "VIBE_VAR_DIR": str(tmp_path),
        "VIBE_WEB_BIND": f"127.0.0.1:{port}",
        "VIBE_WEB_WORKERS": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-c", "deploy/gunicorn.conf.py", "vibeapp.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not come up"
                time.sleep(0.3)
        login = httpx.get(f"{base}/admin/login/", timeout=5)
        assert login.status_code == 200
        stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', login.text)
        assert stylesheet, "the admin links a hashed stylesheet"
        css = httpx.get(base + stylesheet.group(1), timeout=5)
        assert css.status_code == 200 and "max-age" in css.headers.get("cache-control", "")
    finally:
        server.terminate()
        server.wait(timeout=20)
