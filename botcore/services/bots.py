"""A portal's bot on the platform: provision (register it and its commands), move it between credentials,
pause, resume, retire. Its profile and commands: bot_profile.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django_q.tasks import async_task

from botcore import conf
from botcore.errors import AppKeyRefusedError, refused_for_good
from botcore.models import Bot, BotChat, BotCommand
from botcore.selectors import find_portal_bot, task_stamp_free
from botcore.services.app_key_rotation import RETIRED_NOTE, drain_previous_key_bot
from botcore.services.bot_codes import register_portal_bot
from botcore.services.bot_profile import (
    get_portal_bot_profile,
    list_command_specs,
    register_commands,
    signature_of_commands,
)
from botcore.services.chats_notice import collect_old_bot_chats, send_chats_notice, wake_chats_notices
from botcore.services.eventlog import store_batch
from botcore.services.executor import describe_error
from botcore.services.platform import (
    app_key_digest,
    client_for_bot,
    client_for_portal,
    get_bot_credential,
    refuses_app_key,
    registered_under_previous_app_key,
    report_refused_credential,
)
from botcore.vibe.errors import VibeApiError, VibeAuthError, VibeError
from ops.redaction import redact
from tenants import services as tenant_services
from tenants.errors import SessionTokenError, TenantsError
from tenants.models import Portal
from tenants.selectors import find_preferred_credential_kind, get_portal_credential, has_usable_credential

log = logging.getLogger(__name__)


def activation() -> dict[str, datetime]:
    """The fields a bot stamps as it becomes active (provisioned, or resumed by a session or an operator):
    polled at once, and found by the running poller's per-second read of activated bots
    (poller_fleet.read_joined) rather than at its next full read of the fleet."""
    now = timezone.now()
    return {"next_poll_at": now, "activated_at": now}


def ensure_bot_row(portal: Portal) -> Bot:
    profile = get_portal_bot_profile(portal)
    bot, _ = Bot.objects.get_or_create(
        portal=portal, code=conf.bot_code(), defaults={"name": profile["name"]}
    )
    return bot


@contextmanager
def portal_moves_in_turn(portal: Portal) -> Iterator[None]:
    """One move of the portal's bot, or one change of its credentials, at a time (tenants' portal_turn): a
    key saved while a move registers its bot waits for the move to end, then retires the bot the move made
    instead of missing it. Held for the move's platform calls, as a lease: no database lock spans them."""
    with tenant_services.portal_turn(portal):
        yield


def provision_bot(portal: Portal, *, note: str = "") -> Bot:
    """Register the portal's bot, in turn with the portal's other moves and credential changes
    (portal_moves_in_turn); see _provision."""
    with portal_moves_in_turn(portal):
        return _provision(portal, note=note)


