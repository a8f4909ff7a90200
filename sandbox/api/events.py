"""Reference section "Events": GET /v1/bots/{bot_id}/events, polling with acknowledgement (CONTRACT A §8).

`offset=N` acknowledges every event below N (an offset never moves back); without `offset` the platform
resumes from the offset it stored. Unacknowledged events come again on every call (at-least-once).
`limit` is 1-1000 (default 100). `timeout=0..30` seconds holds an empty answer open until an event
arrives (long-polling; `held-polls` holds a poll without it 25 s, `always-held-polls` holds every poll 25 s
whatever it names, 0 too, and `no-long-poll` never holds). The answer
is {events, nextOffset, hasMore, storedOffset, persisted}; an empty queue answers nextOffset 0, as
imbot.v2 does (under `no-next-offset`, no nextOffset at all; under `last-id-next-offset`, the last event's
id, so that event comes again until an offset past it; `keyed-events` and `null-events` write the events as
an object keyed by id, and null when there are none; `newest-first` lists a batch's events newest first;
`empty-no-content` answers 204 with no body when none wait; `unstored-offset` answers storedOffset null and
persisted false until a poll names an offset). HEAD (which Starlette routes to any GET)
answers the status and headers of the queue as it stands: it acknowledges nothing and is never held.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from sandbox import event_queue
from sandbox.http import ApiError, Call, endpoint
from sandbox.numbers import is_decimal
from sandbox.payloads import platform_date
from sandbox.records import Bot, Event
from sandbox.state import Platform

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_TIMEOUT = 30.0
MAX_OFFSET = 10**18 - 1


def query_int(raw: str | None, name: str, low: int, high: int, default: int | None) -> int | None:
    if raw is None or raw == "":
        return default
    if not is_decimal(raw) or len(raw) > 18 or not low <= int(raw) <= high:
        bound = f"from {low} to {high}" if high < MAX_OFFSET else f"of at least {low}"
        raise ApiError(f"INVALID_{name.upper()}", f"{name} must be an integer {bound}")
    return int(raw)


# The hold of a poll that names no timeout, in the `held-polls` dialect (and of every poll, in
# `always-held-polls`): the reference heads its plain GET "Receive events (long-polling)", so a platform may
# hold every poll by default, as long-polling servers commonly do for 20-30 s.
DEFAULT_HOLD_SECONDS = 25.0


def query_timeout(raw: str | None, *, default: float = 0.0) -> float:
    if raw is None or raw == "":
        return default
    try:
        timeout = float(raw)
    except ValueError:
        timeout = -1.0
    if not 0.0 <= timeout <= MAX_TIMEOUT:  # also rejects nan and inf
        raise ApiError("INVALID_TIMEOUT", f"timeout must be a number of seconds from 0 to {MAX_TIMEOUT:g}")
    return timeout


def event_json(platform: Platform, event: Event) -> dict:
    return {
        "eventId": event.shown_id, "type": event.type, "date": platform_date(platform, event.date),
        "data": event.data,
    }  # fmt: skip


def batch_json(platform: Platform, bot: Bot, events: list[Event], has_more: bool) -> dict:
    items = [event_json(platform, e) for e in events]
    batch: dict[str, object] = {
        "events": items,
        "nextOffset": events[-1].event_id + 1 if events else 0,
        "hasMore": has_more,
        "storedOffset": bot.stored_offset,
        "persisted": True,  # the sandbox stores the offset before it answers
    }
    if platform.speaks("unstored-offset") and not bot.offset_named:  # no poll has named one: none stored
        batch["storedOffset"], batch["persisted"] = None, False
    if platform.speaks("no-next-offset"):
        del batch["nextOffset"]
    if platform.speaks("last-id-next-offset") and events:  # lastEventId's meaning; offset N still keeps N
        batch["nextOffset"] = events[-1].event_id
    if platform.speaks("newest-first"):  # ORDER BY id DESC within the batch it picked, oldest first
        items.reverse()
    if platform.speaks("keyed-events"):  # PHP's json_encode of an array whose keys are not 0..n-1
        batch["events"] = {str(item["eventId"]): item for item in items}
    if platform.speaks("null-events") and not events:  # Go's json encoding of a nil slice
        batch["events"] = None
    return batch


@endpoint(auth="bot")
async def get_events(call: Call) -> dict | Response:
    """GET /v1/bots/{bot_id}/events?offset=&limit=&timeout=: the unacknowledged events, oldest first."""
    bot = call.bot
    assert bot is not None
    query = call.query
    offset = query_int(query.get("offset"), "offset", 0, MAX_OFFSET, None)
    limit = query_int(query.get("limit"), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT)
    platform = call.platform
    timeout = query_timeout(
        query.get("timeout"), default=DEFAULT_HOLD_SECONDS if platform.speaks("held-polls") else 0.0
    )
    if platform.speaks("always-held-polls"):  # its own hold, whatever the poll asked (checked all the same)
        timeout = DEFAULT_HOLD_SECONDS
    # HEAD is GET without the body (RFC 9110 §9.3.2): nobody reads the events it would carry, so it
    # acknowledges none and is never held; it answers the status and headers of the queue as it stands.
    head = call.request.method == "HEAD"
    if offset is not None and not head:
        event_queue.acknowledge(platform, bot, offset)
    events, has_more = event_queue.pending(bot, limit=limit)  # type: ignore[arg-type]
    # Whether the real platform holds a poll open is [U]; `no-long-poll` answers at once whatever is asked.
    stopping = call.request.app.state.services.closing  # the server stops: nothing is held any more
    holds = timeout > 0 and not platform.speaks("no-long-poll") and not stopping and not head
    if not events and holds and bot.id in platform.bots:
        await event_queue.wait_for_event(bot, timeout)
        if bot.id in platform.bots:  # the owner may have deleted it meanwhile
            events, has_more = event_queue.pending(bot, limit=limit)  # type: ignore[arg-type]
    if not events and platform.speaks("empty-no-content"):  # nothing waiting: 204, no body at all
        return Response(status_code=204)
    return batch_json(platform, bot, events, has_more)


routes = [Route("/v1/bots/{bot_id}/events", get_events, methods=["GET"])]
