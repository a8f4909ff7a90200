"""What `make run`'s install prints: pip's errors and warnings, not setuptools' notice on our own layout.

From a newcomer's trial: every first `make run` and `make test-deps` ended in a framed setuptools notice
("Editable installation … Please be careful with folders in your working directory with the same name as
your package"), which reads like something to fix. Those folders are the checkout itself, the package the
editable install points at, so the notice is filtered, and nothing else is.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow]


def make_install_command(venv: Path) -> list[str]:
    """The command `make deps` installs the project with, as make would run it into `venv`."""
    dry_run = subprocess.run(
        ["make", "-n", "-B", "deps", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    [line] = [line for line in dry_run.splitlines() if " pip install " in line and " -e " in line]
    return shlex.split(line)


@pytest.fixture
def bare_venv(tmp_path) -> Path:
    """A venv as `make` makes it (its pip upgraded: a newer pip shows the build backend's warnings)."""
    venv = tmp_path / "venv"
    subprocess.run(["make", f"VENV={venv}", f"{venv}/bin/python"], cwd=ROOT, capture_output=True, check=True)
    return venv


def test_the_install_shows_no_editable_layout_notice(bare_venv):
    command = [*make_install_command(bare_venv), "--no-deps"]  # the project alone: the build is what warns
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Editable installation" not in done.stdout + done.stderr
    assert (bare_venv / "lib").exists()


def test_an_install_that_fails_still_says_why(bare_venv, tmp_path):
    command = make_install_command(bare_venv)
    command[-1] = str(tmp_path / "no-such-project")  # what -e names
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "ERROR" in done.stderr and "no-such-project" in done.stderr, done.stderr