def _provision(portal: Portal, *, note: str = "", kind: str | None = None) -> Bot:
    """Register the portal's bot under its preferred credential, or the one of `kind` the caller read as
    preferred (adopting one the platform already has) and
    its enabled skills' commands; the bot is then polled with that credential. Its code is the row's, or a
    derived one where a bot outside the credential's key holds that on the portal (bot_codes.py).

    Idempotent: running it again changes nothing on the platform. When it ends on another platform bot than
    the row had (the old one was deleted, or the credential changed), the new bot starts from offset 0, never
    the old bot's, and the old one is retired: its last events drained into the log, then unregistered.
    A re-provision also ends a broken state. Raises tenants' SessionTokenError when the portal has no
    credential or the platform refused the one used (reported to tenants: report_refused_credential), and
    VibeError when the platform refuses anything else (the app's own key included).
    """
    bot = ensure_bot_row(portal)
    client, credential = client_for_portal(portal, kind=kind)
    profile = get_portal_bot_profile(portal)
    specs = list_command_specs(portal)
    try:
        remote, platform_code = register_portal_bot(
            client,
            code=bot.code,
            # A bot that keeps its platform bot keeps its code; one registered anew all the same takes its own
            # code first, back from a derived one once the app that held it has freed it.
            current=bot.platform_code if _keeps_its_platform_bot(bot, credential.kind) else "",
            name=profile["name"],
            color=profile["color"],
            work_position=profile["work_position"],
            language=profile["language"],
        )
        if (remote.name, remote.language) != (profile["name"], profile["language"]):
            # An adopted bot keeps the profile it was registered with; the portal's settings win.
            client.update_bot(remote.id, name=profile["name"], language=profile["language"])
        register_commands(bot, client=client, vibe_bot_id=remote.id, specs=specs)
    except VibeAuthError as error:
        # Neither refusal is a reason to break the bot; as on a poll (polling._settle_failure), in this order.
        # The app's own key: every portal meets it alike, so the sessions are kept and the bot waits for it.
        if refuses_app_key(error, credential):
            log.error(
                "the platform refused the app key (%s) registering the bot of portal=%s: sessions are kept,"
                " the bot waits; fix VIBE_APP_KEY",
                error.code, portal.member_id,
            )  # fmt: skip
            raise AppKeyRefusedError(f"the platform refused the app key: {error}") from error
        # A session expired or revoked (a personal key refused): tenants stops using that secret, and the bot
        # waits for the next credential like one that had none.
        if report_refused_credential(error, credential, portal=portal):
            refused = f"portal={portal.member_id}: its {credential.kind} credential was refused: {error}"
            raise SessionTokenError(refused) from error
        raise
    moved = bot.vibe_bot_id is not None and (bot.vibe_bot_id, bot.credential_kind) != (
        remote.id,
        credential.kind,
    )
    chats_owed = None  # the new bot is in none of the old one's group chats: the admins are told which
    if moved and registered_under_previous_app_key(bot):
        # The app key was rotated: the old bot answers what it holds with its own key, then goes (a bot it
        # cannot drain is left as it is: the same refusal would meet its unregistering). A paused bot answers
        # nothing: what its old bot holds is stored, for the new one to answer once an operator resumes it
        # (any portal user's visit starts a move, and the drain answered everything a pause held back).
        not_drained = drain_previous_key_bot(bot) if bot.status != Bot.Status.PAUSED else None
        chats_owed = collect_old_bot_chats(bot)  # after the drain's events, while the old bot can name them
        if not_drained is None:
            retire_platform_bot(bot)
        note = note or not_drained or RETIRED_NOTE
    elif moved:
        # Not for a portal that installed the app again: its uninstall took the old bot out of every chat on
        # purpose, and what its admins set up anew is theirs. A bot the platform forgot
        # (await_new_platform_bot) is out of its chats unasked: its admins are told, as after a move.
        chats_owed = collect_old_bot_chats(bot) if not _installed_again(bot) else None
        if bot.registered_key_removed_at is None:
            retire_platform_bot(bot)
        note = note or f"Moved to a new bot on the {CREDENTIAL_NAMES[credential.kind]}."
    fields = {"event_offset": 0, "lease_token": "", "lease_until": None, "has_more": False} if moved else {}
    if chats_owed is not None:
        # Owed with the move itself, claimed by this run for a backoff (retry_chats_notices): a worker that
        # dies before it is sent leaves it to the minute sweep, not to a move that has nothing left to move.
        fields |= {
            "chats_notice": chats_owed,
            "chats_notice_due_at": timezone.now() + timedelta(seconds=conf.backoff_max_seconds()),
        }
    with transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(
            vibe_bot_id=remote.id,
            platform_code="" if platform_code == bot.code else platform_code,
            credential_kind=credential.kind,
            app_key_digest=app_key_digest(conf.vibe_app_key()) if credential.kind == "session" else "",
            name=profile["name"],
            status=Bot.Status.PAUSED if bot.status == Bot.Status.PAUSED else Bot.Status.ACTIVE,
            provisioned_at=timezone.now(),
            commands_signature=signature_of_commands(specs),
            **activation(),
            backoff_until=None,
            consecutive_failures=0,
            broken_reason="",
            last_error="",
            provision_requested_at=None,
            status_note=note[:300],
            registered_key_removed_at=None,
            vibe_bot_gone_at=None,
            **fields,
        )
        if moved:  # the old bot's chats are in its notice, or were owed none: nothing reads them now
            BotChat.objects.filter(bot=bot).exclude(vibe_bot_id=remote.id).delete()
    bot.refresh_from_db()
    if chats_owed is not None:
        send_chats_notice(bot, now=timezone.now())
    else:
        wake_chats_notices(portal)  # one that waited for the bot to be able to send it (a broken bot's)
    log.info(
        "bot provisioned portal=%s bot=%s vibe_bot=%s code=%s credential=%s moved=%s commands=%s",
        portal.member_id,
        bot.pk,
        remote.id,
        platform_code,
        credential.kind,
        moved,
        len(specs),
    )
    return bot


