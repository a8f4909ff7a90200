"""How often an outage is said in the logs: once a while, counting the failures between the lines.

While a shared part is down (Redis, the database, the broker) every call or round meets the same failure; a
line (or a traceback) each was thousands in a few minutes of an on-call trial, and the one line that says
what to check drowned in them. The poller, the cycles' broker and the request budgets say it through this.
"""

from __future__ import annotations

import threading
import time

OUTAGE_LOG_EVERY_SECONDS = 30.0


class OutageLog:
    """One kind of failure of this process, said at most once every `every_seconds` (thread-safe)."""

    def __init__(self, every_seconds: float = OUTAGE_LOG_EVERY_SECONDS) -> None:
        self.every_seconds = every_seconds
        self._last_said = float("-inf")
        self._unsaid = 0
        self._lock = threading.Lock()

    def due(self) -> int | None:
        """For a failure now: None when it is to be counted, not said (said too recently); else how many
        failures went unsaid since the last line (the caller says this one, with that count)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_said < self.every_seconds:
                self._unsaid += 1
                return None
            unsaid, self._last_said, self._unsaid = self._unsaid, now, 0
            return unsaid

    def reset(self) -> None:
        """The part answers again: the next failure is said at once."""
        with self._lock:
            self._last_said, self._unsaid = float("-inf"), 0


def more_since(unsaid: int) -> str:
    """ "; N more since the last line" for a line said after a quiet while, else ""."""
    return f"; {unsaid} more since the last line" if unsaid else ""
