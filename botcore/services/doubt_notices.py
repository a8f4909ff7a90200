"""The portal's admins hear of a person's request, a deferred job or a scheduled run that left a post, chat or
file in doubt (it may be on the platform or not, and a repeat could make it twice): a person is told
(notices.apologize_for_failed_event), and without this nobody else on the portal was, short of the vendor's
operator reading the event log or the runs.

The handling only marks its entry or run (note_left_in_doubt, before it is finished: a worker killed in
between runs it again and marks it again). The minute sweep sends the notices (send_doubt_notices), so a
notice can neither slow nor fail the work; one per BOTCORE_DOUBT_NOTICE_WINDOW_SECONDS at most for a bot's
events, and one for a portal's runs, telling the first not yet told and counting the rest ("and N more").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from botcore import conf
from botcore.models import Bot, EventLogEntry, LeftInDoubt, SkillRun
from botcore.selectors import find_active_bot
from botcore.services.notices import (
    NOTICE_TRIED_FOR,
    admin_languages,
    day_and_time,
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


# What is marked in doubt: a platform event's log entry, or a skill run (a deferred job, a scheduled run).
Marked = EventLogEntry | SkillRun


def note_left_in_doubt(work: Marked, write: str) -> None:
    """Mark `work` (an event's entry or a run) as having left `write` ("post", "chat", "upload") in doubt, its
    admins' notice due now; again for the same work (a retried attempt) changes nothing the sweep has done."""
    type(work).objects.filter(pk=work.pk, left_in_doubt="").update(
        left_in_doubt=LeftInDoubt(write), doubt_notice_due_at=timezone.now()
    )


def _untold(bot_id: int):
    """The bot's entries left in doubt whose notice has not gone out: finished ones only (a marked entry still
    received is an attempt that died, to be handled again)."""
    return EventLogEntry.objects.filter(
        ~Q(left_in_doubt=""), bot_id=bot_id, doubt_noticed_at__isnull=True, doubt_notice_due_at__isnull=False
    ).exclude(status=EventLogEntry.Status.RECEIVED)


# A run's verdicts that end it: a marked run pending or running again is an attempt that died, to run again.
RUN_ENDED = (SkillRun.Status.DONE, SkillRun.Status.FAILED)


def _untold_runs(portal_id: int):
    """The portal's runs left in doubt whose notice has not gone out: ended ones only."""
    return SkillRun.objects.filter(
        ~Q(left_in_doubt=""),
        portal_id=portal_id,
        status__in=RUN_ENDED,
        doubt_noticed_at__isnull=True,
        doubt_notice_due_at__isnull=False,
    )


def send_doubt_notices(now: datetime, *, limit: int = 200) -> int:
    """The minute sweep's part: for each bot with entries left in doubt, and each portal with runs left in
    doubt, and no notice of them within the window, one notice to its portal's admins. Returns how many
    admins were told."""
    told_since = now - timedelta(seconds=conf.doubt_notice_window_seconds())
    marked = ~Q(left_in_doubt="")
    # Bots and portals, not entries, each once (order_by() drops the log's ordering, which DISTINCT would
    # join: a burst took every place); and none told within the window, which would take a place only to be
    # skipped.
    bot_ids = (
        EventLogEntry.objects.filter(marked, doubt_notice_due_at__lte=now)
        .exclude(status=EventLogEntry.Status.RECEIVED)
        .exclude(
            bot_id__in=EventLogEntry.objects.filter(marked, doubt_noticed_at__gt=told_since).values("bot_id")
        )
        .order_by("bot_id")
        .values_list("bot_id", flat=True)
        .distinct()[:limit]
    )
    told = 0
    for bot_id in list(bot_ids):
        told += _notify(
            _untold(bot_id),
            ("received_at", "pk"),
            now,
            related="bot__portal",
            key="in-doubt",
            text=doubt_notice_text,
        )
    portal_ids = (
        SkillRun.objects.filter(marked, status__in=RUN_ENDED, doubt_notice_due_at__lte=now)
        .exclude(
            portal_id__in=SkillRun.objects.filter(marked, doubt_noticed_at__gt=told_since).values("portal_id")
        )
        .order_by("portal_id")
        .values_list("portal_id", flat=True)
        .distinct()[:limit]
    )
    for portal_id in list(portal_ids):
        told += _notify(
            _untold_runs(portal_id),
            ("finished_at", "pk"),
            now,
            related="portal",
            key="run-in-doubt",
            text=run_doubt_notice_text,
        )
    return told


def _notify(
    untold: QuerySet[Any],
    order: tuple[str, ...],
    now: datetime,
    *,
    related: str,
    key: str,
    text: Callable[[Any, int, str], str],
) -> int:
    """One notice of `untold` (a bot's entries or a portal's runs, told of from the oldest by `order`) to the
    portal's admins: `text(first, more, language)`, once per admin under the ledger's
    `notice:<key>:<first>:<user>`."""
    if untold.filter(doubt_notice_due_at__gt=now).exists():
        return 0  # a sweep's claim on them runs (or a notice tried again waits for it)
    # Claimed for a backoff first, as a failed run's notice is: two sweeps at once never send it twice, and a
    # sweep killed mid-send leaves it due again then (the ledger keeps the admins told from a second one).
    # One statement whatever the burst: the notice tells the first and counts the rest.
    claim_until = now + timedelta(seconds=conf.backoff_max_seconds())
    if not untold.filter(doubt_notice_due_at__lte=now).update(doubt_notice_due_at=claim_until):
        return 0  # another sweep has them
    batch = untold.filter(doubt_notice_due_at=claim_until)
    first = batch.select_related(related).order_by(*order).first()
    if first is None:
        return 0
    more = batch.count() - 1
    portal = first.bot.portal if isinstance(first, EventLogEntry) else first.portal
    bot = find_active_bot(portal)
    if bot is None or bot.vibe_bot_id is None or portal.status == Portal.Status.UNINSTALLED:
        _settle(batch, now)  # nobody to write from, or to: dropped, as a failed run's notice is
        return 0
    try:
        told, some_left = _deliver(bot, first, more, key=key, text=text)
    except SessionTokenError:  # no credential to write with yet: a portal user's visit brings one
        told, some_left = 0, True
    ended = first.handled_at if isinstance(first, EventLogEntry) else first.finished_at
    if some_left and now - (ended or now) < NOTICE_TRIED_FOR:
        return told  # the rest at the claim's end
    if some_left:
        log.warning(
            "in-doubt notice given up: bot=%s portal=%s, some admins never told", bot.pk, portal.member_id
        )
    _settle(batch, now)
    return told


def _settle(batch: QuerySet[Any], now: datetime) -> None:
    batch.update(doubt_notice_due_at=None, doubt_noticed_at=now)


def _deliver(
    bot: Bot, first: Marked, more: int, *, key: str, text: Callable[[Any, int, str], str]
) -> tuple[int, bool]:
    client = notice_client(bot)
    language_of = admin_languages(client, bot.portal)
    delivery = send_to_each(
        bot,
        client,
        list_admin_user_ids(bot.portal),
        lambda user_id: text(first, more, language_of(user_id)),
        what="in-doubt notice",
        # Keyed by the first it tells of: a sweep killed after sending finds the same first one.
        once_key=lambda user_id: f"notice:{key}:{first.pk}:{user_id}",
    )
    return delivery.told, delivery.untold > 0


def skill_title(name: str, language: str) -> str:
    """A skill's title in `language`, else its name (one no longer configured keeps the name stored)."""
    skill = find_skill(name) if name else None
    if skill is None:
        return name or gettext("a skill")
    return pick(skill.title, language) if skill.title else skill.name


def chat_of(entry: EventLogEntry) -> str:
    """Which chat the request came from (chat_named)."""
    return chat_named(entry.payload)


def chat_named(payload: Any) -> str:
    """Which chat a stored platform event came from, by what it names (never a message's text): a group
    chat's name, or the person of a private dialog, each as one line of plain text (bb.plain_name)."""
    try:
        event = parse_event(payload)
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


def run_doubt_notice_text(first: SkillRun, more: int, language: str) -> str:
    """The admins' notice of a deferred job or scheduled run that left a post, chat or file in doubt."""
    with in_language(language):
        text = gettext(
            "“{skill}” may not have finished {work}: {what}. Please check that it is there: if it is missing,"
            " do by hand what it was for. The app's vendor can see the details."
        ).format(
            skill=skill_title(first.skill_name, language),
            work=_work_of(first),
            what=what_was_left(first.left_in_doubt),
        )
        if more:
            text += " " + ngettext(
                "And {count} more of its runs or jobs was left in doubt since.",
                "And {count} more of its runs or jobs were left in doubt since.",
                more,
            ).format(count=more)
        return text


def _work_of(run: SkillRun) -> str:
    """What the run was, in the active language: a schedule's firing at its time on the portal's clock, or a
    job and the chat of the request it was deferred from (never what was written)."""
    if run.kind == SkillRun.Kind.SCHEDULED and "local_due_at" in run.payload:
        when = day_and_time(datetime.fromisoformat(run.payload["local_due_at"]))
        return gettext("its scheduled run of {when}").format(when=when)
    origin = run.payload.get("origin") if run.kind == SkillRun.Kind.DEFERRED else None
    if origin:
        chat = bb.escape(chat_named(origin))  # names people chose, shown as typed
        return gettext("a job it was doing for a request in {chat}").format(chat=chat)
    return gettext("a job it was doing")
