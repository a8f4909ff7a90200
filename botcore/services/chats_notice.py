"""The notice owed to a portal's admins when a move gives the portal a new platform bot (the app key rotated,
a personal key given, replaced or removed): the group chats the old bot was in, to add the new one to.

The platform's Chat.User.add takes no bot, so only a portal user can add the new bot to a chat, and the
platform lists no bot's chats. So before the old bot goes, the move collects them from what the backend knows
(collect_old_bot_chats): the chats the enabled skills post to (their GroupChat options, the standup's chat),
then those the old bot's events came from, newest first, then those its ONIMBOTV2JOINCHAT events added it to
(models.BotChat, kept past the event log's retention); each under the name the old bot sees now
(Chat.get), else the one its newest event gave, else its id. A chat the platform says the old bot is not in
(it was removed, or left: no event tells) is left out, named or counted, as far as the move's look-ups go.
Private dialogs never are listed: the new bot writes to a person unadded.

The list is kept on the bot row by the move's own update, and sent from the new bot to each admin in their
language (else the portal's), as the other admin notices are (notices.send_to_each): once per admin and old
bot (the action ledger's key), and tried again by the minute sweep while the platform keeps some admins
untold, for notices.NOTICE_TRIED_FOR. The admins are those tenants knows, who opened the app (a stored
session): the platform names a portal's admins to no bot. While it knows none, or the bot cannot send (paused,
waiting for a session, broken, no credential), the notice waits, unswept, however long, and what ends the
wait makes it due (wake_chats_notices: a portal user's visit, the bot resumed or provisioned). Once every
admin known was told it is kept, unswept, for NOTICE_KEPT_FOR: an admin who had not opened the app is known
from their first visit, which sends it to them.

A move run again before its update (a crash) collects again for the same old bot; after it, the row has
moved, and neither a re-run nor a re-provision moves it again.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, ngettext

from botcore import conf
from botcore.models import Bot, BotChat, EventLogEntry
from botcore.selectors import list_enabled_skills
from botcore.services.directory import list_group_chats_in
from botcore.services.notices import NOTICE_TRIED_FOR, admin_languages, notice_client, send_to_each
from botcore.services.platform import client_for_bot
from botcore.skills.i18n import in_language
from botcore.skills.options import GroupChat
from botcore.vibe import VibeClient
from botcore.vibe import bbcode as bb
from botcore.vibe.budget import Priority
from botcore.vibe.errors import VibeApiError, VibeError, VibeNotFoundError
from tenants.errors import SessionTokenError, TenantsError
from tenants.models import Portal
from tenants.selectors import list_admin_user_ids

log = logging.getLogger(__name__)

# Chats listed by name in the notice; the rest are counted ("and 12 more"). Each listed one costs the move a
# Chat.get on the app key's shared budget, and an admin reads twenty names, not three hundred.
MAX_LISTED_CHATS = 20
# Chat.get calls one move makes at most: the listed ones, then as many again for chats found left and for the
# counted ones (the platform sends no event when a bot leaves or is removed from a chat: only a look tells;
# a chat past the look-ups is counted as one the old bot was seen in); and for how long, as the move runs in
# a task the queue kills at VIBE_Q_TIMEOUT, after a drain that may take a cycle's deadline (40 calls took
# 3.8 s against a loaded sandbox; a slow platform is not waited on for each). Not every counted chat: a
# rotated app key moves every portal at once, on that key's shared budget.
MAX_NAME_LOOKUPS = 2 * MAX_LISTED_CHATS
NAME_LOOKUP_SECONDS = 10.0
# The old bot's newest events read for the chats they came from: 20,000 took 2.1 s (300 chats, SQLite, on a
# busy two-core host), once per move.
EVENTS_READ = 20_000
# The candidates (besides an earlier notice's) past which a chat is only counted: _listed_by_old_bot names
# MAX_LISTED_CHATS and looks up at most MAX_NAME_LOOKUPS (each may find the old bot gone from its chat, the
# only way one is left out), so it has named its MAX_LISTED_CHATS by then and counts every one after those.
MAX_CANDIDATES = MAX_LISTED_CHATS + MAX_NAME_LOOKUPS
# Joined chats' rows held in memory at once while a move reads them (BotChat: up to 64 + 255 characters each).
JOINED_HELD = 500
# A chat's name as the notice shows it, at most.
NAME_CHARS = 80
# How long a notice every admin known was told is kept for an admin who opens the app later (the first visit
# is how the backend learns someone is an admin): by then the chats were added again, or left for good.
NOTICE_KEPT_FOR = timedelta(days=7)
# A chat's name as the bot row keeps it for the notice, at most, as a joined chat's row does: the platform's
# title or an event's name came as long as an answer may be (16 MiB), and every poll cycle reads that row.
KEPT_NAME_CHARS = BotChat._meta.get_field("name").max_length or 255
# A group chat's dialog id ("chatN") is listed up to this long, as a joined chat's row keeps one: an event's
# longer one (the platform's to give) went into each look-up's URL, and one past httpx's limit raised out of
# the move, at each run of it.
MAX_DIALOG_ID_CHARS = BotChat._meta.get_field("dialog_id").max_length or 64


def collect_old_bot_chats(bot: Bot) -> dict[str, Any] | None:
    """What the notice of the move off the platform bot `bot` points at says, read before that bot goes: the
    group chats it was in (MAX_LISTED_CHATS of them named, the rest counted). None when the backend knows of
    none. Best effort on the platform: a name it cannot give now is the one the events gave."""
    old_id = bot.vibe_bot_id
    if old_id is None:
        return None
    candidates: dict[str, str] = {}  # dialog id -> the name known so far, in the order they are listed
    for skill, options in list_enabled_skills(bot.portal):
        for name, option in skill.options_schema.fields.items():
            value = options.get(name)
            if isinstance(option, GroupChat) and isinstance(value, str) and value.startswith("chat"):
                candidates.setdefault(value, "")
    recent = EventLogEntry.objects.filter(bot=bot, vibe_bot_id=old_id).order_by("-id")
    for dialog_id, name, _ in list_group_chats_in(recent, limit=EVENTS_READ):
        candidates[dialog_id] = candidates.get(dialog_id) or name
    # A notice still owed by an earlier move lists chats this old bot may never have been added to; one its
    # admins were told (kept for a later admin's visit) was theirs to act on.
    owed = bot.chats_notice if bot.chats_notice and not bot.chats_notice.get("told_at") else {}
    earlier = dict(owed.get("chats", []))
    # Then those it was added to that no event read names: quiet since the log's retention, or read past.
    counted = _add_joined_chats(bot, old_id, candidates, earlier=earlier)
    listed, more = _listed_by_old_bot(bot, old_id, candidates, keep=earlier)
    more += counted + int(owed.get("more", 0))
    if not listed:
        return None
    return {"old_bot": old_id, "moved_at": timezone.now().isoformat(), "chats": listed, "more": more}


def _add_joined_chats(bot: Bot, old_id: int, candidates: dict[str, str], *, earlier: dict[str, str]) -> int:
    """Add to `candidates` the chats the old bot joined (models.BotChat), newest joined first, while a name or
    a look-up could be given to them (MAX_CANDIDATES); count the rest, as the listing would. Read a chunk at
    a time: a portal user can add the bot to chat after chat, and a move read every one of them into memory
    at once, names and all, to count all but a few. Returns how many were counted."""
    joined = BotChat.objects.filter(bot=bot, vibe_bot_id=old_id).order_by("-joined_at", "-id")
    counted = 0
    for dialog_id, name in joined.values_list("dialog_id", "name").iterator(chunk_size=JOINED_HELD):
        if dialog_id in candidates or dialog_id in earlier:
            candidates[dialog_id] = candidates.get(dialog_id) or name
        elif len(candidates) < MAX_CANDIDATES + len(earlier):  # the earlier notice's are never looked up
            candidates[dialog_id] = name
        else:
            counted += 1  # past every name and look-up the notice gives: _listed_by_old_bot would count it
    return counted


def _listed_by_old_bot(
    bot: Bot, old_id: int, candidates: dict[str, str], *, keep: dict[str, str]
) -> tuple[list[list[str]], int]:
    """The chats to list ([dialog id, name]) and how many more there are: the candidates the old bot is still
    in, named as it sees them, then the ones of `keep` (an earlier notice's) not among them."""
    client: VibeClient | None
    try:
        # Setting a bot up, no person waiting on it: behind every portal's replies on the key they share (a
        # rotated app key moves every portal at once, each move up to MAX_NAME_LOOKUPS look-ups).
        client = client_for_bot(bot, default_priority=Priority.SETUP)
    except TenantsError:
        client = None  # its credential is gone (a personal key removed): the names the events gave
    listed: list[list[str]] = []
    more = lookups = 0
    give_up = time.monotonic() + NAME_LOOKUP_SECONDS
    for dialog_id, known in [*candidates.items(), *((d, n) for d, n in keep.items() if d not in candidates)]:
        if len(dialog_id) > MAX_DIALOG_ID_CHARS:
            continue  # no chat id a person could be shown, nor a look-up could carry
        name = keep.get(dialog_id) or known
        asking = lookups < MAX_NAME_LOOKUPS and time.monotonic() < give_up
        if len(listed) >= MAX_LISTED_CHATS and (client is None or not asking or dialog_id in keep):
            more += 1  # past the look-ups: counted as seen in, which it may have left since
            continue
        if client is not None and asking and dialog_id not in keep:
            lookups += 1
            try:
                name = client.get_chat(old_id, dialog_id).title or name
            except VibeApiError as error:
                if not error.concerns_bot and not error.is_transient and _not_in_it(error):
                    continue  # the old bot was removed from it (or it is gone): nothing to add the new one to
                client = None  # the old bot or the platform refuses every look: stop asking
            except VibeError:
                client = None  # the platform does not answer: the move must not wait on it for each chat
        if len(listed) >= MAX_LISTED_CHATS:
            more += 1  # the old bot is still in it: counted, not named
        else:
            listed.append([dialog_id, name[:KEPT_NAME_CHARS]])
    return listed, more


def _not_in_it(error: VibeApiError) -> bool:
    # CONTRACT B §7.4: ACCESS_DENIED when the bot is not a member (a member may always read the chat). A chat
    # gone is not found by its code, not its 404: a platform passing CHAT_NOT_FOUND on inside its 502
    # BITRIX_ERROR keeps the 502 (answers.py: passed_on_refusal).
    return error.canonical_code == "ACCESS_DENIED" or isinstance(error, VibeNotFoundError)


def chats_notice_text(facts: dict[str, Any], language: str) -> str:
    """The notice in `language`: what happened, the chats (each a link that opens it), how many more."""
    with in_language(language):
        lines: list[str] = [
            gettext(
                "The bot was registered anew on this portal (the app's key or the portal's key changed), and"
                " the new bot is in none of the group chats the old one was in: only a portal user can add a"
                " bot to a chat. Please add it to each of these chats, or it cannot post there:"
            )
        ]
        for dialog_id, name in facts["chats"]:
            chat_id = dialog_id.removeprefix("chat")
            # Anyone in the chat names it: a line of its own would read as ours.
            label = bb.plain_name(name, NAME_CHARS) or gettext("Chat {id}").format(id=bb.one_line(chat_id))
            # The id is the platform's: one a [CHAT=…] tag cannot carry is named in plain text, not left out
            # (the admin still has a chat to find by its name) and not raised (that stopped the whole notice).
            link = bb.chat_link(chat_id, label) if bb.fits_attribute(chat_id) else label
            lines.append(bb.join(["• ", link]))
        more = int(facts.get("more", 0))
        if more:
            lines.append(
                ngettext(
                    "… and {count} more group chat the old bot was seen in.",
                    "… and {count} more group chats the old bot was seen in.",
                    more,
                ).format(count=more)
            )
        return bb.join(lines, "\n")


def send_chats_notice(bot: Bot, *, now: datetime) -> int:
    """Send the notice the bot row owes to the portal's admins not told yet, from its platform bot. Kept due
    again after a backoff while some could not be told for a passing reason, for NOTICE_TRIED_FOR; kept
    unswept, for a visit to wake (wake_chats_notices), while no admin is known or the bot cannot send (paused,
    waiting for a session, no credential), and once every admin known was told, for one who opens the app
    later (NOTICE_KEPT_FOR). Returns how many were told now."""
    facts = bot.chats_notice
    if not facts:
        return 0
    portal = bot.portal
    owed = Bot.objects.filter(pk=bot.pk, chats_notice__old_bot=facts["old_bot"])
    told_at = facts.get("told_at")
    if (
        portal.status == Portal.Status.UNINSTALLED
        or bot.status == Bot.Status.RETIRED
        or (told_at and now - datetime.fromisoformat(told_at) >= NOTICE_KEPT_FOR)
    ):
        owed.update(chats_notice=None, chats_notice_due_at=None)
        return 0
    admin_ids = list_admin_user_ids(portal)
    client = _sender(bot) if admin_ids else None
    if client is None:
        # Nobody to tell (the platform names no portal's admins to a bot), or no bot to tell them from yet:
        # the notice waits, unswept, however long that takes, for what ends it to wake it (wake_chats_notices:
        # a portal user's visit, the bot resumed or provisioned). Tried for a day from the move, a bot paused
        # for a weekend had its notice given up before it could send it.
        why = "an admin's visit" if not admin_ids else "the bot to be able to send"
        log.info("chats notice waits for %s portal=%s bot=%s", why, portal.member_id, bot.pk)
        owed.update(chats_notice_due_at=None)
        return 0
    told, some_left = _tell_admins(bot, client, facts, admin_ids)
    # Its day of tries runs from the move, or from the visit that woke it after it waited.
    tried_from = datetime.fromisoformat(facts.get("woken_at") or facts["moved_at"])
    if some_left and now - tried_from < NOTICE_TRIED_FOR:
        owed.update(chats_notice_due_at=now + timedelta(seconds=conf.backoff_max_seconds()))
        return told
    if some_left:
        log.warning(
            "chats notice given up after %s: portal=%s bot=%s, some admins never told",
            NOTICE_TRIED_FOR, portal.member_id, bot.pk,
        )  # fmt: skip
        owed.update(chats_notice=None, chats_notice_due_at=None)
        return told
    # Every admin known was told. Another admin is known only once they open the app: kept, unswept, for
    # their visit (the action ledger tells each once), from when the first were told.
    owed.update(chats_notice=facts | {"told_at": told_at or now.isoformat()}, chats_notice_due_at=None)
    return told


def _sender(bot: Bot) -> VibeClient | None:
    """A client on the bot's credential, if the bot may send now: running, registered, its credential held."""
    if bot.status != Bot.Status.ACTIVE or bot.vibe_bot_id is None:
        return None  # paused by an operator, waiting for a session, broken or awaiting its registration
    try:
        return notice_client(bot)  # as every notice to the admins goes
    except SessionTokenError:
        return None  # no credential to write with: a portal user's visit brings one


def _tell_admins(
    bot: Bot, client: VibeClient, facts: dict[str, Any], admin_ids: list[int]
) -> tuple[int, bool]:
    # The directory is asked for their languages only when one is told: a visit that wakes a notice every
    # known admin has had costs no platform call.
    language_of = functools.cache(lambda: admin_languages(client, bot.portal))
    delivery = send_to_each(
        bot,
        client,
        admin_ids,
        lambda user_id: chats_notice_text(facts, language_of()(user_id)),
        what="chats notice",
        once_key=lambda user_id: f"notice:chats-to-add:{facts['old_bot']}:{user_id}",
    )
    if delivery.told:
        log.info(
            "chats notice sent portal=%s bot=%s admins=%s chats=%s",
            bot.portal.member_id, bot.pk, delivery.told, len(facts["chats"]) + int(facts.get("more", 0)),
        )  # fmt: skip
    return delivery.told, delivery.untold > 0


def wake_chats_notices(portal: Portal) -> int:
    """A portal user's session was stored, or the portal's bot resumed or provisioned: a notice waiting for an
    admin to tell or for the bot to send it is due at the minute sweep (which finds whether it can go now),
    its day of tries counted from now. Returns how many were woken."""
    now = timezone.now()
    woken = 0
    waiting = Bot.objects.filter(portal=portal, chats_notice__isnull=False, chats_notice_due_at__isnull=True)
    for bot in waiting:  # none, but for a portal whose notice waits
        facts = dict(bot.chats_notice or {}) | {"woken_at": now.isoformat()}
        still = waiting.filter(pk=bot.pk, chats_notice__old_bot=facts.get("old_bot"))
        woken += still.update(chats_notice=facts, chats_notice_due_at=now)
    return woken


def retry_chats_notices(now: datetime, *, limit: int = 200) -> int:
    """The minute sweep's part: send again the chats notices that are due. Each is claimed for a backoff
    first, so two sweeps at once never send it twice. Returns how many admins were told."""
    told = 0
    due = Bot.objects.filter(chats_notice_due_at__lte=now).select_related("portal")
    for bot in due.order_by("chats_notice_due_at")[:limit]:
        claimed = Bot.objects.filter(pk=bot.pk, chats_notice_due_at=bot.chats_notice_due_at).update(
            chats_notice_due_at=now + timedelta(seconds=conf.backoff_max_seconds())
        )
        if claimed:  # else another sweep has it
            told += send_chats_notice(bot, now=now)
    return told
