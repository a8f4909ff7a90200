"""django-q2 tasks of tenants: expiry warnings, lapsed sessions, purging uninstalled portals, old sessions."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tenants import selectors, services, signals
from tenants.models import Portal

log = logging.getLogger(__name__)


def warn_expiring_sessions() -> int:
    """Tell each portal whose last token runs out soon (once per token) and mark lapsed portals.

    The warning is a signal: botcore turns it into a bot message to the portal's admins with a link
    that opens the app (which harvests a fresh token).
    """
    within = timedelta(seconds=settings.TENANTS_EXPIRY_WARNING_SECONDS)
    warned = 0
    for portal, expires_at in selectors.list_portals_with_expiring_sessions(within=within):
        warned_at = timezone.now()
        with transaction.atomic():
            if not Portal.objects.filter(pk=portal.pk, expiry_warned_at__isnull=True).update(
                expiry_warned_at=warned_at
            ):
                continue  # another worker warned it first
        signals.portal_session_expiring.send(
            sender=Portal,
            portal=portal,
            expires_at=expires_at,
            admin_user_ids=selectors.list_admin_user_ids(portal),
            open_url=settings.VIBE_APP_PUBLIC_URL,
            warned_at=warned_at,
            occasion=f"expiry:{expires_at.isoformat()}",
        )
        log.info(
            "session expiry warning sent portal=%s expires_at=%s", portal.member_id, expires_at.isoformat()
        )
        warned += 1
    for portal in selectors.list_portals_with_lapsed_sessions():
        services.mark_portal_session_lost(portal)
    return warned


def purge_uninstalled_portals() -> int:
    return services.purge_uninstalled_portals()


def clear_expired_sessions() -> int:
    """Delete expired Django sessions (`manage.py clearsessions`): every anonymous /oauth/start/ adds one."""
    from django.contrib.sessions.models import Session
    from django.core.management import call_command

    # Counted for the log only; clearsessions itself serves whichever session engine is configured.
    expired = Session.objects.filter(expire_date__lt=timezone.now()).count()
    call_command("clearsessions")
    log.info("expired sessions cleared: %s", expired)
    return expired
