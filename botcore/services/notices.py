"""Messages the backend itself sends (not a skill's): to a portal's admins, the session expiry reminder and
the notice that a skill's scheduled run failed (nobody is watching when a schedule fires); to a person whose
message met a skill's bug, that it failed, instead of silence."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext

from botcore import conf
from botcore.errors import ActionInDoubtError, is_transient
from botcore.models import Bot, SkillRun
from botcore.selectors import find_active_bot
from botcore.services.action_ledger import DatabaseLedger
from botcore.services.platform import client_for_bot
from botcore.skills.base import Skill
from botcore.skills.cron import portal_zone
from botcore.skills.i18n import in_language, listed_languages, pick
from botcore.skills.registry import find_skill
from botcore.vibe import VibeClient
from botcore.vibe import bbcode as bb
from botcore.vibe.budget import Priority
from botcore.vibe.chat_marks import newest_on_platform, shows_never_arrived
from botcore.vibe.errors import VibeApiError, VibeError, VibeProtocolError
from botcore.vibe.events import BotEvent, CommandAddEvent, MessageAddEvent
from tenants.errors import SessionTokenError
from tenants.models import Portal
from tenants.selectors import get_portal_preferences, list_admin_user_ids

log = logging.getLogger(__name__)


def notice_client(bot: Bot) -> VibeClient:
    """The client every notice to a portal's admins is sent with (the expiry warning, a failed run's, a
    move's chats notice; the directory read for their languages too): on the credential that registered
    `bot`, at a skill run's priority. No one waits on a notice in a chat, and many portals' come at once (a
    rotated app key moves every portal, a schedule fires for all, an outage fails them alike): at a reply's
    priority they went level with every portal's answers to people on the key they share. Raises tenants'
    SessionTokenError when the portal no longer has that credential (client_for_bot)."""
    return client_for_bot(bot, default_priority=Priority.RUN)


def send_expiry_warning(
    portal: Portal, *, admin_user_ids: list[int], open_url: str, expires_at: str, occasion: str = ""
) -> Delivery:
    """The renewal warning to each admin; one told already on this `occasion` (a warning sent again after a
    passing failure) is not told twice."""
    bot = find_active_bot(portal)
    if bot is None or bot.vibe_bot_id is None:
        return Delivery(0, 0)
    preferences = get_portal_preferences(portal)
    zone = portal_zone(preferences.timezone)  # on the portal's clock, as its admins set it
    when = datetime.fromisoformat(expires_at).astimezone(zone)
    client = notice_client(bot)
    language_of = admin_languages(client, portal)

    def text_for(user_id: int) -> str:
        with in_language(language_of(user_id)):
            link = bb.url(open_url, gettext("open the app"))
            return gettext(
                "The bot's access to this portal expires soon ({when}, {zone})."
                " Please {link} to keep the bot running."
            ).format(when=day_and_time(when), zone=zone.key, link=link)

    once_key = (lambda user_id: f"expiry-warning:{occasion}:{user_id}") if occasion else None
    return send_to_each(bot, client, admin_user_ids, text_for, what="expiry reminder", once_key=once_key)


def day_and_time(moment: datetime) -> str:
    """A moment as the active language writes it, on its own clock: "2026-12-07 13:19", "07.12.2026 13:19"."""
    # Translators: a Django date format for a day and time of day; Russian "d.m.Y H:i" is "07.12.2026 13:19".
    return date_format(moment, pgettext("a day and time, a Django date format", "Y-m-d H:i"))


# How often a once-only notice is sent while each send may have posted (VibeError.leaves_in_doubt, and the
# dialog does not show it never arrived): the platform has no key to tell a repeat, so a notice that may be
# lost is sent once more, never at every sweep.
MAX_SENDS_IN_DOUBT = 2


class Delivery(NamedTuple):
    told: int  # users told now
    untold: int  # users a passing failure kept from hearing it (worth trying again)


def admin_languages(client: VibeClient, portal: Portal) -> Callable[[int], str]:
    """Each admin's language for a notice no event names it for: their own as the portal's directory lists it
    (a Russian portal's admin reading English got Russian), else the portal's, the fallback it is for."""
    languages = listed_languages(client.list_users, portal=portal.member_id)
    portal_language = get_portal_preferences(portal).language
    return lambda user_id: languages.get(user_id) or portal_language


def send_to_each(
    bot: Bot,
    client: VibeClient,
    user_ids: Iterable[int],
    text: str | Callable[[int], str],
    *,
    what: str,
    once_key: Callable[[int], str] | None = None,
) -> Delivery:
    """Write `text` (or `text(user_id)`, in their language) to each user in the bot's private dialog; one the
    platform refuses is logged and the rest still hear it. `once_key(user_id)`: the action ledger's key, so
    a user told already is not told again."""
    bot_id = bot.vibe_bot_id
    if bot_id is None:  # no platform bot to write from (the callers found one; a row read in between lost it)
        return Delivery(0, 0)
    ledger = DatabaseLedger(bot_pk=bot.pk)
    told = untold = 0
    for user_id in sorted(set(user_ids)):
        key = once_key(user_id) if once_key is not None else None
        known = ledger.find(key) if key is not None else None
        in_doubt = int(known.get("in_doubt", 0)) if known is not None else 0
        if known is not None and not 0 < in_doubt < MAX_SENDS_IN_DOUBT:
            continue  # told, or sent as often as a send that may have posted is
        before = _last_message_id(client, bot_id, user_id) if key is not None else None
        if key is not None and known is not None and _posted_before_a_kill(known, before):
            ledger.settle(key, {})
            continue
        if key is not None:
            # Recorded before it leaves: a worker killed once the platform posted it left no record, and the
            # next sweep told the admin again. This one says what the dialog showed, to be read then.
            (ledger.settle if known is not None else ledger.record)(
                key, {"in_doubt": in_doubt + 1, "sending_after": before}
            )
        try:
            said = text(user_id) if callable(text) else text
            # No preview of links: a notice quotes names people chose (a chat's, a person's, which may hold a
            # link) and the platform's card of it, its title and picture theirs, stood under the app's words.
            client.send_message(bot_id, dialog_id=str(user_id), text=said, url_preview=False)
        except VibeError as error:
            log.warning("%s not sent portal=%s user=%s: %s", what, bot.portal.member_id, user_id, error)
            if (
                key is not None
                and error.leaves_in_doubt
                and not _never_arrived(client, bot_id, user_id, before, error)
            ):
                # It may have posted (a platform posting, then answering an error, had the same warning sent
                # at every sweep until the token expired): sent again only so often.
                ledger.settle(key, {"in_doubt": in_doubt + 1})
                if in_doubt + 1 < MAX_SENDS_IN_DOUBT:
                    untold += 1
            else:
                if key is not None and known is not None:  # surely not posted: as it was before this send
                    ledger.settle(key, known)
                elif key is not None:
                    ledger.forget(key)
                if is_transient(error):
                    untold += 1
            continue
        if key is not None:
            ledger.settle(key, {})
        told += 1
    return Delivery(told, untold)


def _posted_before_a_kill(known: dict, newest: int | None) -> bool:
    """Whether a send whose worker died before its outcome was recorded (its record still says what the
    dialog's last message was as it left) shows a later message in the dialog now: the notice, or the admin
    writing since; either way not told twice."""
    after = known.get("sending_after")
    return after is not None and newest is not None and newest > int(after)


def _last_message_id(client: VibeClient, bot_id: int, user_id: int) -> int | None:
    """The last message of the bot's dialog with `user_id` (0: no dialog yet); None: it cannot be read."""
    try:
        return newest_on_platform(client, bot_id, str(user_id))
    except VibeError:
        return None


def _never_arrived(
    client: VibeClient, bot_id: int, user_id: int, before: int | None, error: VibeError
) -> bool:
    """Whether a send that failed surely posted nothing: the platform is done with the call (its own error
    answer) and the dialog's last message is still the one before it."""
    if before is None or not error.call_is_over:
        return False
    try:
        return shows_never_arrived(client, bot_id, str(user_id), before)[0]
    except VibeError:
        return False


def _failure_facts(cause: BaseException | None) -> dict[str, str]:
    """Why a run failed, as facts any language can tell (kept on the run while its notice is retried)."""
    if isinstance(cause, VibeApiError) and not is_transient(cause):
        refused = {"why": "refused", "code": str(cause.code or cause.status)}
        # A fact added beside the others: the release before reads the run's facts too while an upgrade
        # rolls, and tells this one as the refusal it is.
        if _refused_a_chat_it_is_not_in(cause):
            return {**refused, "chat": "not_a_member"}
        if isinstance(cause, VibeProtocolError) and cause.no_handler_ran:
            return {**refused, "address": "no_such_path"}
        return refused
    if cause is None:  # the minute sweep failed it: every attempt's worker stopped before it finished
        return {"why": "unfinished"}
    if is_transient(cause):
        return {"why": "unanswered"}
    return {"why": "error"}


def _refused_a_chat_it_is_not_in(cause: VibeApiError) -> bool:
    """The platform refused a message the run posted, or a look at a chat, because the bot is not a member of
    that chat (CONTRACT B: ACCESS_DENIED; a chat's other calls also give it for missing rights). After the app
    key's rotation every portal's bot is a new one, in no group chat the old one was in: a standup's summary
    met this (an upgrade trial) until someone added the bot to its chat."""
    if cause.canonical_code != "ACCESS_DENIED":
        return False
    path = cause.path.rstrip("/")
    return (cause.method == "POST" and path.endswith("/messages")) or (
        cause.method == "GET" and "/chats/" in path
    )


def _vendors_to_fix(facts: dict[str, str]) -> bool:
    """Whether the run failed for the app's own setup, which no admin of a portal can change: the address
    the app calls the platform at answered that it has no such path or method (a router's 404, 405, 410 or
    501 outside the platform's envelope: VibeProtocolError.no_handler_ran), a wrong base URL or a platform
    without that function. Told "the platform refused it (404)... check its settings", an admin looked
    through settings that were right."""
    return facts.get("why") == "refused" and facts.get("address") == "no_such_path"


def _why_it_failed(facts: dict[str, str]) -> str:
    """In the admin's words: what to fix where the platform says it, else its code; never a trace."""
    why = facts.get("why")
    if _vendors_to_fix(facts):
        return gettext(
            "the app reaches the platform at an address that has no such function ({code}: the answer came"
            " from something in front of the platform, not from the platform itself)"
        ).format(code=facts.get("code", ""))
    if why == "refused" and facts.get("chat") == "not_a_member":
        return gettext(
            "the platform refused it ({code}): the bot is not a member of the chat it posts to (it was"
            " removed from it, or the portal's bot is a new one since the app's key changed); add it to that"
            " chat"
        ).format(code=facts.get("code", ""))
    if why == "refused":
        return gettext("the platform refused it ({code})").format(code=facts.get("code", ""))
    if why == "unfinished":
        return gettext("it never finished in the time a run has; the app's vendor can see the details")
    if why == "unanswered":
        return gettext("the platform did not answer, even after several attempts")
    return gettext("the skill ran into an error; the app's vendor can see the details")


def _failed_run_text(run: SkillRun, skill: Skill | None, facts: dict[str, str], language: str) -> str:
    with in_language(language):
        if skill is None:  # no longer configured: its name, as the run stored it
            title = run.skill_name
        else:
            title = pick(skill.title, language) if skill.title else skill.name
        when = day_and_time(datetime.fromisoformat(run.payload["local_due_at"]))
        if _vendors_to_fix(facts):
            return gettext(
                "“{skill}” did not run as planned at {when}: {why}. Its settings are not the cause: the app's"
                " vendor has to correct the app's setup (a wrong address for the platform, or a platform"
                " without this function)."
            ).format(skill=title, when=when, why=_why_it_failed(facts))
        return gettext(
            "“{skill}” did not run as planned at {when}: {why}. Please {link} and check its settings."
        ).format(
            skill=title,
            when=when,
            why=_why_it_failed(facts),
            link=bb.url(settings.VIBE_APP_PUBLIC_URL, gettext("open the app")),
        )


def tell_admins_of_failed_run(run: SkillRun, skill: Skill, *, cause: BaseException | None) -> int:
    """Tell the portal's admins, in the bot's private dialog and each in their own language, that `skill`'s
    scheduled run failed.

    Once a skill and local day per admin (a second failure that day adds nothing they can act on; the next
    day's failure reminds them). An admin the platform did not take it for, for a passing reason (it is often
    down for the same reason the run failed), is told by the minute sweep later (retry_failed_run_notices).
    Returns how many were told now.
    """
    bot = find_active_bot(run.portal)
    if bot is None or bot.vibe_bot_id is None:
        return 0
    return _deliver_failed_run_notice(run, bot, skill, _failure_facts(cause), now=timezone.now())


# How long a failed run's notice the platform does not take is tried again: by then the next day's run has
# either gone well or failed with a notice of its own.
NOTICE_TRIED_FOR = timedelta(days=1)


def _deliver_failed_run_notice(
    run: SkillRun, bot: Bot, skill: Skill | None, facts: dict[str, str] | None, *, now: datetime
) -> int:
    """Send a failed run's notice to the admins not told yet, each in their language as the portal's directory
    lists it (else the portal's: a Russian portal's admin reading English got Russian); keep its facts on the
    run for the sweep while some could not be told for a passing reason, and drop them once all were (or past
    NOTICE_TRIED_FOR). Without facts (a row the release before kept), its stored text is sent as it is."""
    portal_language = get_portal_preferences(run.portal).language
    try:
        client = notice_client(bot)
    except SessionTokenError:  # no credential to write with yet: a portal user's visit brings one
        told, some_left = 0, True
    else:
        if facts is None:
            text: str | Callable[[int], str] = run.notice_text
        else:
            language_of = admin_languages(client, run.portal)

            def text(user_id: int) -> str:
                return _failed_run_text(run, skill, facts, language_of(user_id))

        local_day = datetime.fromisoformat(run.payload["local_due_at"]).date().isoformat()
        delivery = send_to_each(
            bot,
            client,
            list_admin_user_ids(run.portal),
            text,
            what="failed-run notice",
            once_key=lambda user_id: f"notice:run-failed:{run.skill_name}:{local_day}:{user_id}",
        )
        told, some_left = delivery.told, delivery.untold > 0
    if some_left and now - (run.finished_at or now) < NOTICE_TRIED_FOR:
        # The text in the portal's language is for the release before, while an upgrade runs.
        kept = run.notice_text if facts is None else _failed_run_text(run, skill, facts, portal_language)
        SkillRun.objects.filter(pk=run.pk).update(
            notice_text=kept,
            notice_facts=facts,
            notice_due_at=now + timedelta(seconds=conf.backoff_max_seconds()),
        )
        return told
    if some_left:
        log.warning(
            "failed-run notice given up after %s: run=%s portal=%s, some admins never told",
            NOTICE_TRIED_FOR, run.pk, run.portal.member_id,
        )  # fmt: skip
    SkillRun.objects.filter(pk=run.pk).update(notice_text="", notice_facts=None, notice_due_at=None)
    return told


def retry_failed_run_notices(now: datetime, *, limit: int = 200) -> int:
    """The minute sweep's part: try again the failed runs' notices that are due. Each is claimed for a
    backoff first, so two sweeps at once never send it twice. Returns how many admins were told."""
    told = 0
    due = SkillRun.objects.filter(status=SkillRun.Status.FAILED, notice_due_at__lte=now)
    for run in due.select_related("portal").order_by("notice_due_at")[:limit]:
        claimed = SkillRun.objects.filter(pk=run.pk, notice_due_at=run.notice_due_at).update(
            notice_due_at=now + timedelta(seconds=conf.backoff_max_seconds())
        )
        if not claimed:
            continue  # another sweep has it
        bot = find_active_bot(run.portal)
        if bot is None or bot.vibe_bot_id is None or run.portal.status == Portal.Status.UNINSTALLED:
            SkillRun.objects.filter(pk=run.pk).update(notice_text="", notice_facts=None, notice_due_at=None)
            continue
        told += _deliver_failed_run_notice(run, bot, find_skill(run.skill_name), run.notice_facts, now=now)
    return told


def apologize_for_failed_event(
    event: BotEvent, ctx: Any, *, answer_command: bool = True, cause: BaseException | None = None
) -> None:
    """Say, in the person's language, that their message or command met an error; the skill's context posts
    it, so it is once per event like the skill's own posts (a replayed event finds it in the ledger). A
    command is answered, unless `answer_command` is off (a job deferred from it: posted in its chat). A
    `cause` that left a chat or file in doubt is said as such: asked again, it would be made twice."""
    if not isinstance(event, (MessageAddEvent, CommandAddEvent)):
        return
    with in_language(ctx.language):
        text = _failed_event_text(cause)
    try:
        if isinstance(event, CommandAddEvent) and answer_command:
            ctx.answer_command(text)
        else:
            ctx.reply(text)
    # Best effort, whatever stops it (the platform, an event in no chat): the event is failed already, and
    # the apology must never turn that into a crashed cycle.
    except Exception as error:  # noqa: BLE001
        log.warning("apology for a failed event not sent: %s", error.__class__.__name__)


def _failed_event_text(cause: BaseException | None) -> str:
    """What the person hears of their failed request, in the active language."""
    write = getattr(cause, "write", None) if isinstance(cause, ActionInDoubtError) else None
    if write == "chat":
        return gettext(
            "Sorry, I could not finish that: the new chat I was creating may be there already, so I did not"
            " create it again. Please look for it before asking again."
        )
    if write == "upload":
        return gettext(
            "Sorry, I could not finish that: the file I was sending may be there already, so I did not send"
            " it again. Please look for it before asking again."
        )
    return gettext(
        "Sorry, something went wrong on our side and I could not answer that. The app's vendor can see what"
        " happened."
    )
