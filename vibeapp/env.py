"""Reads deployment settings from the environment, and keeps the embedded default's local secrets."""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

_Number = TypeVar("_Number", int, float)


def read_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def read_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def read_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return _number(name, raw, int) if raw else default


def read_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return _number(name, raw, float) if raw else default


def read_list(name: str) -> list[str]:
    """A comma- or whitespace-separated list; empty entries are dropped."""
    raw = os.environ.get(name, "")
    return [item for item in raw.replace(",", " ").split() if item]


def read_int_list(name: str) -> list[int]:
    """A list as read_list reads one, of whole numbers."""
    return [_number(name, item, int) for item in read_list(name)]


def _number(name: str, raw: str, kind: type[_Number]) -> _Number:
    # A bare ValueError from settings.py names neither the variable nor where it was set: the start stops
    # with both.
    try:
        return kind(raw)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ImproperlyConfigured(f"{name} must be {noun}, not {raw!r}") from None


def is_importable(*modules: str) -> bool:
    """Whether every named top-level module can be imported here (an optional extra is installed)."""
    return all(importlib.util.find_spec(module) is not None for module in modules)


def ensure_local_secret(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at `path`, creating it (mode 0600) on first use.

    Only the embedded default uses this, so that a newcomer's two commands work with nothing to
    configure; the file lives under the git-ignored `var/` folder and production never reads it.
    """
    if path.exists():
        return path.read_text().strip()
    make_private_dir(path.parent)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def make_private_dir(path: Path) -> None:
    """`path`, created if missing, readable by its owner only: var/ holds the embedded default's secrets and
    its SQLite database (message texts, encrypted credentials), which Django creates with the umask's mode."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def make_django_secret() -> str:
    return secrets.token_urlsafe(50)


def make_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
