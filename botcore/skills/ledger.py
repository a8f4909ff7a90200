"""Once-only platform actions: a file upload or a chat creation done for an event, remembered by key.

This module holds the ledger's interface and its memory form (tests, bot_shell); the engine's database form
is botcore/services/action_ledger.py.

The context looks every post, upload and new chat up here first; handling the event again returns what the
first attempt made. One whose call failed after it may have reached the platform is recorded as in doubt, and
a post's record is settled once a later attempt has sent it after all (context.py). A worker killed between
the platform's answer and the record leaves no trace of what it made: a post's templateId covers that where
the platform de-duplicates, and elsewhere a post's doubt is recorded as its request leaves, before the answer
(written ahead, context.py _post_once); an upload's and a new chat's always are (actions.py _made_once).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Protocol

KEY_LENGTH = 64  # ActionRecord.key


class ActionLedger(Protocol):
    def find(self, key: str) -> dict[str, Any] | None: ...

    def record(self, key: str, result: dict[str, Any]) -> None:
        """Remember `result` for `key` unless something is remembered already (the first record stays)."""

    def settle(self, key: str, result: dict[str, Any]) -> None:
        """Replace what is remembered for `key`: a post left in doubt, once it is known (context.py)."""

    def forget(self, key: str) -> None:
        """Remember nothing for `key` again: a post's doubt written ahead, once it surely never happened."""


def reaction_key(handling_key: str, number: int) -> str:
    """The ledger's key of a handling's `number`th reaction (1 first), `handling_key` its post_key_for."""
    return f"{handling_key}:react:{number}"


def stored_key(key: str) -> str:
    """`key` as the ActionRecord column holds it: itself when it fits, else a digest of it (a backend
    run's keys carry its run key and can be long; templateIds, 36 characters, are kept as they are)."""
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[: KEY_LENGTH - 7]


class MemoryLedger:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def find(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self.records.get(key)

    def record(self, key: str, result: dict[str, Any]) -> None:
        with self._lock:
            self.records.setdefault(key, result)

    def settle(self, key: str, result: dict[str, Any]) -> None:
        with self._lock:
            self.records[key] = result

    def forget(self, key: str) -> None:
        with self._lock:
            self.records.pop(key, None)
