"""One object per process, made on first use: a forked process must not share its parent's sockets."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """`make()`'s object for this process id, made once (by one thread) and kept."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._made: dict[int, T] = {}
        self._lock = threading.Lock()

    def get(self) -> T:
        pid = os.getpid()
        made = self._made.get(pid)
        if made is None:
            with self._lock:
                made = self._made.get(pid)
                if made is None:
                    made = self._made[pid] = self._make()
        return made
