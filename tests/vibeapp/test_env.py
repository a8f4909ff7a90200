"""Deployment settings read from the environment: a number that is no number stops the start with the
variable's name and what it holds, not a bare ValueError from somewhere inside settings.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.vibeapp.test_deploy_settings import run_manage
from vibeapp import env


@pytest.mark.parametrize(
    ("read", "raw"),
    [
        (lambda: env.read_int("VIBE_TEST_NUMBER", 3), "three"),
        (lambda: env.read_float("VIBE_TEST_NUMBER", 0.5), "half"),
        (lambda: env.read_int_list("VIBE_TEST_NUMBER"), "80, https"),
    ],
)
def test_a_number_that_is_none_names_its_variable(read, raw, monkeypatch):
    monkeypatch.setenv("VIBE_TEST_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured) as refused:
        read()
    assert "VIBE_TEST_NUMBER" in str(refused.value)


def test_numbers_are_read_and_defaults_kept(monkeypatch):
    monkeypatch.setenv("VIBE_TEST_NUMBER", " 8443, 9000 ")
    assert env.read_int_list("VIBE_TEST_NUMBER") == [8443, 9000]
    monkeypatch.setenv("VIBE_TEST_NUMBER", "2.5")
    assert env.read_float("VIBE_TEST_NUMBER", 1.0) == 2.5
    monkeypatch.setenv("VIBE_TEST_NUMBER", "")
    assert env.read_float("VIBE_TEST_NUMBER", 1.0) == 1.0
    assert env.read_int("VIBE_TEST_NUMBER", 7) == 7
    assert env.read_int_list("VIBE_TEST_NUMBER") == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["BOTCORE_LEASE_SECONDS", "BOTCORE_OUTSIDE_PORTS_ALLOWED", "VIBE_Q_WORKERS"])
def test_a_start_with_a_misspelt_number_says_which_setting(name):
    result = run_manage("check", env={name: "twelve"})
    assert result.returncode != 0
    assert f"{name} must be" in result.stderr, result.stderr[-2000:]