def _keeps_its_platform_bot(bot: Bot, kind: str) -> bool:
    """Whether registering `bot` with the portal's credential of `kind` meets the platform bot the row has,
    to adopt it (a re-provision, a retry): the row has one that is not refused (broken) nor awaiting a
    successor, registered under that credential and the app's current key. Otherwise a new platform bot is
    made all the same (a move, an install again, a bot the platform forgot or refused), and moving it off a
    derived code costs nothing more."""
    return (
        bot.vibe_bot_id is not None
        and bot.status not in (Bot.Status.PENDING, Bot.Status.BROKEN)
        and bot.credential_kind == kind
        and bot.registered_key_removed_at is None
        and not registered_under_previous_app_key(bot)
    )


def _installed_again(bot: Bot) -> bool:
    """Whether the row awaits a new platform bot because its portal installed the app since the old one was
    registered (request_provisioning at install), not because the platform forgot the old one."""
    installed_at, provisioned_at = bot.portal.installed_at, bot.provisioned_at
    return (
        bot.status == Bot.Status.PENDING
        and installed_at is not None
        and provisioned_at is not None
        and installed_at > provisioned_at
    )


CREDENTIAL_NAMES = {"personal": "portal's personal key", "session": "app's key with a portal user's session"}


def retire_platform_bot(bot: Bot, *, max_batches: int = 10) -> None:
    """Drain the platform bot `bot` points at into the event log, then unregister it; best effort.

    Called before the row moves to another platform bot: messages users sent the old bot since its last
    cycle are stored (and handled by the new one), and the old bot leaves users' chats.
    """
    old_id = bot.vibe_bot_id
    if old_id is None:
        return
    if bot.vibe_bot_gone_at is not None:
        # Nothing to drain, and a DELETE would only be answered "not found": the platform is not asked.
        log.info(
            "old bot already gone on the platform portal=%s vibe_bot=%s (unregistered or refused before)",
            bot.portal.member_id,
            old_id,
        )
        return
    try:
        client = client_for_bot(bot)
        offset = bot.event_offset
        for _ in range(max_batches):
            batch = client.get_events(old_id, offset=offset, limit=conf.poll_batch_size())
            store_batch(bot.pk, batch, vibe_bot_id=old_id, lease_token=None)
            offset = batch.offset_after(offset) or offset
            if not batch.has_more:
                break
        client.delete_bot(old_id, missing_ok=True)
    except (VibeError, TenantsError) as error:
        if isinstance(error, VibeApiError) and error.says_bot_gone:
            mark_platform_bot_gone(bot)
            # Unregistered already: by the uninstall before a reinstall, or by the portal's admin.
            log.info(
                "old bot already gone on the platform portal=%s vibe_bot=%s", bot.portal.member_id, old_id
            )
            return
        log.warning(
            "old bot not retired on the platform portal=%s vibe_bot=%s: %s",
            bot.portal.member_id,
            old_id,
            error,
        )
        return
    mark_platform_bot_gone(bot)
    log.info("old bot drained and unregistered portal=%s vibe_bot=%s", bot.portal.member_id, old_id)


def mark_platform_bot_gone(bot: Bot) -> None:
    """The platform bot `bot` names is gone (unregistered, or unknown to the platform): nothing asks to
    unregister it again, until the row names a new one (provisioning clears the mark)."""
    if bot.vibe_bot_gone_at is None:
        bot.vibe_bot_gone_at = timezone.now()
        Bot.objects.filter(pk=bot.pk, vibe_bot_id=bot.vibe_bot_id, vibe_bot_gone_at__isnull=True).update(
            vibe_bot_gone_at=bot.vibe_bot_gone_at
        )


