"""Behind gunicorn in production mode the admin is styled: collectstatic's hashed files, served by
whitenoise."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.vibeapp.gunicorn_server import collect_static, production_web_env, served_by_gunicorn

pytestmark = pytest.mark.slow


def test_the_admin_login_page_and_its_stylesheet_are_served_by_gunicorn(tmp_path):
    env = production_web_env(tmp_path, HOME=str(tmp_path), XDG_RUNTIME_DIR="")
    collect_static(env)
    with served_by_gunicorn(env) as base:
        login = httpx.get(f"{base}/admin/login/", timeout=5)
        assert login.status_code == 200
        stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]+\.css)"', login.text)
        assert stylesheet, "the admin links a hashed stylesheet"
        css = httpx.get(base + stylesheet.group(1), timeout=5)
        assert css.status_code == 200 and "max-age" in css.headers.get("cache-control", "")
        # No control socket under $HOME (the unit's ProtectHome=true makes it unwritable).
        assert not (tmp_path / ".gunicorn").exists()
