"""Each bot's event queue: queueing an event, what a fetch sees, what an offset acknowledges, and waking
the long-polls that wait on the bot (CONTRACT part A §8).

Events are numbered per bot from 1 and kept until acknowledged; an offset acknowledges every event below
it, never moves back and never passes the queue's end. A bot a portal admin deleted hears nothing after
its ONIMBOTV2DELETE, and is gone once that event is acknowledged.
"""

from __future__ import annotations

import asyncio

from sandbox.payloads import with_webhook_auth
from sandbox.records import Bot, Event
from sandbox.state import Platform


def emit(
    platform: Platform,
    bot: Bot,
    event_type: str,
    data: dict,
    *,
    force: bool = False,
    wire_id: int | None = None,
) -> Event | None:
    """Queue an event for `bot` and wake its long-polls; a bot being deleted hears nothing more."""
    if bot.deleting and not force:
        return None
    if platform.speaks("no-event-bot"):  # the poll's path names the bot
        data = {key: value for key, value in data.items() if key != "bot"}
    if platform.speaks("auth-in-events"):  # what a classic imbot webhook carries, credentials and all
        data = with_webhook_auth(platform, bot, data)
    event = Event(
        event_id=bot.next_event_id, type=event_type, date=platform.now(), data=data, wire_id=wire_id
    )
    bot.next_event_id += 1
    bot.events.append(event)
    bot.wake_long_polls()
    return event


def acknowledge(platform: Platform, bot: Bot, offset: int) -> None:
    """Acknowledge every event below `offset`; an offset never moves back, nor past the queue's end."""
    bot.offset_named = True
    offset = min(offset, bot.next_event_id)
    if offset > bot.stored_offset:
        bot.stored_offset = offset
        bot.events = [e for e in bot.events if e.event_id >= offset]
    if bot.deleting and not bot.events:
        # ONIMBOTV2DELETE was the last event and it has been acknowledged: the bot is gone.
        platform.remove_bot(bot)


def pending(bot: Bot, *, limit: int) -> tuple[list[Event], bool]:
    """The first `limit` unacknowledged events, and whether more are waiting."""
    events = [e for e in bot.events if e.event_id >= bot.stored_offset]
    return events[:limit], len(events) > limit


async def wait_for_event(bot: Bot, timeout: float) -> None:
    """Return when something is queued for `bot` (or it is removed), or after `timeout` seconds."""
    waiter = asyncio.Event()
    bot.waiters.add(waiter)
    try:
        await asyncio.wait_for(waiter.wait(), timeout)
    except TimeoutError:
        pass
    finally:
        bot.waiters.discard(waiter)