def ensure_bot_credential(portal: Portal) -> Bot | None:
    """Keep the portal's bot on the portal's preferred credential: move it when that changed, or when the
    personal key that registered it was replaced by another."""
    with portal_moves_in_turn(portal):
        bot = find_portal_bot(portal)
        if bot is None or bot.vibe_bot_id is None or portal.status == Portal.Status.UNINSTALLED:
            return bot
        # A bot of the app's previous key (a rotation) moves to one of the current key, the old one retired.
        registered_under_it = bot.registered_key_removed_at is None
        registered_under_it = registered_under_it and not registered_under_previous_app_key(bot)
        # Read once, in the portal's turn: the move registers with it, and a failure names it.
        preferred = find_preferred_credential_kind(portal)
        if registered_under_it and bot.credential_kind == preferred:
            return bot
        try:
            return _provision(portal, kind=preferred)
        except Exception as error:
            if refused_for_good(error):
                _record_failed_move(bot, error, moving_to=preferred)
            raise


def _record_failed_move(bot: Bot, error: Exception, *, moving_to: str) -> None:
    """A move to the credential of kind `moving_to` the platform refused for good (every bot code held, a
    4xx): said on the bot's row. A bot still answering under the credential that registered it keeps
    answering, its status note saying why it did not move (its last error is cleared by its next cycle); one
    whose credential is gone (its sessions ended) is broken: each of its cycles found the credential gone and
    queued the move again, which failed again, ten registrations and an ERROR a second. Whether it is gone is
    the one read of it here; which credential the move was to, the caller's."""
    text = describe_error(error)[:2000]
    try:
        get_bot_credential(bot)
    except TenantsError:
        mark_bot_broken(bot, reason=text)
    else:
        note = f"Not moved to the {CREDENTIAL_NAMES[moving_to]}: {text}"
        Bot.objects.filter(pk=bot.pk, vibe_bot_id=bot.vibe_bot_id).update(
            last_error=text, status_note=note[:300]
        )


def retire_bot_of_credential(portal: Portal, *, kind: str) -> None:
    """The portal's credential of `kind` is about to go (removed, or replaced by another key): retire the
    platform bot registered under it, which answers to that credential alone."""
    bot = find_portal_bot(portal)
    if bot is None or bot.credential_kind != kind or bot.vibe_bot_id is None:
        return
    retire_platform_bot(bot)
    with transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(
            registered_key_removed_at=timezone.now(),
            status_note=f"The {CREDENTIAL_NAMES[kind]} was removed or replaced: the bot is registered anew.",
        )
        # Not polled until it is registered again: the move task does that, or a fresh session lets it.
        Bot.objects.filter(pk=bot.pk, status=Bot.Status.ACTIVE).update(
            status=Bot.Status.WAITING_SESSION, lease_token="", lease_until=None
        )


def handle_credential_gone(bot: Bot) -> None:
    """The credential that registered `bot` is gone (sessions expired, key refused or removed).

    If the portal has another kind of credential, the bot moves to it (a task registers it there);
    otherwise the portal needs a session and the bot waits for one.
    """
    preferred = find_preferred_credential_kind(bot.portal)
    if preferred != bot.credential_kind:
        try:
            get_portal_credential(bot.portal, kind=preferred)
        except TenantsError:
            pass
        else:
            # The stamp of the portal's bot's provisioning, as installs, the sweep and an operator take it:
            # the poller asks a bot with no credential for a cycle at once, and each queued a move of its own.
            taken = Bot.objects.filter(task_stamp_free("provision_requested_at"), pk=bot.pk)
            if taken.update(provision_requested_at=timezone.now()):
                log.info(
                    "bot moves to the %s portal=%s bot=%s",
                    CREDENTIAL_NAMES[preferred],
                    bot.portal.member_id,
                    bot.pk,
                )
                async_task("botcore.tasks.move_portal_bot", bot.portal_id, task_name=f"move-{bot.portal_id}")
            return
    tenant_services.mark_portal_session_lost(bot.portal)
    wait_for_session(bot)


def retire_bot(bot: Bot, *, unregister: bool) -> None:
    """Stop polling `bot`; with `unregister`, also delete it on the platform (needs its live credential),
    unless it is gone already (vibe_bot_gone_at): an earlier uninstall's, or one the platform forgot. The
    platform's "not found" to the DELETE is the bot gone too."""
    if unregister and bot.vibe_bot_id is not None and bot.vibe_bot_gone_at is None:
        client_for_bot(bot).delete_bot(bot.vibe_bot_id, missing_ok=True)
        mark_platform_bot_gone(bot)
    BotCommand.objects.filter(bot=bot).delete()
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.RETIRED, lease_token="", lease_until=None)
    log.info("bot retired portal=%s bot=%s unregistered=%s", bot.portal.member_id, bot.pk, unregister)


