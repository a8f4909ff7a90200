"""django-q2 tasks of botcore: load, call one service, return. Names are persisted in queued tasks and
schedules: rename one only with its schedule (schedules.py) and once no queued task names it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from botcore import conf
from botcore.models import Bot, EventLogEntry
from botcore.retention import delete_in_batches
from botcore.services import bot_profile, provisioning
from botcore.services import bots as bot_services
from botcore.services.executor import execute_run
from botcore.services.notices import send_expiry_warning
from botcore.services.polling import poll_bot_once
from botcore.services.skill_runs import announce_portal_event
from botcore.services.skill_schedules import sweep_schedules
from botcore.skills.events import BackendEventType
from ops.metrics import record_poll_outcome
from tenants import services as tenant_services
from tenants.models import Portal

log = logging.getLogger(__name__)


def poll_bot(bot_id: int, lease_token: str | None = None, watched: dict | None = None) -> str:
    """One poll cycle of one bot (enqueued by the poller or the pacer with the lease it took, and by the
    poller with the batch its watch read, if any: botcore.services.polling.watched_batch)."""
    outcome = poll_bot_once(bot_id, lease_token=lease_token, watched=watched)
    record_poll_outcome(status=outcome.status)
    return outcome.status


def provision_portal_bot(portal_id: int, pending_only: bool = False) -> str:
    """Provision the portal's bot, then tell the skills that declare PORTAL_INSTALLED (once per install).

    Enqueued at install, by an operator, and by the sweep (`pending_only`: only a bot still awaited); a
    passing failure is left to the sweep (services/provisioning.py)."""
    portal = Portal.objects.get(pk=portal_id)
    outcome = provisioning.provision_portal(portal, pending_only=pending_only)
    if outcome == "provisioned":
        announce_portal_event(portal, BackendEventType.PORTAL_INSTALLED)
    return outcome


def sweep_pending_bots() -> int:
    """Every minute (botcore/schedules.py): provisioning again for installed portals still without a bot."""
    return provisioning.sweep_pending_bots()


def move_portal_bot(portal_id: int) -> None:
    """Move the portal's bot to its preferred credential, if that changed (a key given, removed, refused)."""
    portal = Portal.objects.filter(pk=portal_id).first()
    if portal is not None:
        try:
            bot_services.ensure_bot_credential(portal)
        finally:  # however it ended, the next cycle that finds the credential gone may queue another
            Bot.objects.filter(portal=portal, code=conf.bot_code()).update(provision_requested_at=None)


def warn_portal_admins(
    portal_id: int,
    admin_user_ids: list[int],
    open_url: str,
    expires_at: str,
    warned_at: str = "",
    occasion: str = "",
) -> int:
    """Send each admin of the portal a private bot message with the link that renews the session; returns how
    many were told. Where some could not be for a passing reason, the warning's stamp is handed back, so the
    next sweep warns again (those told already, by `occasion`, are not told twice). The last two arguments
    are optional for tasks queued before they were added."""
    portal = Portal.objects.get(pk=portal_id)
    delivery = send_expiry_warning(
        portal, admin_user_ids=admin_user_ids, open_url=open_url, expires_at=expires_at, occasion=occasion
    )
    handed_back = (
        delivery.untold
        and warned_at
        and tenant_services.expiry_warning_undelivered(portal.pk, datetime.fromisoformat(warned_at))
    )
    if handed_back:
        log.warning(
            "session expiry warning not delivered to %s admin(s) portal=%s: warned again at the next sweep",
            delivery.untold,
            portal.member_id,
        )
    return delivery.told


def prune_event_log() -> int:
    cutoff = timezone.now() - timedelta(days=conf.event_log_retention_days())
    old = EventLogEntry.objects.filter(received_at__lt=cutoff).exclude(status=EventLogEntry.Status.RECEIVED)
    deleted = delete_in_batches(old)
    log.info("event log pruned: %s entries older than %s", deleted, cutoff.isoformat())
    return deleted


def sweep_skill_schedules() -> int:
    """Every minute (botcore/schedules.py): claim due scheduled runs, re-enqueue waiting ones."""
    return sweep_schedules()


def execute_skill_run(run_id: int) -> str:
    return execute_run(run_id)


def announce_portal_uninstalled(portal_id: int, reason: str = "") -> int:
    portal = Portal.objects.filter(pk=portal_id).first()
    return announce_portal_event(portal, BackendEventType.PORTAL_UNINSTALLED, reason=reason) if portal else 0


def sync_bot_commands(portal_id: int) -> None:
    """Re-register the portal's bot commands after a skill was turned on or off, or a deploy changed them."""
    bot_profile.sync_portal_commands(Portal.objects.get(pk=portal_id))


def sync_stale_commands() -> int:
    """The sweep (schedules.py: at every deploy, then hourly): a sync for each bot out of step."""
    return bot_profile.sync_stale_commands()
