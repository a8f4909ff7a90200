"""The portal's admins hear of a person's request that left a post, chat or file in doubt (it may be on the
platform or not, and a repeat could make it twice): the person is told (notices.apologize_for_failed_event),
and without this nobody else on the portal was, short of the vendor's operator reading the event log.

The handling only marks its entry (note_left_in_doubt, before the entry is finished: a worker killed in
between handles it again and marks it again). The minute sweep sends the notices (send_doubt_notices), so a
notice can neither slow nor fail an event's handling; one per bot and BOTCORE_DOUBT_NOTICE_WINDOW_SECONDS
at most, telling the first entry not yet told and counting the rest ("and N more").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from botcore import conf
from botcore.models import Bot, EventLogEntry, LeftInDoubt
from botcore.selectors import find_active_bot
from botcore.services.notices import (
    NOTICE_TRIED_FOR,
    admin_languages,
    notice_client,
    send_to_each,
)
from botcore.skills.i18n import in_language, pick
from botcore.skills.registry import find_skill
from botcore.vibe import bbcode as bb
from botcore.vibe.events import ChatEvent, MalformedEventError
from botcore.vibe.parse import parse_event
from tenants.errors import SessionTokenError
from tenants.models import Portal
from tenants.selectors import list_admin_user_ids

log = logging.getLogger(__name__)


def note_left_in_doubt(entry: EventLogEntry, write: str) -> None:
    """Mark `entry` as having left `write` ("post", "chat", "upload") in doubt, its admins' notice due now;
    again for the same entry (a retried attempt) changes nothing the sweep has done."""
    EventLogEntry.objects.filter(pk=entry.pk, left_in_doubt="").update(
        left_in_doubt=LeftInDoubt(write), doubt_notice_due_at=timezone.now()
    )


def _untold(bot_id: int):
    """The bot's entries left in doubt whose notice has not gone out: finished ones only (a marked entry still
    received is an attempt that died, to be handled again)."""
    return EventLogEntry.objects.filter(
        ~Q(left_in_doubt=""), bot_id=bot_id, doubt_noticed_at__isnull=True, doubt_notice_due_at__isnull=False
    ).exclude(status=EventLogEntry.Status.RECEIVED)


def send_doubt_notices(now: datetime, *, limit: int = 200) -> int:
    """The minute sweep's part: for each bot with entries left in doubt and no notice within the window, one
    notice to its portal's admins. Returns how many admins were told."""
    window = timedelta(seconds=conf.doubt_notice_window_seconds())
    told_lately = EventLogEntry.objects.filter(
        ~Q(left_in_doubt=""), doubt_noticed_at__gt=now - window
    ).values("bot_id")
    # Bots, not entries, each once (order_by() drops the log's ordering, which DISTINCT would join: a burst
    # took every place); and none told within the window, which would take a place only to be skipped.
    bot_ids = (
        EventLogEntry.objects.filter(~Q(left_in_doubt=""), doubt_notice_due_at__lte=now)
        .exclude(status=EventLogEntry.Status.RECEIVED)
        .exclude(bot_id__in=told_lately)
        .order_by("bot_id")
        .values_list("bot_id", flat=True)
        .distinct()[:limit]
    )
    return sum(_notify_bot(bot_id, now) for bot_id in list(bot_ids))


def _notify_bot(bot_id: int, now: datetime) -> int:
    untold = _untold(bot_id)
    if untold.filter(doubt_notice_due_at__gt=now).exists():
        return 0  # a sweep's claim on them runs (or a notice tried again waits for it)
    # Claimed for a backoff first, as a failed run's notice is: two sweeps at once never send it twice, and a
    # sweep killed mid-send leaves it due again then (the ledger keeps the admins told from a second one).
    # One statement whatever the burst: the notice tells the first entry and counts the rest.
    claim_until = now + timedelta(seconds=conf.backoff_max_seconds())
    if not untold.filter(doubt_notice_due_at__lte=now).update(doubt_notice_due_at=claim_until):
        return 0  # another sweep has them
    batch = _untold(bot_id).filter(doubt_notice_due_at=claim_until)
    first = batch.select_related("bot__portal").order_by("received_at", "pk").first()
    if first is None:
        return 0
    more = batch.count() - 1
    portal = first.bot.portal
    bot = find_active_bot(portal)
    if bot is None or bot.vibe_bot_id is None or portal.status == Portal.Status.UNINSTALLED:
        _settle(batch, now)  # nobody to write from, or to: dropped, as a failed run's notice is
        return 0
    try:
        told, some_left = _deliver(bot, first, more)
    except SessionTokenError:  # no credential to write with yet: a portal user's visit brings one
        told, some_left = 0, True
    if some_left and now - (first.handled_at or now) < NOTICE_TRIED_FOR:
        return told  # the rest at the claim's end
    if some_left:
        log.warning(
            "in-doubt notice given up: bot=%s portal=%s, some admins never told", bot.pk, portal.member_id
        )
    _settle(batch, now)
    return told


