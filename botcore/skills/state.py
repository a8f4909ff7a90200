"""Per-dialog conversation state: a JSON object per (portal, skill, dialog), safe under concurrent workers.

    with ctx.state.update() as data:        # row locked until the block ends: read-modify-write is atomic
        data["answers"] = data.get("answers", []) + [text]
    snapshot = ctx.state.get()               # a copy; {} when nothing is stored
    ctx.state.compare_and_set(new, expected_version=v)   # optimistic alternative, no lock held

Two workers handling one dialog at once serialise on the row: SELECT … FOR UPDATE on PostgreSQL; on
SQLite the project opens every transaction IMMEDIATE, which takes the database's write lock up front.
No platform call may be made inside an `update()` block (refuse_platform_call_in_block, in the live context
and the test kit alike): the lock is held until the block ends, and a post's once-only record commits with
the block, so a block that failed after the post would leave the post on the platform and no record of it.
A call through `ctx.client`, the platform client itself, is refused there too (BlockGuardedClient).
"""

from __future__ import annotations

import abc
import copy
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from botcore.skills.values import check_state


class StateStore(abc.ABC):
    """Where a skill's dialog states live; the database in production, memory in tests and bot_shell."""

    # How many `update()` blocks of this handling are open now (DialogState.update counts them).
    blocks_open = 0

    @abc.abstractmethod
    def load(self, dialog_id: str) -> tuple[dict[str, Any], int]:
        """(data, version); ({}, 0) for a dialog with nothing stored."""

    @abc.abstractmethod
    @contextmanager
    def locked(self, dialog_id: str) -> Iterator[dict[str, Any]]:
        """Yield the data to change in place, holding the dialog's lock; store it when the block ends."""

    @abc.abstractmethod
    def compare_and_set(self, dialog_id: str, data: dict[str, Any], *, expected_version: int) -> bool: ...


class StateBlockError(RuntimeError):
    """A platform call made inside `with ctx.state.update()`: a skill's bug, its event failed with it."""


def refuse_platform_call_in_block(store: StateStore, call: str = "a platform call") -> None:
    """Raises StateBlockError while an `update()` block of `store` is open; the one rule both contexts ask."""
    if store.blocks_open:
        raise StateBlockError(
            f"{call} inside `with ctx.state.update()`: make it after the block. The dialog's state stays "
            "locked until the block ends (on SQLite the whole database, for every bot), and a post made "
            "there is forgotten by the handling if the block then fails, while the chat keeps it"
        )


class BlockGuardedClient:
    """The platform client as a skill gets it (`ctx.client`), for what the context has no method for: each
    call through it is refused inside an `update()` block of `store`, as the context's own calls are
    (refuse_platform_call_in_block); what is no call (`base_url`) reads through. A method is wrapped at its
    first use and kept, so a call costs the client's own plus one closure call and the block count's read."""

    def __init__(self, client: Any, store: StateStore) -> None:
        self._client = client
        self._store = store

    def __getattr__(self, name: str) -> Any:  # only for what the instance does not hold yet
        if name in ("_client", "_store"):  # not set yet (a copy being made): no recursion through here
            raise AttributeError(name)
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        store, call = self._store, f"ctx.client.{name}()"

        @functools.wraps(attribute)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refuse_platform_call_in_block(store, call)
            return attribute(*args, **kwargs)

        setattr(self, name, guarded)
        return guarded

    def __repr__(self) -> str:
        return f"BlockGuardedClient({self._client!r})"