def operator_action_refusal(bot: Bot) -> str | None:
    """Why an operator's pause, resume or re-provision cannot apply to `bot` (None: it can)."""
    if bot.status == Bot.Status.RETIRED or not bot.portal.is_installed:
        return gettext(
            "{domain}: the bot is retired (its portal uninstalled the app, or moved it);"
            " the portal gets a bot again when an admin installs the app"
        ).format(domain=bot.portal.domain)
    return None


def reprovision_refusal(bot: Bot, *, operator: str) -> str | None:
    """Why an operator's re-provision of `bot` is not queued (None: it may be): operator_action_refusal's
    reasons, or its portal has nothing to register a bot with (every session ended, no personal key). That
    one is a state that waits for a portal user to open the app, not a failure: queued, it failed in the
    task queue with an ERROR and its traceback, each time it was asked."""
    refusal = operator_action_refusal(bot)
    if refusal is not None or has_usable_credential(bot.portal):
        return refusal
    log.warning(
        "bot re-provisioning by operator not queued: it waits for a portal user to open the app"
        " (no session or personal key) portal=%s bot=%s operator=%s",
        bot.portal.member_id, bot.pk, operator,
    )  # fmt: skip
    return gettext(
        "{domain}: waits for a portal user to open the app (it has no session or personal key left):"
        " its bot is set up then by itself; ask an admin of the portal to open the app from Bitrix24"
    ).format(domain=bot.portal.domain)


def pause_bot(bot: Bot, *, operator: str) -> bool:
    """An operator stops polling this bot until resumed; False when it is retired (nothing to pause)."""
    changed = Bot.objects.filter(pk=bot.pk).exclude(status=Bot.Status.RETIRED)
    if not changed.update(status=Bot.Status.PAUSED):
        return False
    log.info("bot paused by operator portal=%s bot=%s operator=%s", bot.portal.member_id, bot.pk, operator)
    return True


def resume_bot(bot: Bot, *, operator: str) -> bool:
    """An operator lets the bot be polled again at once; False when it is retired (nothing to resume)."""
    status = Bot.Status.ACTIVE if bot.vibe_bot_id is not None else Bot.Status.PENDING
    changed = Bot.objects.filter(pk=bot.pk).exclude(status=Bot.Status.RETIRED)
    if not changed.update(
        status=status, **activation(), broken_reason="", consecutive_failures=0, backoff_until=None
    ):
        return False
    log.info("bot resumed by operator portal=%s bot=%s operator=%s", bot.portal.member_id, bot.pk, operator)
    wake_chats_notices(bot.portal)  # a move's notice waited while the bot was paused
    return True


def reprovision_bot(bot: Bot, *, operator: str) -> bool:
    """An operator has the bot's portal provisioned again in the background (register the bot and its
    commands anew); a task queue worker holds it meanwhile. False when a provisioning of it is queued or
    running already: it takes the stamp of the portal's bot as installs and the sweep do
    (services/provisioning.py), which each re-provision skipped, so a script's retries registered the bot once
    each, a worker held for each."""
    provisioned = Bot.objects.filter(portal_id=bot.portal_id, code=conf.bot_code())
    taken = provisioned.filter(task_stamp_free("provision_requested_at"))
    if provisioned.exists() and not taken.update(provision_requested_at=timezone.now()):
        return False
    async_task("botcore.tasks.provision_portal_bot", bot.portal_id, task_name=f"provision-{bot.portal_id}")
    log.info(
        "bot re-provisioning by operator portal=%s bot=%s operator=%s", bot.portal.member_id, bot.pk, operator
    )
    return True


def wait_for_session(bot: Bot) -> None:
    Bot.objects.filter(pk=bot.pk, status=Bot.Status.ACTIVE).update(status=Bot.Status.WAITING_SESSION)


def pause_portal_bots(portal: Portal) -> int:
    return Bot.objects.filter(portal=portal, status=Bot.Status.ACTIVE).update(
        status=Bot.Status.WAITING_SESSION
    )


