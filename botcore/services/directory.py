"""What the platform knows that a form offers to pick from: the bot's group chats and the portal's people.

The platform has no "list the bot's chats" endpoint, so the chats are the group chats seen in the bot's
recent events (joining, messages, commands); the people are GET /v1/users, kept a minute in the cache (a
form reloaded, or a page loaded in a loop, must not spend the app key's budget that every portal's bots
share). Both are best effort: a form keeps working on what is stored when the platform cannot be asked,
and while the cache cannot be reached (Redis down) the chats are read uncached and the people not asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import QuerySet

from botcore.models import EventLogEntry
from botcore.selectors import find_registered_bot
from botcore.services.platform import client_for_portal
from botcore.vibe.errors import VibeError
from botcore.vibe.parse import parse_event
from tenants.errors import TenantsError
from tenants.models import Portal
from vibeapp import shared_cache

log = logging.getLogger(__name__)

RECENT_EVENTS = 2000  # how far back the event log is read for chats
PEOPLE_CACHE_SECONDS = 60  # someone who joined the portal is offered a minute later at most
KNOWN_CHATS_CACHE_SECONDS = 3600  # exact while kept: the key names the newest event read


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def list_known_chats(portal: Portal) -> list[Choice]:
    """Group chats of the portal's bot, newest activity first, each under the name it last had.

    Only the chats its current platform bot was seen in: a bot moved to another credential is a new
    platform bot, which is in none of the old one's chats until someone adds it again.
    """
    bot = find_registered_bot(portal)
    if bot is None:
        return []
    recent = EventLogEntry.objects.filter(bot=bot, vibe_bot_id=bot.vibe_bot_id).order_by("-id")
    newest = recent.values_list("id", "received_at").first()
    if newest is None:
        return []
    # Reading the events is the page's cost (~0.1 s for 2,000 on a busy two-core host); their list changes
    # only with a new one, so the answer is kept under the newest's id and time (ids alone repeat in a
    # database made anew beside a cache that was not): a form's save and the page after it read them once.
    key = f"botcore:known-chats:{bot.pk}:{bot.vibe_bot_id}:{newest[0]}:{newest[1].timestamp()}"
    cached = shared_cache.read(key, what="a form's list of chats")
    if not isinstance(cached, list):
        chats = _chats_in(recent)
        if cached is None:
            kept = [(choice.value, choice.label) for choice in chats]
            shared_cache.keep(key, kept, KNOWN_CHATS_CACHE_SECONDS, what="a form's list of chats")
        return chats
    return [Choice(value, label) for value, label in cached]


def _chats_in(recent: QuerySet[EventLogEntry]) -> list[Choice]:
    payloads = recent.values_list("payload", flat=True)[:RECENT_EVENTS]
    chats: dict[str, Choice] = {}
    for payload in payloads:
        try:
            chat = getattr(parse_event(payload), "chat", None)
        except (VibeError, ValueError, TypeError):
            continue  # an entry the parser refuses was recorded as failed; it names no chat to offer
        if chat is None or not chat.dialog_id.startswith("chat") or chat.dialog_id in chats:
            continue
        chats[chat.dialog_id] = Choice(chat.dialog_id, chat.name or f"Chat {chat.id}")
    return list(chats.values())


def list_portal_people(portal: Portal) -> list[Choice] | None:
    """The portal's active people by name, or None when the platform cannot be asked right now."""
    key = f"botcore:portal-people:{portal.member_id}"
    cached = shared_cache.read(key, what="a form's list of people")
    if cached is shared_cache.UNREACHABLE:
        return None  # no cache in front of the platform: a page loaded in a loop would spend the key's budget
    if isinstance(cached, list):
        return [Choice(value, label) for value, label in cached]
    try:
        client, _ = client_for_portal(portal)
        users = client.list_users()
    except (VibeError, TenantsError) as error:
        log.warning("portal users not listed portal=%s: %s", portal.member_id, error.__class__.__name__)
        return None
    people = sorted(
        (
            Choice(str(user.id), user.name or f"User {user.id}")
            for user in users
            if user.is_active and not user.is_bot
        ),
        key=lambda choice: choice.label.lower(),
    )
    kept = [(choice.value, choice.label) for choice in people]
    shared_cache.keep(key, kept, PEOPLE_CACHE_SECONDS, what="a form's list of people")
    return people
