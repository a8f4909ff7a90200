"""Reading events: parse_event(payload) -> BotEvent and read_event_batch(data) -> EventBatch.

The one reading of an event payload. The client uses it on GET /events; whoever reads a stored event
back (the executor, the chat directory, a deferred job's origin) uses the same parse_event on the
payload the event log kept, so an event is read the same way on both sides of the store.

Reading is lenient by design (wire.py): an unknown event type becomes an UnknownEvent, fields not modelled
stay in each object's `raw`, and scalars sent as strings are converted. An event is refused
(MalformedEventError) only when it could not be used: an envelope that is not an object or has no
integer `eventId` (it could be neither de-duplicated nor acknowledged), or a message event without its
message. read_event_batch keeps a refused item, with the reason, in `EventBatch.malformed`: never dropped,
never fatal to the rest of the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from botcore.vibe.coerce import as_bool, as_int, as_mapping
from botcore.vibe.events import (
    EVENT_CLASSES,
    BotEvent,
    MalformedEventError,
    UnknownEvent,
)
from botcore.vibe.models import EventBatch, MalformedItem
from botcore.vibe.wire import read

log = logging.getLogger(__name__)


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


def read_event_batch(data: Mapping[str, Any], *, bot_id: int | None = None) -> EventBatch:
    """One answer of GET /events as an EventBatch: every item parsed once, a refused one kept aside."""
    data = as_mapping(data)
    items = data.get("events")
    events: list[BotEvent] = []
    malformed: list[MalformedItem] = []
    for item in items if isinstance(items, list) else []:
        try:
            events.append(parse_event(item))
        except MalformedEventError as error:
            log.warning("bot=%s: malformed event kept aside: %s", bot_id, error)
            malformed.append(MalformedItem(item=item, reason=str(error)))
    stored = data.get("storedOffset")
    persisted = data.get("persisted")
    # Servers older than BOT-BC-0325-1 answer lastEventId (next offset = lastEventId + 1).
    next_offset = data.get("nextOffset")
    if next_offset is None and data.get("lastEventId") is not None:
        next_offset = as_int(data.get("lastEventId")) + 1
    return EventBatch(
        events=tuple(events),
        next_offset=as_int(next_offset),
        has_more=as_bool(data.get("hasMore")),
        stored_offset=as_int(stored) if stored is not None else None,
        persisted=as_bool(persisted) if persisted is not None else None,
        malformed=tuple(malformed),
        raw=data,
    )
