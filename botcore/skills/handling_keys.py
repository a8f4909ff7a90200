"""The keys of a handling's effects: its post key, and the templateId of each post or action it makes.

The same post of the same event gets the same templateId however often the event is handled, live and in
the test kit: the ledger finds an earlier attempt's effect by it, and a platform that de-duplicates answers
a repeat with the message it has.
"""

from __future__ import annotations

import uuid

from botcore.skills.events import BackendEvent, SkillEvent

_TEMPLATE_NAMESPACE = uuid.UUID("5d0c2a36-0f6b-4d0e-9a57-3b8f2f6b1e01")


def post_key_for(
    *, vibe_bot_id: int | None, event: SkillEvent, skill_name: str, came_to: int | None = None
) -> str:
    """The base of a handling's templateIds: the platform event's id, or the backend run's key. `came_to`:
    the platform bot the event was polled from (its log entry's), where the event may not name it."""
    if isinstance(event, BackendEvent):
        return f"{vibe_bot_id}:run:{skill_name}:{event.run_key}"
    # Event ids are unique per platform bot: an event drained from a bot's previous platform bot is keyed
    # by the bot it came to, so it never meets a new bot's event of the same id in the ledger, and keeps
    # its keys once the bot has moved (keyed by the bot's platform bot of the moment, a leftover event of a
    # platform whose events name no bot was keyed anew after a move, and its effects made again).
    origin_bot = event.bot.id if event.bot is not None and event.bot.id else (came_to or vibe_bot_id)
    return f"{origin_bot}:{event.event_id}"  # unchanged since the first release: old templateIds stay valid


def template_id_of(post_key: str, number: int) -> str:
    """The templateId of a handling's `number`th post or action (1 first), `post_key` its post_key_for: the
    same for the same post of the same event, however often the event is handled, live and in the kit."""
    return str(uuid.uuid5(_TEMPLATE_NAMESPACE, f"{post_key}:{number}"))
