"""Reading events: parse_event(payload) -> BotEvent and read_event_batch(data) -> EventBatch.

The one reading of an event payload. The client uses it on GET /events; whoever reads a stored event
back (the executor, the chat directory, a deferred job's origin) uses the same parse_event on the
payload the event log kept, so an event is read the same way on both sides of the store.

Reading is lenient by design (wire.py): an unknown event type becomes an UnknownEvent, fields not modelled
stay in each object's `raw`, and scalars sent as strings are converted. An event is refused
(MalformedEventError) only when it could not be used: an envelope that is not an object or has no
integer `eventId` (it could be neither de-duplicated nor acknowledged), or a message event without its
message. read_event_batch keeps a refused item, with the reason, in `EventBatch.malformed`: never dropped,
never fatal to the rest of the batch. The events themselves may come as a list, an object keyed by id, or
null when there are none (events_of); an answer whose events are none of these raises VibeProtocolError,
and acknowledges nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from botcore.vibe.coerce import as_bool, as_int, as_mapping
from botcore.vibe.errors import VibeProtocolError
from botcore.vibe.events import (
    EVENT_CLASSES,
    BotEvent,
    MalformedEventError,
    UnknownEvent,
)
from botcore.vibe.models import EventBatch, MalformedItem
from botcore.vibe.wire import read

log = logging.getLogger(__name__)

MAX_OFFSET = 2**63 - 1  # the platform's ids and offsets are int64


# By the type's name (the envelope's `type`, upper-cased): EventType is a StrEnum, so names look up as is.
_CLASS_BY_NAME: dict[str, type[BotEvent]] = {
    str(event_type): cls for event_type, cls in EVENT_CLASSES.items()
}


def parse_event(payload: Mapping[str, Any]) -> BotEvent:
    """Turn one item of `data.events` into its typed event; unknown types become UnknownEvent."""
    if not isinstance(payload, Mapping):
        raise MalformedEventError(f"an event must be a JSON object, got {type(payload).__name__}")
    raw_id = payload.get("eventId")
    if as_int(raw_id, -1) < 0 or isinstance(raw_id, bool):
        raise MalformedEventError("an event without an integer eventId cannot be acknowledged")
    name = str(payload.get("type") or "").strip().upper()
    try:
        return read(_CLASS_BY_NAME.get(name, UnknownEvent), payload)
    except ValidationError as error:
        missing = ", ".join(".".join(map(str, p["loc"])) for p in error.errors(include_url=False))
        raise MalformedEventError(
            f"event {as_int(raw_id)}: {name} without what it needs ({missing})"
        ) from None


def item_event_id(item: object) -> int:
    """An unreadable item's eventId where it has one (it is stored too), else -1."""
    raw = item.get("eventId") if isinstance(item, Mapping) else None
    return -1 if isinstance(raw, bool) else as_int(raw, -1)


def json_kind(value: object) -> str:
    """What a JSON value is, as an error names it ("a list", "null", "an object")."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


def events_of(data: object, *, bot_id: int | None = None) -> list[Any] | None:
    """The items of an events answer (`data.events`), for read_event_batch and the poller's watch alike, in
    every reading a platform may write them (CONTRACT A §13; the sandbox's dialects):

    - a list (the reference's example);
    - an object keyed by event id (`keyed-events`: PHP's json_encode of an array whose keys are not
      0..n-1): its items, in the order of their keys;
    - null or missing (`null-events`: Go's encoding of an empty list): None, no items, and its nextOffset is
      not to be trusted (read_event_batch acknowledges nothing on it).

    Raises VibeProtocolError (transient: the cycle backs off, acknowledging nothing) for anything else: `data`
    not an object, `events` a string or a number. Read as an empty batch, such an answer's nextOffset
    acknowledged events nobody had read, and the platform never sends those again.
    """
    if isinstance(data, Mapping):
        events = data.get("events")
        if isinstance(events, list):
            return events
        if events is None:
            return None
        if isinstance(events, Mapping) and all(isinstance(item, Mapping) for item in events.values()):
            return [item for _, item in sorted(events.items(), key=lambda pair: _key_order(pair[0]))]
    found = (
        f"events {json_kind(data.get('events'))}" if isinstance(data, Mapping) else f"data {json_kind(data)}"
    )
    raise VibeProtocolError(
        status=200,
        code=None,
        message=f"HTTP 200 with an events answer whose events cannot be read ({found}); nothing acknowledged",
        method="GET",
        path=f"/bots/{bot_id if bot_id is not None else ':id'}/events",
    )


def _key_order(key: object) -> tuple[int, str]:
    """Keys of a keyed events object in event order: numbers as numbers ("10" after "9")."""
    number = as_int(key, -1)
    return (number, "") if number >= 0 else (-1, str(key))


def read_event_batch(data: object, *, bot_id: int | None = None) -> EventBatch:
    """One answer of GET /events as an EventBatch: every item parsed once, a refused one kept aside.

    Raises VibeProtocolError when the answer's events cannot be read (events_of)."""
    listed = events_of(data, bot_id=bot_id)
    items = listed or []
    data = as_mapping(data)
    events: list[BotEvent] = []
    malformed: list[MalformedItem] = []
    for item in items:
        try:
            events.append(parse_event(item))
        except MalformedEventError as error:
            log.warning("bot=%s: malformed event kept aside: %s", bot_id, error)
            malformed.append(MalformedItem(item=item, reason=str(error), event_id=item_event_id(item)))
    stored = data.get("storedOffset")
    persisted = data.get("persisted")
    # Servers older than BOT-BC-0325-1 answer lastEventId (next offset = lastEventId + 1).
    next_offset = data.get("nextOffset") if listed is not None else None  # null events: nothing to move past
    if next_offset is None and data.get("lastEventId") is not None and listed is not None:
        next_offset = as_int(data.get("lastEventId")) + 1
    if next_offset is None and (events or malformed):
        # Neither (the no-next-offset reading): the last event's id + 1, as lastEventId + 1. Kept as it was,
        # the offset acknowledged nothing, the same batch came for ever, and events behind it never came.
        # An id past int64 (a mislabelled 2**63 + 7) is no offset: taken, every poll after it met the
        # platform's INVALID_OFFSET and every later event was lost; without another, nothing moves.
        ids = [e.event_id for e in events] + [m.event_id for m in malformed]
        next_offset = max([i + 1 for i in ids if 0 <= i < MAX_OFFSET], default=None)
    return EventBatch(
        events=tuple(events),
        next_offset=as_int(next_offset),
        has_more=as_bool(data.get("hasMore")),
        stored_offset=as_int(stored) if stored is not None else None,
        persisted=as_bool(persisted) if persisted is not None else None,
        malformed=tuple(malformed),
        raw=data,
    )
