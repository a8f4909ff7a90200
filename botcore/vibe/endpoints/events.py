"""Reference section "Events": polling a bot's events, acknowledged by offset (CONTRACT part A §8)."""

from __future__ import annotations

from typing import Any

from botcore.vibe.endpoints.base import POLL, SAFE, Endpoints, bot_path
from botcore.vibe.models import EventBatch
from botcore.vibe.parse import read_event_batch

# A long-poll holds the answer this long at most; the read timeout must outlast it.
MAX_HOLD_SECONDS = 30.0
_HOLD_MARGIN_SECONDS = 10.0


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
        # A hold needs a read timeout past it; an answer asked for at once keeps the client's own.
        read_timeout = timeout + _HOLD_MARGIN_SECONDS if timeout else None
        data = self._transport.request(
            "GET",
            bot_path(bot_id, "events"),
            params=params or None,
            retry=SAFE,
            timeout=read_timeout,
            priority=POLL,
        )
        return read_event_batch(data, bot_id=bot_id)
