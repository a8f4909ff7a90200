"""Observers of the wire layer: who wants to hear of every answer the platform gives, or of what became of
each best-effort call the request budget had no room for, without the client knowing who they are.

The client stays free of the apps above it (its import contract in pyproject.toml); an app that counts or
watches the platform's answers subscribes here instead, once, when it starts (ops does, in its
AppConfig.ready). An observer that raises is logged and skipped: watching a call never fails it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

log = logging.getLogger(__name__)

ResponseObserver = Callable[[int], None]
# What became of a best-effort call the request budget had no room for (held_calls.py): "held" when it is,
# then "sent_late" or "dropped"; "skipped" for one never held (a typing indicator: late, it shows nothing).
HeldCallOutcome = Literal["held", "sent_late", "dropped", "skipped"]
HeldCallObserver = Callable[[str], None]


class _Observers:
    """One kind of observer: subscribed once each, told in turn, each failure logged and skipped."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._observers: tuple[Callable[..., None], ...] = ()
        self._lock = threading.Lock()

    def add(self, observer: Callable[..., None]) -> None:
        with self._lock:
            if observer not in self._observers:
                self._observers = (*self._observers, observer)

    def remove(self, observer: Callable[..., None]) -> None:
        with self._lock:
            self._observers = tuple(o for o in self._observers if o != observer)

    def tell(self, *args: object) -> None:
        for observer in self._observers:  # a tuple, replaced whole: read without the lock
            try:
                observer(*args)
            except Exception:
                log.exception("a %s observer failed; the call goes on", self.kind)


_response_observers = _Observers("platform-response")
_held_call_observers = _Observers("held-call")


def on_platform_response(observer: ResponseObserver) -> ResponseObserver:
    """Call `observer(status_code)` after every HTTP answer of the platform's API (any status, every
    attempt), once it is read: the status the answer stands for (VibeApiError.answered_status), which is
    the HTTP one except for imbot.v2's refusal a platform passes on inside its 502 BITRIX_ERROR (heard as
    the refusal's 4xx, not as the platform failing). Subscribing the same function twice keeps one
    subscription. Usable as a decorator."""
    _response_observers.add(observer)
    return observer


def remove_platform_response_observer(observer: ResponseObserver) -> None:
    _response_observers.remove(observer)


def platform_responded(status_code: int) -> None:
    """Tell every observer of an answer (the transport calls this with the status the answer stands for)."""
    _response_observers.tell(status_code)


def on_held_call(observer: HeldCallObserver) -> HeldCallObserver:
    """Call `observer(outcome)` (HeldCallOutcome) for each best-effort call the budget had no room for, as
    it is held, skipped, sent late or dropped. Usable as a decorator."""
    _held_call_observers.add(observer)
    return observer


def remove_held_call_observer(observer: HeldCallObserver) -> None:
    _held_call_observers.remove(observer)


def held_call_went(outcome: HeldCallOutcome) -> None:
    """Tell every observer what became of a best-effort call without room (the client calls this)."""
    _held_call_observers.tell(outcome)
