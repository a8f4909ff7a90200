"""Best-effort calls the request budget had no room for, held by one client and sent later, in order.

A best-effort call (a reaction, a read mark) that finds the budget without room is not sent then: it would
take the slot the reply after it waits for. Dropping it lost it for good where a limit was learned (there a
best-effort call goes only into an idle budget, and a skill's reaction comes right after its own typing, so
every echo lost its like). So the client holds it, and its owner sends what it holds once its urgent calls
are out (a poll cycle between two events, and at its end), each when the budget has room, until a bound;
what is still held then is dropped, and said so. A typing indicator is never held: sent after the reply, it
would show nothing (transport.py drops it, at DEBUG).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from botcore.vibe.budget import Priority, wake_late
from botcore.vibe.errors import VibeApiError, VibeError
from botcore.vibe.hooks import held_call_went

log = logging.getLogger(__name__)

# How long a cycle or a run, once its skills are done, waits for the budget's room for the calls it holds
# (one or two intervals of the learned rate each): enough for a batch of a few events at a low limit, short
# enough that the worker soon goes on to other bots' cycles (and this bot's next, which its lease holds back).
HELD_WAIT_SECONDS = 5.0
RETRY_PAUSE = 0.005  # after a try that found its room taken meanwhile, before the budget is read again


@dataclass(frozen=True)
class HeldCall:
    what: str  # "POST /v1/bots/3/messages/9/reactions", for the log
    send: Callable[[], bool]  # one try: True once sent, False when the budget still had no room


class HeldCalls:
    """A client's held calls, first in first out: one held after another goes after it, so a reaction taken
    away never reaches the platform before the one it takes away (transport.py holds a best-effort call
    while any is held)."""

    def __init__(self) -> None:
        self._calls: deque[HeldCall] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._calls)

    def hold(self, call: HeldCall) -> None:
        with self._lock:
            self._calls.append(call)
        held_call_went("held")
        log.debug("%s held: the request budget had no room for it now", call.what)

    def send(self, *, room_in: Callable[[], float], until: float | None) -> int:
        """Send the held calls in order, each once the budget has room (`room_in`: seconds until it has),
        waiting for it until `until` (time.monotonic()); None: only while it has room now, keeping the rest.

        Never raises for a call: one the platform refuses is logged and forgotten, as a best-effort call
        sent at once would have been. Returns how many are still held."""
        while True:
            with self._lock:
                call = self._calls[0] if self._calls else None
            if call is None:
                return 0
            wait = room_in()
            if wait > 0:
                if until is None or time.monotonic() + wait > until:
                    return len(self._calls)
                time.sleep(wait + wake_late(Priority.BEST_EFFORT))
            elif until is not None and time.monotonic() > until:
                return len(self._calls)
            try:
                sent = call.send()
            except VibeError as error:
                _log_failure(call, error)
                sent = True  # done with, as a best-effort call that failed at once
            if not sent:
                time.sleep(RETRY_PAUSE)  # a call of another took the room first: read it again
                continue
            with self._lock:
                ours = bool(self._calls) and self._calls[0] is call  # not dropped meanwhile (told so there)
                if ours:
                    self._calls.popleft()
            if ours:
                held_call_went("sent_late")

    def drop(self, why: str) -> int:
        """Forget every held call, saying which and `why` (WARNING: a reaction a skill asked for is lost)."""
        with self._lock:
            dropped, self._calls = list(self._calls), deque()
        for call in dropped:
            held_call_went("dropped")
            log.warning("%s dropped, never sent: %s", call.what, why)
        return len(dropped)


def _log_failure(call: HeldCall, error: VibeError) -> None:
    # 404 or 409 to a held write: its message is gone, or the state it sets already holds (a reaction set by
    # an earlier attempt at the event). Nothing is left to do, and nobody needs to hear of it.
    if isinstance(error, VibeApiError) and error.status in (404, 409):
        log.debug("held %s found nothing left to do: %s", call.what, error)
    else:
        log.warning("held %s failed (best effort): %s", call.what, error)
