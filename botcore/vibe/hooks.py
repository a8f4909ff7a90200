"""Observers of the wire layer: who wants to hear of every answer the platform gives, without the client
knowing who they are.

The client stays free of the apps above it (its import contract in pyproject.toml); an app that counts or
watches the platform's answers subscribes here instead, once, when it starts (ops does, in its
AppConfig.ready). An observer that raises is logged and skipped: watching a call never fails it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

ResponseObserver = Callable[[int], None]

_observers: tuple[ResponseObserver, ...] = ()
_lock = threading.Lock()


def on_platform_response(observer: ResponseObserver) -> ResponseObserver:
    """Call `observer(status_code)` after every HTTP answer of the platform's API (any status, every
    attempt). Subscribing the same function twice keeps one subscription. Usable as a decorator."""
    global _observers
    with _lock:
        if observer not in _observers:
            _observers = (*_observers, observer)
    return observer


def remove_platform_response_observer(observer: ResponseObserver) -> None:
    global _observers
    with _lock:
        _observers = tuple(o for o in _observers if o != observer)


def platform_responded(status_code: int) -> None:
    """Tell every observer of an answer (the transport calls this; the tuple is read without the lock)."""
    for observer in _observers:
        try:
            observer(status_code)
        except Exception:
            log.exception("a platform-response observer failed; the call goes on")
