"""Every installed portal gets its bot, eventually: provisioning is requested at install, a passing failure is
recorded on the bot row with a backoff, and a sweep enqueues it again once that backoff has passed.

At most BOTCORE_PROVISIONING_CONCURRENCY provisionings are queued or running at once (each holds a worker
while its calls wait for the key's slots, and the cycles that carry replies must find workers free): a
request beyond that leaves its bot PENDING, and each provisioning that ends starts the next waiting one, the
oldest first; the sweep fills up to the limit too.

A bot row awaits its bot while it is PENDING (never registered, or its portal installed the app again). At
most one provisioning of it is queued or running: whoever enqueues one first takes the row's
provision_requested_at by a compare-and-set UPDATE (free when empty or older than a task's stamp lasts,
botcore.conf.task_stamp_seconds), and the provisioning gives it back when it ends. A final refusal
(botcore.errors.refused_for_good says so) breaks the bot for an operator instead: nothing retries it. An
answer from something in the way is none (a router's 404 for a wrong base URL: every portal meets it alike
until the deployment is fixed), so it backs off as a passing failure does. A refused
session is not one: it is reported to tenants and the bot waits for a credential as if it had none
(bots.provision_bot raises SessionTokenError), and it is provisioned as soon as a user brings a fresh one
(request_awaited_provisioning); so does one that finds no credential at all (every session ended, no
personal key): the portal is put in "needs a session", which the sweep leaves alone, with one WARNING and
no backoff. Nor is a refusal of the app's own key (AppKeyRefusedError, with an ERROR that
says to fix VIBE_APP_KEY): every portal meets it alike, so the bot backs off and the sweep tries again, and
the bots recover once the key is fixed, as polls do.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from botcore import conf
from botcore.errors import refused_for_good
from botcore.models import Bot
from botcore.selectors import list_portal_code_bots, task_stamp_free
from botcore.services import bots as bot_services
from botcore.services.executor import describe_error
from botcore.vibe.backoff import retry_delay
from tenants import services as tenant_services
from tenants.errors import SessionTokenError
from tenants.models import Portal
from tenants.selectors import has_usable_credential
from vibeapp.failure_limits import take_count, window_ends_at

log = logging.getLogger(__name__)

PROVISION_TASK = "botcore.tasks.provision_portal_bot"


def _stamp_free() -> Q:
    return task_stamp_free("provision_requested_at")


def _backoff_passed() -> Q:
    return Q(backoff_until__isnull=True) | Q(backoff_until__lte=timezone.now())


def _enqueue(bot: Bot, *, pending_only: bool) -> None:
    kwargs = {"pending_only": True} if pending_only else {}
    async_task(PROVISION_TASK, bot.portal_id, task_name=f"provision-{bot.portal_id}", **kwargs)


def _in_flight() -> int:
    """How many provisionings are queued or running now (their stamps taken, not yet stale)."""
    return Bot.objects.exclude(_stamp_free()).count()


def request_provisioning(portal: Portal) -> bool:
    """The portal installed the app: its bot row awaits its bot (PENDING, no backoff), and its provisioning is
    enqueued unless the portal has had its rate's worth (_within_portal_rate: it then waits for the window's
    end), one is queued or running already, or as many as may be are (it then waits its turn as PENDING).
    False when not enqueued now."""
    bot = bot_services.ensure_bot_row(portal)
    awaited = Bot.objects.filter(pk=bot.pk, status__in=[Bot.Status.RETIRED, Bot.Status.PENDING])
    awaited.update(status=Bot.Status.PENDING, backoff_until=None, consecutive_failures=0)
    stamp_free = Bot.objects.filter(_stamp_free(), pk=bot.pk)
    if not stamp_free.exists():
        log.info("provisioning already queued portal=%s bot=%s", portal.member_id, bot.pk)
        return False
    if _in_flight() >= conf.provisioning_concurrency():
        log.info("provisioning waits its turn portal=%s bot=%s", portal.member_id, bot.pk)
        return False
    # Counted only for a provisioning about to be queued: visits while one is queued or waits its turn
    # used up the portal's window, and its next install waited for the window's end.
    if not _within_portal_rate(portal, bot):
        return False
    if not stamp_free.update(provision_requested_at=timezone.now()):
        log.info("provisioning already queued portal=%s bot=%s", portal.member_id, bot.pk)
        return False
    _enqueue(bot, pending_only=False)
    return True


PORTAL_RATE_GROUP = "botcore.portal_provisioning"


def _within_portal_rate(portal: Portal, bot: Bot) -> bool:
    """Whether the portal's request may be provisioned now: one of its BOTCORE_PORTAL_PROVISIONING_RATE in the
    window is counted (vibeapp.failure_limits, over the shared cache). Each install registers a bot and its
    commands on the app key every portal shares, and an admin uninstalling and installing again in a loop was
    limited only by their sign-ins. Past the rate the bot awaits its bot, put off to the window's end: the
    minute sweep provisions it then (start_waiting_provisionings), and an install meanwhile puts it off again
    without a platform call. The sweep's retries of a passing failure are not counted: its backoff paces them.

    With the cache unreachable the request is let through (a WARNING): the sign-ins that install are
    refused while it is down, and an install is never left without its bot for it."""
    rate = conf.portal_provisioning_rate()
    try:
        if take_count(group=PORTAL_RATE_GROUP, value=portal.member_id, rate=rate) is not None:
            return True
    except Exception as error:  # noqa: BLE001 - the cache client's own family (Redis down)
        log.warning(
            "provisioning not counted against its rate (the cache is unreachable: %s) portal=%s",
            error.__class__.__name__,
            portal.member_id,
        )
        return True
    until = datetime.fromtimestamp(window_ends_at(value=portal.member_id, rate=rate), tz=UTC)
    note = f"its portal's provisionings reached BOTCORE_PORTAL_PROVISIONING_RATE ({rate}): provisioned after"
    note += f" {until:%Y-%m-%d %H:%M} UTC"
    Bot.objects.filter(pk=bot.pk, status=Bot.Status.PENDING).update(backoff_until=until, last_error=note)
    log.warning(
        "provisioning put off to the rate's window end portal=%s bot=%s: %s", portal.member_id, bot.pk, note
    )
    return False


def request_awaited_provisioning(portal: Portal) -> bool:
    """A user brought the portal a fresh session: a bot it awaits (PENDING: its provisioning met a refused
    session, or never ran) is provisioned now, as at install, not at the sweep's next minute once its backoff
    has passed. False when no bot is awaited or none was enqueued now (request_provisioning)."""
    if not list_portal_code_bots(portal).filter(status=Bot.Status.PENDING).exists():
        return False
    return request_provisioning(portal)


def start_waiting_provisionings() -> int:
    """Enqueue the provisionings of bots awaited by active portals, oldest first, whose backoff has passed and
    that have none queued or running, up to the concurrency left; returns how many."""
    room = conf.provisioning_concurrency() - _in_flight()
    if room <= 0:
        return 0
    awaited = Bot.objects.filter(
        _backoff_passed(),
        code=conf.bot_code(),
        status=Bot.Status.PENDING,
        portal__status=Portal.Status.ACTIVE,
    )
    enqueued = 0
    for bot in awaited.filter(_stamp_free()).select_related("portal").order_by("pk")[: room * 2]:
        if enqueued >= room:
            break
        # The compare-and-set: a second sweep (or the install's request) that read the row too takes nothing.
        taken = awaited.filter(_stamp_free(), pk=bot.pk).update(provision_requested_at=timezone.now())
        if taken:
            log.info("provisioning enqueued portal=%s bot=%s", bot.portal.member_id, bot.pk)
            _enqueue(bot, pending_only=True)
            enqueued += 1
    return enqueued


def sweep_pending_bots() -> int:
    """Every minute: a portal with no bot row at all gets one, then the provisionings waiting are started up
    to the concurrency left (start_waiting_provisionings). Returns how many were enqueued.

    Portals that need a session or uninstalled the app are left alone: nothing could register their bot.
    """
    # No bot row at all (installed before the install requested one): not "none of this code", which would
    # give every portal a second bot the day a deployment changed BOTCORE_BOT_CODE.
    for portal in Portal.objects.filter(status=Portal.Status.ACTIVE, bots__isnull=True):
        bot_services.ensure_bot_row(portal)
    return start_waiting_provisionings()


def provision_portal(portal: Portal, *, pending_only: bool = False) -> str:
    """Provision the portal's bot (bots.provision_bot); returns "provisioned", "backoff", "no_session" (it
    waits for a portal user to open the app: _wait_for_a_user) or "skipped".

    With `pending_only` (the sweep's), only a bot still awaited by an active portal is provisioned. A failure
    of a bot that awaits its bot (PENDING, or never registered) is recorded on its row: a passing one as its
    last error with a backoff ("backoff"), a final one as its broken reason (then raised). A failure of a
    registered bot's re-provisioning is raised as it was.
    """
    bot = list_portal_code_bots(portal).first()
    try:
        return _provision_now(portal, bot, pending_only=pending_only)
    finally:
        if bot is not None:  # however it ended, its place is free: the next waiting bot takes it
            Bot.objects.filter(pk=bot.pk).update(provision_requested_at=None)
        start_waiting_provisionings()


def _provision_now(portal: Portal, bot: Bot | None, *, pending_only: bool) -> str:
    if pending_only and (
        bot is None or bot.status != Bot.Status.PENDING or portal.status != Portal.Status.ACTIVE
    ):
        return "skipped"
    if bot is not None:
        # Restarted at the run's start: a long wait in the queue does not let the sweep enqueue a second one.
        Bot.objects.filter(pk=bot.pk).update(provision_requested_at=timezone.now())
    try:
        bot_services.provision_bot(portal)
    except SessionTokenError as error:
        if portal.status == Portal.Status.UNINSTALLED or has_usable_credential(portal):
            # Uninstalled meanwhile; or one session refused while another stands: tried again with it later.
            if not _record_failure(portal, error):
                raise
            return "backoff"
        _wait_for_a_user(portal, error)
        return "no_session"
    except Exception as error:
        if not _record_failure(portal, error):
            raise
        if refused_for_good(error):
            raise
        return "backoff"
    return "provisioned"


WAITS_FOR_A_USER = "waits for a portal user to open the app"


def _wait_for_a_user(portal: Portal, error: SessionTokenError) -> None:
    """No credential is left to register the bot with (every session ended, no personal key): an expected
    state, not a failure. The portal needs a session, so the sweep leaves it and its bots wait (a registered
    one as *Waiting for a session*); the bot's last error says what it waits for, without a backoff: the next
    portal user to open the app restores the portal, which provisions a bot still awaited
    (request_awaited_provisioning). One WARNING, no traceback: nothing to fix on this side."""
    tenant_services.mark_portal_session_lost(portal)
    text = f"{WAITS_FOR_A_USER} (no session or personal key stored): {describe_error(error)}"[:2000]
    bots = list_portal_code_bots(portal).exclude(status=Bot.Status.RETIRED)
    # One broken before it was ever registered (an operator's re-provision of it) is awaited again, as a
    # passing failure leaves it.
    bots.filter(status=Bot.Status.BROKEN, vibe_bot_id__isnull=True).update(status=Bot.Status.PENDING)
    bots.filter(status=Bot.Status.PENDING).update(backoff_until=None, consecutive_failures=0)
    bots.update(last_error=text)
    log.warning("provisioning %s portal=%s: %s", WAITS_FOR_A_USER, portal.member_id, describe_error(error))


def _record_failure(portal: Portal, error: Exception) -> bool:
    """Record `error` on the portal's bot if it awaits its bot; False when there is none such."""
    # PENDING, or broken before it was ever registered (an operator's re-provision of it); an operator's pause
    # stands, and a retired bot is not brought back.
    awaiting = Bot.objects.filter(
        Q(status=Bot.Status.PENDING) | Q(status=Bot.Status.BROKEN, vibe_bot_id__isnull=True),
        portal=portal,
        code=conf.bot_code(),
    )
    bot = awaiting.first()
    if bot is None:
        return False
    text = describe_error(error)[:2000]
    if refused_for_good(error):
        awaiting.filter(pk=bot.pk).update(status=Bot.Status.BROKEN, broken_reason=text, last_error=text)
        log.error("provisioning refused portal=%s bot=%s: %s", portal.member_id, bot.pk, text)
        return True
    failures = bot.consecutive_failures + 1
    delay = retry_delay(error, failures, base=conf.poll_fast_seconds(), cap=conf.backoff_max_seconds())
    awaiting.filter(pk=bot.pk).update(
        status=Bot.Status.PENDING,
        consecutive_failures=F("consecutive_failures") + 1,
        backoff_until=timezone.now() + timedelta(seconds=delay),
        last_error=text,
    )
    log.warning(
        "provisioning failed, tried again later portal=%s bot=%s failures=%s backoff=%.1fs: %s",
        portal.member_id,
        bot.pk,
        failures,
        delay,
        text,
    )
    return True