class DialogState:
    """One dialog's state for one skill."""

    def __init__(self, store: StateStore, dialog_id: str) -> None:
        self._store = store
        self.dialog_id = str(dialog_id)

    def get(self) -> dict[str, Any]:
        return self._store.load(self.dialog_id)[0]

    def get_versioned(self) -> tuple[dict[str, Any], int]:
        return self._store.load(self.dialog_id)

    @contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        with self._store.locked(self.dialog_id) as data:
            self._store.blocks_open += 1
            try:
                yield data
            finally:
                self._store.blocks_open -= 1
            check_state(data)  # raised inside the store's block: nothing is kept

    def set(self, data: dict[str, Any]) -> None:
        check_state(data)
        with self._store.locked(self.dialog_id) as current:
            current.clear()
            current.update(copy.deepcopy(data))

    def clear(self) -> None:
        self.set({})

    def compare_and_set(self, data: dict[str, Any], *, expected_version: int) -> bool:
        """Store `data` only if nobody stored anything since `expected_version` was read."""
        check_state(data)
        return self._store.compare_and_set(
            self.dialog_id, copy.deepcopy(data), expected_version=expected_version
        )


class MemoryStateStore(StateStore):
    """States in a dict, with a lock: for RecordingContext and bot_shell's offline mode."""

    def __init__(self, initial: dict[str, dict[str, Any]] | None = None) -> None:
        self.states: dict[str, tuple[dict[str, Any], int]] = {
            str(dialog): (copy.deepcopy(data), 1) for dialog, data in (initial or {}).items()
        }
        self._lock = threading.RLock()

    def load(self, dialog_id: str) -> tuple[dict[str, Any], int]:
        with self._lock:
            data, version = self.states.get(dialog_id, ({}, 0))
            return copy.deepcopy(data), version

    @contextmanager
    def locked(self, dialog_id: str) -> Iterator[dict[str, Any]]:
        with self._lock:
            data, version = self.load(dialog_id)
            yield data
            self.states[dialog_id] = (copy.deepcopy(data), version + 1)

    def compare_and_set(self, dialog_id: str, data: dict[str, Any], *, expected_version: int) -> bool:
        with self._lock:
            if self.states.get(dialog_id, ({}, 0))[1] != expected_version:
                return False
            self.states[dialog_id] = (copy.deepcopy(data), expected_version + 1)
            return True


def state_write_key(handling_key: str, number: int) -> str:
    """The ledger's key of a handling's `number`th state write (1 first) through OnceStateStore."""
    return f"{handling_key}:state:{number}"


class OnceStateStore(StateStore):
    """A store whose writes, within one handling of one event, happen once however often it is retried.

    Each write of the handling takes the next key (`<handling key>:state:<n>`); the write and the key's
    ledger record commit in one transaction, so a handling that runs again after a crash or a passing
    failure skips the writes its earlier attempt made. The block still runs, on a copy that is dropped, of
    the state that attempt's block was given (kept with the record): a block that decides from the state
    ("voted already?") decides as it did then, not from its own earlier write. Reads outside a block see
    the stored state as it is.
    """

    def __init__(self, inner: StateStore, *, ledger: Any, handling_key: str) -> None:
        self.inner = inner
        self.ledger = ledger
        self.handling_key = handling_key
        self.writes = 0
        self.replayed = 0  # writes skipped because an earlier attempt made them

    def _next_key(self) -> str:
        self.writes += 1
        return state_write_key(self.handling_key, self.writes)

    def load(self, dialog_id: str) -> tuple[dict[str, Any], int]:
        return self.inner.load(dialog_id)

    @contextmanager
    def locked(self, dialog_id: str) -> Iterator[dict[str, Any]]:
        key = self._next_key()
        with transaction.atomic():
            done = self.ledger.find(key)
            if done is not None:
                self.replayed += 1
                found = done.get("found")  # absent from records made before it was kept
                yield copy.deepcopy(found if isinstance(found, dict) else self.inner.load(dialog_id)[0])
                return
            with self.inner.locked(dialog_id) as data:
                found = copy.deepcopy(data)
                yield data
            self.ledger.record(key, {"dialog": dialog_id, "found": found})

    def compare_and_set(self, dialog_id: str, data: dict[str, Any], *, expected_version: int) -> bool:
        key = self._next_key()
        with transaction.atomic():
            if self.ledger.find(key) is not None:
                self.replayed += 1
                return True
            stored = self.inner.compare_and_set(dialog_id, data, expected_version=expected_version)
            if stored:
                self.ledger.record(key, {"dialog": dialog_id})
            return stored
