"""Reference section "Events": polling a bot's events, acknowledged by offset (CONTRACT part A §8)."""

from __future__ import annotations

import logging
import time
from typing import Any

from botcore.vibe.endpoints.base import POLL, SAFE, UNSAFE, Endpoints, bot_path
from botcore.vibe.errors import VibeTransportError
from botcore.vibe.models import EventBatch
from botcore.vibe.parse import read_event_batch

log = logging.getLogger(__name__)

# A long-poll holds the answer this long at most; the read timeout must outlast it.
MAX_HOLD_SECONDS = 30.0
_HOLD_MARGIN_SECONDS = 10.0
# A platform may hold every empty poll its own hold, whatever `timeout` asks, 0 too (the sandbox's
# `always-held-polls`): a fetch asking for an answer at once then holds a cycle's worker that long, or past
# the cycle's call deadline. An empty answer to such a fetch that came HELD_SIGN_SECONDS or later, or no
# answer before the read timed out, shows this process that the platform does so (that fetch fails as it
# did); from then on a fetch asking for none waits HELD_FETCH_SECONDS for its answer to begin and reads no
# answer as nothing new (the poll's offset acknowledged only what the caller had stored, so nothing is lost:
# what arrives meanwhile waits for the next poll). A healthy platform answers a poll it does not hold well
# within that; an empty answer coming sooner than HELD_SIGN_SECONDS (a platform that stopped holding, or a
# hang that ended) forgets it.
HELD_SIGN_SECONDS = 5.0
HELD_FETCH_SECONDS = 1.5
_platform_holds_every_poll = False


def platform_holds_every_poll() -> bool:
    """Whether this process's last word on it says the platform holds even a poll asking for no hold."""
    return _platform_holds_every_poll


def forget_held_polls() -> None:
    """Forget what this process learned of the platform's holds (tests: each meets the sandbox afresh)."""
    global _platform_holds_every_poll
    _platform_holds_every_poll = False


def _learn_hold(holds: bool, seen: str) -> None:
    global _platform_holds_every_poll
    if holds != _platform_holds_every_poll:
        log.warning(
            "the platform %s an events poll that asks for no hold (%s): a fetch that asks for none %s",
            "holds" if holds else "no longer holds", seen,
            f"now waits {HELD_FETCH_SECONDS:g} s for an answer to begin" if holds else "waits as any call",
        )  # fmt: skip
    _platform_holds_every_poll = holds


class EventEndpoints(Endpoints):
    def get_events(
        self,
        bot_id: int,
        *,
        offset: int | None = None,
        limit: int | None = None,
        timeout: float = 0,
    ) -> EventBatch:
        """GET /v1/bots/:botId/events: the bot's unacknowledged events, oldest first.

        `offset=N` acknowledges every event below N: pass the previous batch's `next_offset` (through
        `EventBatch.offset_after`, which never moves it backwards) only once those events are stored.
        Without `offset` the platform resumes from the offset it stored. `limit` is 1..1000.
        `timeout` asks the platform to hold an empty answer open that many seconds (long-polling; the
        sandbox honours it, the real platform may not, so callers must work without it). It is always
        sent, 0 too: a platform may hold a poll that names none (the reference heads its plain GET
        "long-polling"; the sandbox's `held-polls`), and a cycle's fetch must never hold a worker.
        Retried as a read: repeating an offset acknowledges nothing new. An event that cannot be parsed
        is kept in `malformed` (and logged), never dropped silently and never fatal to the batch; an
        answer without a list of events raises VibeProtocolError (parse.events_of).
        """
        params: dict[str, Any] = {}
        if offset is not None:
            if offset < 0:
                raise ValueError("offset must be >= 0")
            params["offset"] = int(offset)
        if limit is not None:
            if not 1 <= limit <= 1000:
                raise ValueError("limit must be 1..1000")
            params["limit"] = int(limit)
        if not 0 <= timeout <= MAX_HOLD_SECONDS:
            raise ValueError(f"timeout must be 0..{MAX_HOLD_SECONDS:g} seconds")
        params["timeout"] = f"{timeout:g}"
        # A hold needs a read timeout past it; an answer asked for at once keeps the client's own, unless the
        # platform holds such polls all the same: then HELD_FETCH_SECONDS, and no answer is nothing new (not
        # retried: the next poll is the retry).
        cut_hold = not timeout and _platform_holds_every_poll
        read_timeout = timeout + _HOLD_MARGIN_SECONDS if timeout else HELD_FETCH_SECONDS if cut_hold else None
        started = time.monotonic()
        cut = False
        try:
            data = self._transport.request(
                "GET",
                bot_path(bot_id, "events"),
                params=params or None,
                retry=UNSAFE if cut_hold else SAFE,  # UNSAFE: retried only where nothing was sent
                timeout=read_timeout,
                priority=POLL,
            )
        except VibeTransportError as error:
            if timeout or not error.read_timed_out:
                raise
            if not cut_hold:
                _learn_hold(True, f"no answer in {time.monotonic() - started:.1f} s")
                raise
            log.debug("bot=%s: the platform held a poll asking for no hold: read as nothing new", bot_id)
            data, cut = {"events": [], "nextOffset": 0, "hasMore": False}, True
        batch = read_event_batch(data, bot_id=bot_id)
        if not timeout and batch.is_empty and not cut:
            took = time.monotonic() - started
            _learn_hold(took >= HELD_SIGN_SECONDS, f"an empty answer came after {took:.1f} s")
        return batch
