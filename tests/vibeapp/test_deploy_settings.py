"""Settings as a fresh process reads them: DEBUG off unless asked, `check --deploy` clean in production, and
no secret on any command line `make run` starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from vibeapp.management.commands.runstack import build_commands

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIBE_"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("env", "expected"), [({}, "False"), ({"DJANGO_DEBUG": "1"}, "True")])
def test_debug_is_off_unless_asked_for(env, expected):
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    return {
        "VIBE_ENVIRONMENT": "production",
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "VIBE_FERNET_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "app.example.com",
        "VIBE_VAR_DIR": str(tmp_path),
        "VIBE_BASE_URL": "https://vibecode.bitrix24.tech/v1",
        "VIBE_APP_KEY": "vibe_app_" + "k" * 40,
        "REDIS_URL": "redis://127.0.0.1:6379/15",  # read, never reached: no check connects
        **extra,
    }


@pytest.mark.slow
def test_check_deploy_warns_about_open_metrics_in_production(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode != 0 and "ops.W001" in result.stderr + result.stdout


@pytest.mark.slow
def test_check_deploy_warns_about_a_platform_left_at_the_embedded_default(tmp_path):
    """Production on the embedded default's platform settings started without a word and called the
    sandbox's address on this machine, with no app key for portal sessions."""
    env = production_env(tmp_path, OPS_METRICS_TOKEN="scrape-" + "x" * 30)
    del env["VIBE_BASE_URL"], env["VIBE_APP_KEY"]
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    said = result.stderr + result.stdout
    assert result.returncode != 0
    assert "botcore.W011" in said and "http://127.0.0.1:8100/v1" in said and "botcore.W012" in said


@pytest.mark.slow
def test_check_deploy_is_clean_in_production(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=production_env(tmp_path, OPS_METRICS_TOKEN="scrape-" + "x" * 30),
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_runstack_puts_no_secret_on_a_command_line(settings):
    settings.VIBE_APP_KEY = "vibe_app_" + "s" * 40
    commands = build_commands(web_port=8000, sandbox_port=8100, gateway_port=8101)
    for argv in commands.values():
        assert not any("vibe_app_" in arg or "key" in arg.lower() for arg in argv), argv


@pytest.mark.slow
@pytest.mark.parametrize(("production", "expected"), [(False, "True"), (True, "False")])
def test_the_sandbox_is_an_app_only_off_production(tmp_path, production, expected):
    env = production_env(tmp_path) if production else {"VIBE_VAR_DIR": str(tmp_path)}
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print('sandbox' in settings.INSTALLED_APPS)",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_runstack_without_the_sandbox_says_how_to_install_it(settings):
    settings.VIBE_SANDBOX_INSTALLED = False
    with pytest.raises(CommandError, match=r"\.\[sandbox\]"):
        call_command("runstack")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "warning"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "*"}, "ops.W002"),
        ({"REDIS_URL": ""}, "ops.W003"),
    ],
    ids=["any-host", "no-shared-cache"],
)
def test_check_deploy_warns_about_production_settings_a_trial_found_silent(tmp_path, change, warning):
    """From a security trial: ALLOWED_HOSTS=* and rate limits kept in each process's memory passed
    `check --deploy` with "no issues"."""
    env = production_env(tmp_path, OPS_METRICS_TOKEN="scrape-" + "x" * 30, **change)
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    said = result.stderr + result.stdout
    assert result.returncode != 0 and warning in said, said


@pytest.mark.slow
def test_check_deploy_outside_production_says_production_was_not_checked(tmp_path):
    result = run_manage("check", "--deploy", env={"VIBE_VAR_DIR": str(tmp_path)})
    said = result.stderr + result.stdout
    assert "ops.W004" in said and "VIBE_ENVIRONMENT=production" in said, said


@pytest.mark.slow
def test_a_malformed_encryption_key_stops_every_command_naming_the_setting_not_the_key(tmp_path):
    result = run_manage(
        "check",
        env={"VIBE_VAR_DIR": str(tmp_path), "VIBE_FERNET_KEYS": f"{Fernet.generate_key().decode()},notakey"},
    )
    said = result.stderr + result.stdout
    assert result.returncode != 0 and "tenants.E001" in said and "item 2" in said, said
    assert "notakey" not in said


@pytest.mark.slow
@pytest.mark.parametrize(("production", "expected"), [(False, "Lax Lax False"), (True, "None None True")])
def test_the_apps_cookies_reach_it_in_the_portals_frame_in_production(tmp_path, production, expected):
    """In the portal's frame (tenants/framing.py) the app's cookies are third-party: SameSite=Lax ones were
    never sent, and a form posted there failed the CSRF check. SameSite=None needs Secure: production only."""
    env = production_env(tmp_path) if production else {"VIBE_VAR_DIR": str(tmp_path)}
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE,"
        " s.SESSION_COOKIE_SECURE and s.CSRF_COOKIE_SECURE)",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