def resume_portal_bots(portal: Portal) -> int:
    return Bot.objects.filter(portal=portal, status=Bot.Status.WAITING_SESSION).update(
        status=Bot.Status.ACTIVE, **activation()
    )


# What an operator is told beside a broken bot's reason (the platform's code and message, which say only
# whose the bot is not): what the code means here and what to do. Shown in the admin and logged; the portal's
# page shows the platform's words alone.
_BROKEN_ADVICE = {
    "BOT_ACCESS_DENIED": gettext_lazy(
        "The platform bot is there, but not this credential's: registered under another key (a personal key"
        " replaced, VIBE_APP_KEY changed without VIBE_APP_KEY_PREVIOUS) or with another portal's session. It"
        " is not gone: an uninstall still asks the platform to unregister it. Put back the key that"
        " registered it and resume the bot, or re-provision it: a new bot is registered under the portal's"
        " credential, and the old one stays on the platform until its own key removes it."
    ),
}


def broken_advice(reason: str) -> str:
    """What to do about a bot broken for `reason` (its broken_reason, `CODE: message`); "" where the
    reason says it all."""
    return str(_BROKEN_ADVICE.get(reason.partition(":")[0].strip(), ""))


def mark_bot_broken(bot: Bot, *, reason: str) -> bool:
    """The platform refused the platform bot `bot` points at: broken until an operator re-provisions it.

    Only while the row still points at that platform bot: a cycle that read it before a move (a new key,
    a re-provision) must not break the bot the row was moved to. False when it had moved on.
    """
    marked = Bot.objects.filter(pk=bot.pk, vibe_bot_id=bot.vibe_bot_id).update(
        status=Bot.Status.BROKEN, broken_reason=redact(reason)[:2000]
    )
    if not marked:
        log.info("refusal of a platform bot the row has moved on from portal=%s bot=%s: %s",
                 bot.portal.member_id, bot.pk, reason)  # fmt: skip
        return False
    log.error(
        "bot broken portal=%s bot=%s: %s %s", bot.portal.member_id, bot.pk, reason, broken_advice(reason)
    )
    return True


def await_new_platform_bot(bot: Bot, *, reason: str) -> bool:
    """The platform refused for good the platform bot `bot` points at (BOT_NOT_FOUND, BOT_ACCESS_DENIED)
    after it had answered since it was registered: deleted there, or the app uninstalled and installed again
    on the platform while the portal waited for a session. The row then awaits a new platform bot (PENDING,
    still naming the refused one, so provisioning starts the new bot at offset 0 as a move does). Whether
    the refused bot is gone is not this function's to say: the refusal says it (VibeApiError.says_bot_gone,
    mark_platform_bot_gone); one refused as another key's is there still, and is unregistered when it can be.

    False, leaving the row alone, when it had moved on meanwhile or is no longer active, or when the refused
    bot never answered since its registration: a platform refusing what it just registered would only be
    asked again and again, so that one is broken for an operator (mark_bot_broken).
    """
    if bot.last_polled_at is None or bot.provisioned_at is None or bot.last_polled_at < bot.provisioned_at:
        return False
    awaited = Bot.objects.filter(
        pk=bot.pk, vibe_bot_id=bot.vibe_bot_id, provisioned_at=bot.provisioned_at, status=Bot.Status.ACTIVE
    ).update(
        status=Bot.Status.PENDING,
        lease_token="",
        lease_until=None,
        backoff_until=None,
        consecutive_failures=0,
        last_error=redact(reason)[:2000],
        status_note="The platform no longer knew the bot: it is registered anew.",
    )
    if awaited:
        log.warning("bot refused by the platform, registered anew portal=%s bot=%s vibe_bot=%s: %s",
                    bot.portal.member_id, bot.pk, bot.vibe_bot_id, reason)  # fmt: skip
    return bool(awaited)


def retire_portal_bots(portal: Portal, *, unregister: bool) -> None:
    """Retire every bot of a portal that is being uninstalled; unregistering is best effort."""
    for bot in Bot.objects.filter(portal=portal).exclude(status=Bot.Status.RETIRED):
        try:
            retire_bot(bot, unregister=unregister)
        except (VibeError, TenantsError) as error:
            log.warning(
                "bot not unregistered on the platform portal=%s bot=%s: %s", portal.member_id, bot.pk, error
            )
            retire_bot(bot, unregister=False)
