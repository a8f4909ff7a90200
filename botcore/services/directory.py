"""What the platform knows that a form offers to pick from: the bot's group chats and the portal's people.

The platform has no "list the bot's chats" endpoint, so the chats are the group chats seen in the bot's
recent events (joining, messages, commands), then those it was added to that they no longer name (BotChat:
quiet past the events read or the log's retention); the people are GET /v1/users, kept a minute in the
cache (a form reloaded, or a page loaded in a loop, must not spend the app key's budget that every portal's
bots share). Both are best effort: a form keeps working on what is stored when the platform cannot be asked,
and while the cache cannot be reached (Redis down) the chats are read uncached and the people not asked.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext

from botcore.models import Bot, BotChat, EventLogEntry
from botcore.selectors import find_registered_bot
from botcore.services.platform import client_for_portal
from botcore.vibe.errors import VibeError
from botcore.vibe.parse import parse_event
from tenants.errors import TenantsError
from tenants.models import Portal
from vibeapp import shared_cache

log = logging.getLogger(__name__)

RECENT_EVENTS = 2000  # how far back the event log is read for chats
# The chats a picker offers at most: a bot in thousands of chats is read in one bounded query (its newest
# joined), and the page stays a page; a chosen chat past them stays pickable, marked as one not known.
MAX_OFFERED_CHATS = 1000
PAYLOADS_HELD = 200  # events whose payloads are held in memory at once while they are read for chats
PEOPLE_CACHE_SECONDS = 60  # someone who joined the portal is offered a minute later at most
KNOWN_CHATS_CACHE_SECONDS = 3600  # exact while kept: the key names the newest event read


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


# The cache keeps what the platform said (value, name, id), never a label: a label made for the first viewer
# (an unnamed chat's "Chat 5") was offered in their language to every viewer after them for an hour.
def _chat_choice(dialog_id: str, name: str, chat_id: object) -> Choice:
    return Choice(dialog_id, name or gettext("Chat {id}").format(id=chat_id))


def _person_choice(user_id: str, name: str) -> Choice:
    return Choice(user_id, name or gettext("User {id}").format(id=user_id))


def list_known_chats(portal: Portal, *, chosen: Collection[str] = ()) -> list[Choice]:
    """Group chats of the portal's bot: those its recent events name, newest activity first, each under the
    name it last had; then those it joined that they do not name, newest joined first, under the name the
    join gave (a rename sends no event). MAX_OFFERED_CHATS at most, and then each of `chosen` (the chats the
    form has picked) that the bot joined, past the cap: a picked chat the bot is in is always offered as one
    it is in (a standup's chat joined before the newest thousand was said to be left).

    Only the chats its current platform bot was seen in: a bot moved to another credential is a new
    platform bot, which is in none of the old one's chats until someone adds it again.
    """
    bot = find_registered_bot(portal)
    if bot is None or bot.vibe_bot_id is None:
        return []
    chats = {dialog_id: (name, chat_id) for dialog_id, name, chat_id in _chats_in_recent_events(bot)}
    # Read each time (one indexed query of at most MAX_OFFERED_CHATS rows): a join is an event too, so the
    # events' cached answer already names a chat joined since; this adds the quiet ones.
    joined = BotChat.objects.filter(bot=bot, vibe_bot_id=bot.vibe_bot_id).order_by("-joined_at", "-id")
    for dialog_id, name in joined.values_list("dialog_id", "name")[:MAX_OFFERED_CHATS]:
        chats.setdefault(dialog_id, (name, dialog_id.removeprefix("chat")))
    offered = dict(list(chats.items())[:MAX_OFFERED_CHATS])
    # Bounded by the form's picks (a chat option holds one), in one query of the rows the page already reads.
    missing = [dialog_id for dialog_id in chosen if dialog_id.startswith("chat") and dialog_id not in offered]
    offered |= {dialog_id: chats[dialog_id] for dialog_id in missing if dialog_id in chats}  # past the cap
    unread = [dialog_id for dialog_id in missing if dialog_id not in chats][:MAX_OFFERED_CHATS]
    if unread:
        for dialog_id, name in joined.filter(dialog_id__in=unread).values_list("dialog_id", "name"):
            offered.setdefault(dialog_id, (name, dialog_id.removeprefix("chat")))
    return [_chat_choice(dialog_id, name, chat_id) for dialog_id, (name, chat_id) in offered.items()]


def _chats_in_recent_events(bot: Bot) -> list[tuple[str, str, object]]:
    """list_group_chats_in of the bot's recent events, kept in the cache under the newest one."""
    recent = EventLogEntry.objects.filter(bot=bot, vibe_bot_id=bot.vibe_bot_id).order_by("-id")
    newest = recent.values_list("id", "received_at").first()
    if newest is None:
        return []
    # Reading the events is the page's cost (~0.1 s for 2,000 on a busy two-core host); their list changes
    # only with a new one, so the answer is kept under the newest's id and time (ids alone repeat in a
    # database made anew beside a cache that was not): a form's save and the page after it read them once.
    key = f"botcore:known-chats:v2:{bot.pk}:{bot.vibe_bot_id}:{newest[0]}:{newest[1].timestamp()}"
    cached = shared_cache.read(key, what="a form's list of chats")
    if isinstance(cached, list):
        return cached
    chats = list_group_chats_in(recent)
    if cached is None:
        shared_cache.keep(key, chats, KNOWN_CHATS_CACHE_SECONDS, what="a form's list of chats")
    return chats


def list_group_chats_in(
    recent: QuerySet[EventLogEntry], *, limit: int = RECENT_EVENTS
) -> list[tuple[str, str, object]]:
    """(dialog id, name, chat id) of each group chat in the `limit` newest of `recent` (newest first), newest
    first, each under the name its newest event gave it."""
    # A chunk at a time: a payload holds a person's whole message, and a move reads 20,000 of them (840 MB
    # held at once for messages of 20,000 characters, in a task queue worker).
    payloads = recent.values_list("payload", flat=True)[:limit].iterator(chunk_size=PAYLOADS_HELD)
    chats: dict[str, tuple[str, str, object]] = {}
    for payload in payloads:
        try:
            chat = getattr(parse_event(payload), "chat", None)
        except (VibeError, ValueError, TypeError):
            continue  # an entry the parser refuses was recorded as failed; it names no chat to offer
        if chat is None or not chat.dialog_id.startswith("chat") or chat.dialog_id in chats:
            continue
        chats[chat.dialog_id] = (chat.dialog_id, chat.name, chat.id)
    return list(chats.values())


def list_portal_people(portal: Portal) -> list[Choice] | None:
    """The portal's active people by name, or None when the platform cannot be asked right now."""
    key = f"botcore:portal-people:v2:{portal.member_id}"
    cached = shared_cache.read(key, what="a form's list of people")
    if cached is shared_cache.UNREACHABLE:
        return None  # no cache in front of the platform: a page loaded in a loop would spend the key's budget
    if isinstance(cached, list):
        return _people_by_name(cached)
    try:
        client, _ = client_for_portal(portal)
        users = client.list_users()
    except (VibeError, TenantsError) as error:
        log.warning("portal users not listed portal=%s: %s", portal.member_id, error.__class__.__name__)
        return None
    people = [(str(user.id), user.name) for user in users if user.is_active and not user.is_bot]
    shared_cache.keep(key, people, PEOPLE_CACHE_SECONDS, what="a form's list of people")
    return _people_by_name(people)


def _people_by_name(people: list[tuple[str, str]]) -> list[Choice]:
    return sorted((_person_choice(user_id, name) for user_id, name in people), key=lambda c: c.label.lower())