def _settle(batch: QuerySet[EventLogEntry], now: datetime) -> None:
    batch.update(doubt_notice_due_at=None, doubt_noticed_at=now)


def _deliver(bot: Bot, first: EventLogEntry, more: int) -> tuple[int, bool]:
    client = notice_client(bot)
    language_of = admin_languages(client, bot.portal)
    delivery = send_to_each(
        bot,
        client,
        list_admin_user_ids(bot.portal),
        lambda user_id: doubt_notice_text(first, more, language_of(user_id)),
        what="in-doubt notice",
        # Keyed by the first entry it tells of: a sweep killed after sending finds the same first entry.
        once_key=lambda user_id: f"notice:in-doubt:{first.pk}:{user_id}",
    )
    return delivery.told, delivery.untold > 0


def skill_title(name: str, language: str) -> str:
    """A skill's title in `language`, else its name (one no longer configured keeps the name stored)."""
    skill = find_skill(name) if name else None
    if skill is None:
        return name or gettext("a skill")
    return pick(skill.title, language) if skill.title else skill.name


def chat_of(entry: EventLogEntry) -> str:
    """Which chat the request came from, by what the event names (never a message's text): a group chat's
    name, or the person of a private dialog, each as one line of plain text (bb.plain_name)."""
    try:
        event = parse_event(entry.payload)
    except MalformedEventError:
        return gettext("an unknown chat")
    if not isinstance(event, ChatEvent):
        return gettext("an unknown chat")
    chat, user = event.chat, event.user
    if chat is not None and chat.type not in ("", "private"):
        if name := bb.plain_name(chat.name):
            return gettext("the chat “{name}”").format(name=name)
        # A group chat whose name shows nothing (controls alone): by its id, never as the private chat of the
        # person who wrote, where the admin would look in vain.
        return gettext("the chat {dialog}").format(dialog=event.dialog_id or "?")
    if user is not None and bb.plain_name(user.name):
        return gettext("the private chat with {person}").format(person=bb.plain_name(user.name))
    return gettext("the chat {dialog}").format(dialog=event.dialog_id or "?")


def what_was_left(write: str) -> str:
    """What may or may not be on the platform, and why the bot did not try again."""
    if write == LeftInDoubt.CHAT:
        return gettext(
            "the new chat it was creating may or may not exist: the platform failed while creating it, and"
            " the bot did not create it again so as not to make two"
        )
    if write == LeftInDoubt.UPLOAD:
        return gettext(
            "the file it was sending may or may not have arrived: the platform failed while taking it, and"
            " the bot did not send it again so as not to send two"
        )
    return gettext(
        "one of its answers may be missing from the chat: the platform failed while posting it, and the"
        " bot did not post it again so as not to show it twice"
    )


def what_the_person_heard(write: str) -> str:
    """What the person was told of it (notices._failed_event_text), in the admin's words."""
    if write == LeftInDoubt.POST:
        return gettext("The person was not told: the answer may well have reached them.")
    return gettext("The person was told so, and asked to look for it before asking again.")


def doubt_notice_text(first: EventLogEntry, more: int, language: str) -> str:
    with in_language(language):
        text = gettext(
            "“{skill}” may not have finished a request in {chat}: {what}. {heard} Please check that chat: if"
            " it is missing, the person can ask again. The app's vendor can see the details."
        ).format(
            skill=skill_title(first.skill, language),
            chat=bb.escape(chat_of(first)),  # names people chose, shown as typed
            what=what_was_left(first.left_in_doubt),
            heard=what_the_person_heard(first.left_in_doubt),
        )
        link = bb.url(settings.VIBE_APP_PUBLIC_URL, gettext("the app's page"))
        if more:
            text += " " + ngettext(
                "And {count} more request was left in doubt since; {link} lists them.",
                "And {count} more requests were left in doubt since; {link} lists them.",
                more,
            ).format(count=more, link=link)
        return text
