"""Which release of the code this process runs, as operators read it beside each process's heartbeat.

A half-done upgrade (some qclusters restarted, a poller not yet) looked the same as a finished one. The name
is VIBE_RELEASE when the deploy sets it (the image's build argument), else the checkout's commit (`git
describe`), else the package's version.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
from pathlib import Path

MAX_LENGTH = 64  # Heartbeat.release

_CHECKOUT = Path(__file__).resolve().parent.parent


@functools.cache
def running_release() -> str:
    """This process's release name; read once (a process runs the code it started with)."""
    return (_from_environment() or _from_checkout() or _from_package() or "unknown")[:MAX_LENGTH]


def _from_environment() -> str:
    return os.environ.get("VIBE_RELEASE", "").strip()


def _from_checkout() -> str:
    if not (_CHECKOUT / ".git").exists():
        return ""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=_CHECKOUT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""  # no git here, or not a repository it can read
    return described.stdout.strip()


def _from_package() -> str:
    try:
        return importlib.metadata.version("vibeapp")
    except importlib.metadata.PackageNotFoundError:
        return ""
