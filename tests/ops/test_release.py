"""The release a process names (ops/release.py): the deploy's VIBE_RELEASE, else the checkout's commit."""

from __future__ import annotations

import importlib.metadata
import subprocess

import pytest

from ops import release


@pytest.fixture(autouse=True)
def fresh():
    release.running_release.cache_clear()
    yield
    release.running_release.cache_clear()


def test_the_deploys_name_comes_first_and_is_cut_to_fit(monkeypatch):
    monkeypatch.setenv("VIBE_RELEASE", "  2026.12.06-" + "x" * 100)
    assert release.running_release() == ("2026.12.06-" + "x" * 100)[: release.MAX_LENGTH]


def test_else_the_checkouts_commit_else_the_packages_version(monkeypatch):
    monkeypatch.delenv("VIBE_RELEASE", raising=False)
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert release.running_release().startswith(head)
    release.running_release.cache_clear()
    monkeypatch.setattr(release, "_CHECKOUT", release._CHECKOUT / "no-such-dir")  # an image: no .git
    assert release.running_release() == importlib.metadata.version("vibeapp")
