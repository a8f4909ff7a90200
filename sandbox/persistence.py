"""Keeps the sandbox's platform across restarts (`runsandbox --state-file`), as the real platform would.

The file is the platform's own database: it holds the sandbox's keys and session tokens, so it is written
0600 under the git-ignored var/ folder and only ever loaded from a path the operator gave. It is a pickle:
never point --state-file at a file you did not make.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from pathlib import Path

from sandbox import records
from sandbox.state import Platform

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


class _PlatformUnpickler(pickle.Unpickler):
    """Reads files saved before the records moved from sandbox.state to sandbox.records, so an upgrade
    keeps the platform (its keys, bots and chats) instead of starting empty."""

    def find_class(self, module: str, name: str) -> object:
        moved = getattr(records, name, None) if module == "sandbox.state" else None
        if getattr(moved, "__module__", None) == records.__name__:
            module = records.__name__
        return super().find_class(module, name)


def load_platform(path: Path) -> Platform | None:
    """The platform saved at `path`, or None when there is none (or it is from another format version)."""
    if not path.exists():
        return None
    try:
        with path.open("rb") as handle:
            version, platform = _PlatformUnpickler(handle).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        log.warning("sandbox state in %s not loaded (%s); starting empty", path, type(error).__name__)
        return None
    if version != FORMAT_VERSION or not isinstance(platform, Platform):
        log.warning("sandbox state in %s is from another version; starting empty", path)
        return None
    return platform


def save_platform(platform: Platform, path: Path) -> None:
    """Write atomically (a crash mid-write leaves the previous state), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sandbox-state-")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump((FORMAT_VERSION, platform), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
