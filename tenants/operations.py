"""What an operator may do to a portal (admin actions, operator API): remind, re-verify, uninstall.

Each goes through tenants' own lifecycle (signals, services), never a raw status edit or delete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from ops.redaction import redact
from tenants import selectors, services, signals
from tenants.errors import InstallationError, SessionTokenError
from tenants.identity import get_identity_backend
from tenants.models import Portal, SessionGrant

log = logging.getLogger(__name__)


# A reminder is a message from the bot to each of the portal's admins: one sent again within this (a double
# click, two operators, the API retried after a timeout, the expiry warning a moment before) is refused.
REMIND_AGAIN_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str


def send_renewal_reminder(portal: Portal, *, operator: str) -> ActionResult:
    """Send the session-renewal reminder to the portal's admins now, as the expiry warning would."""
    if portal.status == Portal.Status.UNINSTALLED:
        return ActionResult(
            False, gettext("{domain}: not installed, nothing to remind").format(domain=portal.domain)
        )
    admins = selectors.list_admin_user_ids(portal)
    if not admins:
        return ActionResult(False, gettext("{domain}: no known admin to remind").format(domain=portal.domain))
    try:
        # The bot writes the reminder, and it can call the platform only with a usable credential.
        selectors.get_portal_credential(portal)
    except SessionTokenError:
        why = gettext(
            "{domain}: no usable session or key, so the bot cannot write to anyone; give an admin "
            "a sign-in link: manage.py oauth_invite --base-url <the app's address> --portal {member_id}"
        )
        return ActionResult(False, why.format(domain=portal.domain, member_id=portal.member_id))
    grant = selectors.find_best_grant(portal)
    now = timezone.now()
    expires_at = grant.expires_at if grant else now
    recent = Q(expiry_warned_at__gt=now - REMIND_AGAIN_AFTER)
    if not Portal.objects.filter(pk=portal.pk).exclude(recent).update(expiry_warned_at=now):
        warned_at = Portal.objects.filter(pk=portal.pk).values_list("expiry_warned_at", flat=True).first()
        when = timezone.localtime(warned_at).strftime("%H:%M:%S") if warned_at else gettext("a moment ago")
        why = gettext(
            "{domain}: its admins were reminded already at {when}; again at the earliest {minutes} minutes"
            " after that"
        )
        minutes = int(REMIND_AGAIN_AFTER.total_seconds() // 60)
        return ActionResult(False, why.format(domain=portal.domain, when=when, minutes=minutes))
    signals.portal_session_expiring.send(
        sender=Portal,
        portal=portal,
        expires_at=expires_at,
        admin_user_ids=admins,
        open_url=settings.VIBE_APP_PUBLIC_URL,
        warned_at=now,
        occasion=f"reminder:{now.isoformat()}",
    )
    log.info("renewal reminder sent by operator portal=%s operator=%s", portal.member_id, operator)
    done = gettext("{domain}: reminder queued for {count} admin(s), from the bot")
    return ActionResult(True, done.format(domain=portal.domain, count=len(admins)))


def reverify_session(portal: Portal, *, operator: str) -> ActionResult:
    """Ask the platform (GET /v1/me) whether the credential we would use is still good; drop it if refused."""
    if not portal.is_installed:
        why = gettext("{domain}: uninstalled; there is no credential to verify")
        return ActionResult(False, why.format(domain=portal.domain))
    try:
        credential = selectors.get_portal_credential(portal)
    except SessionTokenError:
        services.mark_portal_session_lost(portal)
        why = gettext("{domain}: no usable credential (the portal needs a session)")
        return ActionResult(False, why.format(domain=portal.domain))
    backend = get_identity_backend()
    try:
        if credential.kind == "personal":
            identity = backend.verify_api_key(credential.secret)
        else:
            identity = backend.verify_session(credential.secret)
    except InstallationError as error:
        if error.is_transient or error.refuses_app_key:
            # The platform's words may name the credential asked about: redacted, as log lines are.
            why = redact(str(error))
            kept = gettext("{domain}: not verified now ({why}); the credential is kept")
            return ActionResult(False, kept.format(domain=portal.domain, why=why))
        services.report_credential_refused(portal, credential=credential)
        log.warning(
            "operator re-verify: credential refused portal=%s kind=%s operator=%s",
            portal.member_id,
            credential.kind,
            operator,
        )
        if credential.kind == "personal":
            refused = gettext("{domain}: the platform refused the personal credential; it is no longer used")
        else:
            refused = gettext("{domain}: the platform refused the session credential; it is no longer used")
        return ActionResult(False, refused.format(domain=portal.domain))
    if identity.member_id != portal.member_id:
        services.report_credential_refused(portal, credential=credential)
        why = gettext("{domain}: the credential belongs to another portal; it is no longer used")
        return ActionResult(False, why.format(domain=portal.domain))
    if credential.kind == "session":
        assert credential.row_id is not None and credential.obtained_at is not None  # read from a grant row
        # The platform's word on role and expiry replaces ours: a demoted admin loses the admin flag here.
        SessionGrant.objects.filter(pk=credential.row_id, obtained_at=credential.obtained_at).update(
            is_admin=identity.is_admin, expires_at=identity.expires_at or credential.expires_at
        )
    log.info(
        "operator re-verify: credential good portal=%s kind=%s operator=%s",
        portal.member_id,
        credential.kind,
        operator,
    )
    if credential.kind == "personal":
        good = gettext("{domain}: the personal credential is good")
    else:
        good = gettext("{domain}: the session credential is good")
    return ActionResult(True, good.format(domain=portal.domain))


def uninstall_for_operator(portal: Portal, *, operator: str) -> ActionResult:
    if portal.status == Portal.Status.UNINSTALLED:
        return ActionResult(False, gettext("{domain}: already uninstalled").format(domain=portal.domain))
    services.uninstall_portal(portal, reason="operator")
    log.info("portal uninstalled by operator portal=%s operator=%s", portal.member_id, operator)
    done = gettext("{domain}: uninstalled (data purged after the retention period)")
    return ActionResult(True, done.format(domain=portal.domain))
