"""What a process loads as it starts (django.setup(), which every manage.py command, the qcluster and the
poller run first): not what only some of them use. Start-up is restart downtime and it is paid again by every
process the tests spawn; figures in docs/benchmarks.md (benchmarks/startup.py). Read from a fresh process,
since this one has long imported everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Loaded only when a schema is built (ops/schema.py), or by DRF's fields, which drf-spectacular's plumbing
# imports, and whose compat module imports PostgreSQL's field types, and so psycopg, wherever it is installed.
NOT_AT_START_ON_SQLITE = [
    "psycopg",
    "django.contrib.postgres.fields",
    "drf_spectacular.plumbing",
    "drf_spectacular.openapi",
    "drf_spectacular.generators",
    "rest_framework.fields",
    "rest_framework.test",
]
ROOT_URLCONF = "vibeapp.urls"


def run_python(code: str, tmp_path: Path) -> str:
    prefixes = ("DJANGO_", "VIBE_", "DATABASE_", "REDIS_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "vibeapp.settings", "VIBE_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_setup_on_sqlite_loads_no_postgresql_driver_nor_schema_machinery(tmp_path):
    """django.setup() imported drf-spectacular's extension machinery (ops.schema, from ops' ready()) and with
    it DRF's fields, its test client and psycopg: ~0.35 s of a ~0.9 s start, in the qcluster, the poller and
    each manage.py command, none of which builds a schema, and psycopg on SQLite."""
    code = (
        "import json, sys, django; django.setup()\n"
        f"print(json.dumps([name for name in {NOT_AT_START_ON_SQLITE!r} if name in sys.modules]))"
    )
    assert json.loads(run_python(code, tmp_path)) == []


@pytest.mark.slow
def test_a_schema_built_outside_the_view_still_knows_the_portal_session(tmp_path):
    """drf-spectacular's deploy check and `manage.py spectacular` build the schema with the generator the
    settings name, no view involved: that generator's module registers the extension, which ops' ready() no
    longer imports."""
    code = (
        "import json, django; django.setup()\n"
        "from drf_spectacular.settings import spectacular_settings\n"
        "schema = spectacular_settings.DEFAULT_GENERATOR_CLASS().get_schema(request=None, public=True)\n"
        "print(json.dumps(sorted(schema['components']['securitySchemes'])))"
    )
    assert "portalSession" in json.loads(run_python(code, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize(("app", "command"), [("vibeapp", "qcluster"), ("botcore", "runpoller")])
def test_a_process_that_serves_no_page_starts_without_loading_the_web(tmp_path, app, command):
    """The system checks the qcluster and the poller ran as they started loaded the URLconf (every view) and
    every template tag library (the admin's checks build the template engine), DRF's among them and through
    DRF psycopg: ~0.3 s of CPU of their start, for pages they never serve."""
    code = (
        "import json, sys, django; django.setup()\n"
        "from django.core.management import load_command_class\n"
        f"command = load_command_class({app!r}, {command!r})\n"
        "tags = command.requires_system_checks\n"
        "command.check(tags=None if tags == '__all__' else tags)\n"
        f"print(json.dumps([name for name in {[*NOT_AT_START_ON_SQLITE, ROOT_URLCONF]!r}"
        " if name in sys.modules]))"
    )
    assert json.loads(run_python(code, tmp_path)) == []


def test_the_processes_that_serve_no_page_skip_only_the_webs_checks():
    """Every check runs in the qcluster and the poller but those of URLs, templates and the admin, and
    django.contrib.auth's middleware check, which has no tag: a project check without one would be skipped
    there, unnoticed."""
    from django.core.checks.registry import registry

    from vibeapp.start_checks import BACKGROUND_PROCESS_CHECKS, WEB_ONLY

    skipped = [
        check for check in registry.get_checks() if set(check.tags).isdisjoint(BACKGROUND_PROCESS_CHECKS)
    ]
    untagged = {f"{check.__module__}.{check.__name__}" for check in skipped if not set(check.tags) & WEB_ONLY}
    assert untagged == {"django.contrib.auth.checks.check_middleware"}
