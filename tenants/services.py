"""Writes of tenants' data: install on a verified identity, keep tokens fresh, lose and regain sessions,
store the personal key, uninstall and purge, portal settings.

The identity comes verified: `tenants/handshakes.py` checks a gateway visit or an OAuth code with the
platform before anything here stores it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants import signals
from tenants.crypto import holds_secret
from tenants.errors import InstallationError, PortalBusyError
from tenants.identity import VerifiedIdentity, get_identity_backend
from tenants.models import Portal, PortalApiKey, PortalSettings, SessionGrant
from tenants.selectors import PortalCredential, find_best_grant
from tenants.shapes import MALFORMED_KEY, check_session_token, is_credential_shaped

log = logging.getLogger(__name__)


def _announce(signal: Signal, portal: Portal, **kwargs: Any) -> None:
    """Send after the transaction commits, so receivers (which may enqueue work) see the stored rows."""
    transaction.on_commit(lambda: signal.send(sender=Portal, portal=portal, **kwargs))


@transaction.atomic
def store_session_grant(*, identity: VerifiedIdentity, session_token: str, source: str) -> Portal:
    """Store a verified user's session token; the first admin to arrive installs the portal.

    Later visits refresh that user's grant. A portal that needed a session becomes active again and
    `portal_session_restored` is sent; a new install (or a reinstall) sends `portal_installed`.
    A session whose end the platform did not say is taken to live TENANTS_DEFAULT_SESSION_SECONDS; the
    first 401 on it retires it (`report_credential_refused`), which is how its real end is learned.
    Raises InstallationError when a non-admin reaches a portal that is not installed, or when the token is no
    credential's shape (shapes.check_session_token: every stored token passes here).
    """
    check_session_token(session_token)
    now = timezone.now()
    expires_at = identity.expires_at
    if expires_at is None:
        expires_at = now + timedelta(seconds=settings.TENANTS_DEFAULT_SESSION_SECONDS)
        log.info(
            "session end not stated portal=%s user=%s; assuming %s",
            identity.member_id,
            identity.bitrix_user_id,
            expires_at.isoformat(),
        )
        identity = replace(identity, expires_at=expires_at)
    portal = Portal.objects.select_for_update().filter(member_id=identity.member_id).first()
    newly_installed = portal is None or portal.status == Portal.Status.UNINSTALLED
    if newly_installed and not identity.is_admin:
        raise InstallationError(
            f"portal={identity.member_id} user={identity.bitrix_user_id} is not an admin"
            " and the portal is not installed",
            public_message=_(
                "The app is not installed on this portal yet: a portal administrator must open it first."
            ),
        )
    if portal is None:
        portal = Portal(member_id=identity.member_id)
    was_waiting = portal.pk is not None and portal.status == Portal.Status.NEEDS_SESSION
    portal.vibe_portal_id = identity.vibe_portal_id
    portal.domain = identity.domain
    portal.name = identity.portal_name
    if newly_installed:
        portal.status = Portal.Status.ACTIVE
        portal.installed_at = now
        portal.installed_by_user_id = identity.bitrix_user_id
        portal.uninstalled_at = None
        portal.purge_after = None
    elif was_waiting:
        portal.status = Portal.Status.ACTIVE
        portal.session_lost_at = None
    previous_best = find_best_grant(portal) if portal.pk else None
    if previous_best is None or expires_at > previous_best.expires_at:
        portal.expiry_warned_at = None
    portal.save()
    PortalSettings.objects.get_or_create(portal=portal)
    SessionGrant.objects.update_or_create(
        portal=portal,
        bitrix_user_id=identity.bitrix_user_id,
        defaults={
            "user_name": identity.user_name[:255],
            "is_admin": identity.is_admin,
            "source": source,
            "token": session_token,
            "obtained_at": now,
            "expires_at": expires_at,
            "invalidated_at": None,
            "role_checked_at": now,
        },
    )
    log.info(
        "session grant stored portal=%s user=%s admin=%s source=%s expires_at=%s",
        portal.member_id,
        identity.bitrix_user_id,
        identity.is_admin,
        source,
        expires_at.isoformat(),
    )
    if newly_installed:
        log.info("portal installed portal=%s domain=%s", portal.member_id, portal.domain)
        _announce(signals.portal_installed, portal)
    elif was_waiting:
        log.info("portal session restored portal=%s", portal.member_id)
        _announce(signals.portal_session_restored, portal)
    _announce(signals.portal_session_stored, portal)
    return portal


KEY_REFUSED = _(
    "The platform did not accept this key. Check that you copied all of it and that it has not been revoked."
)


# How long a change of a portal's credentials waits for another one (or a move of the bot) to end, and how
# often it looks again. Moves are rare and per portal: a mass install's portals never wait for each other.
TURN_WAIT_SECONDS = 30.0
TURN_LOOK_EVERY_SECONDS = 0.1


@contextmanager
def portal_turn(portal: Portal, *, wait: float = TURN_WAIT_SECONDS) -> Iterator[None]:
    """Hold the portal's turn, so that changes of its credentials and moves of its bot
    (botcore.services.bots.portal_moves_in_turn) happen one at a time: a key saved while the bot is being
    registered under the one before waits, then retires that bot rather than missing it.

    A lease on the portal row (turn_token, turn_until), taken and given back in short writes of their own,
    never a lock held over the platform calls made in turn: on SQLite a transaction holds the whole
    database, and a mass install's provisioning, each waiting its turn at the platform's rate, held every
    other writer off for minutes. A holder that dies frees the turn when its lease ends
    (TENANTS_PORTAL_TURN_SECONDS). Raises PortalBusyError (transient) past `wait` seconds of waiting.
    Take it outside a transaction, where others see it at once.
    """
    token = uuid.uuid4().hex
    give_up_at = time.monotonic() + wait
    while not _take_turn(portal, token):
        if time.monotonic() >= give_up_at:
            raise PortalBusyError(f"portal={portal.member_id}: its turn stayed taken for {wait:g} s")
        time.sleep(TURN_LOOK_EVERY_SECONDS)
    try:
        yield
    finally:
        Portal.objects.filter(pk=portal.pk, turn_token=token).update(turn_token="", turn_until=None)


def _take_turn(portal: Portal, token: str) -> bool:
    now = timezone.now()
    free = Q(turn_token="") | Q(turn_until__isnull=True) | Q(turn_until__lt=now)
    until = now + timedelta(seconds=float(settings.TENANTS_PORTAL_TURN_SECONDS))
    return bool(Portal.objects.filter(free, pk=portal.pk).update(turn_token=token, turn_until=until))


def _refuse_if_uninstalled(portal: Portal) -> None:
    """Writes on behalf of a portal's people stop at uninstall, even from a page opened before it (the row
    is locked)."""
    if (
        not Portal.objects.select_for_update()
        .filter(pk=portal.pk)
        .exclude(status=Portal.Status.UNINSTALLED)
        .exists()
    ):
        raise InstallationError(
            f"write to uninstalled portal={portal.member_id} refused",
            public_message=_("The app is no longer installed on this portal."),
        )


def set_portal_api_key(portal: Portal, *, api_key: str, added_by_user_id: int) -> PortalApiKey:
    """Store a personal vibe_api_ key for unattended running, once the platform confirms it is this
    portal's. In the portal's turn (portal_turn); the platform is asked before it is taken."""
    if not api_key.startswith("vibe_api_"):
        raise InstallationError(
            "not a personal key", public_message=_("A personal key starts with vibe_api_.")
        )
    if not is_credential_shaped(api_key):
        raise InstallationError("not a personal key's characters", public_message=MALFORMED_KEY)
    with transaction.atomic():
        _refuse_if_uninstalled(portal)
    try:
        identity = get_identity_backend().verify_api_key(api_key)
    except InstallationError as error:
        if error.public_message != InstallationError.public_message:
            raise  # the backend said something more precise (not configured, platform down)
        # The platform refused the key itself: the person is fine, the key is not.
        raise InstallationError(str(error), public_message=KEY_REFUSED) from None
    if identity.member_id != portal.member_id:
        log.warning(
            "personal key of another portal refused portal=%s key_portal=%s",
            portal.member_id,
            identity.member_id,
        )
        raise InstallationError(
            "the key belongs to another portal", public_message=_("This key belongs to another portal.")
        )
    with portal_turn(portal):
        previous = PortalApiKey.objects.filter(portal=portal).first()
        if previous is not None and not holds_secret(previous.key.raw, api_key):
            # Another key replaces it: a bot registered under the old one answers to it alone, so it is
            # retired now, while the old key may still work, and registered anew under the new one.
            signals.portal_api_key_removing.send(sender=Portal, portal=portal)
        with transaction.atomic():
            _refuse_if_uninstalled(portal)
            stored, _created = PortalApiKey.objects.update_or_create(
                portal=portal,
                defaults={
                    "key": api_key,
                    "key_hint": f"{api_key[:9]}…{api_key[-4:]}",
                    "added_by_user_id": added_by_user_id,
                    "added_at": timezone.now(),
                    "invalidated_at": None,
                },
            )
            if portal.status == Portal.Status.NEEDS_SESSION:
                Portal.objects.filter(pk=portal.pk).update(status=Portal.Status.ACTIVE, session_lost_at=None)
                portal.status = Portal.Status.ACTIVE
                _announce(signals.portal_session_restored, portal)
            _announce(signals.portal_credentials_changed, portal)
    log.info("personal key stored portal=%s by user=%s", portal.member_id, added_by_user_id)
    return stored


def remove_portal_api_key(portal: Portal) -> bool:
    """Forget the portal's personal key; a bot registered under it is retired first, while the key works.
    False when there was none."""
    with portal_turn(portal):
        if not PortalApiKey.objects.filter(portal=portal).exists():
            return False
        signals.portal_api_key_removing.send(sender=Portal, portal=portal)
        with transaction.atomic():
            PortalApiKey.objects.filter(portal=portal).delete()
            _announce(signals.portal_credentials_changed, portal)
    log.info("personal key removed portal=%s", portal.member_id)
    return True


@transaction.atomic
def report_credential_refused(portal: Portal, *, credential: PortalCredential) -> None:
    """The platform refused `credential` (expired, revoked): stop using exactly that secret.

    Only the row it came from, and only while it still holds that secret (same `obtained_at`): a user who
    brought a fresh session meanwhile keeps it. Without another credential, the portal needs a session.
    """
    now = timezone.now()
    model = PortalApiKey if credential.kind == "personal" else SessionGrant
    # A credential read from no stored row (row_id None) matches none.
    stale = model.objects.filter(portal=portal, pk=credential.row_id or 0, invalidated_at__isnull=True)
    stale = stale.filter(
        **{"added_at" if credential.kind == "personal" else "obtained_at": credential.obtained_at}
    )
    if stale.update(invalidated_at=now) and credential.kind == "personal":
        log.warning("personal key refused by the platform portal=%s", portal.member_id)
        _announce(signals.portal_credentials_changed, portal)
    has_key = PortalApiKey.objects.filter(portal=portal, invalidated_at__isnull=True).exists()
    if not has_key and find_best_grant(portal) is None:
        mark_portal_session_lost(portal)


def expiry_warning_undelivered(portal_id: int, warned_at: datetime) -> bool:
    """The expiry warning stamped `warned_at` reached no one for a passing reason (the platform failing the
    sends): the stamp is lifted, so the next sweep (tasks.warn_expiring_sessions) warns again, and an operator
    may remind at once. False when the stamp changed meanwhile (a fresh token, a later warning)."""
    return bool(Portal.objects.filter(pk=portal_id, expiry_warned_at=warned_at).update(expiry_warned_at=None))


@transaction.atomic
def mark_portal_session_lost(portal: Portal) -> bool:
    """No usable credential remains: the portal needs a session; its bots pause until one arrives."""
    changed = Portal.objects.filter(pk=portal.pk, status=Portal.Status.ACTIVE).update(
        status=Portal.Status.NEEDS_SESSION, session_lost_at=timezone.now()
    )
    if changed:
        portal.status = Portal.Status.NEEDS_SESSION
        log.warning("portal needs a session portal=%s", portal.member_id)
        _announce(signals.portal_session_lost, portal)
    return bool(changed)


def uninstall_portal(portal: Portal, *, reason: str) -> None:
    """Destroy the portal's secrets at once and mark it uninstalled; its data is purged after the retention.

    `portal_uninstalling` goes out first (outside any transaction: receivers may call the platform while
    the credentials still exist), `portal_uninstalled` after the commit.
    """
    signals.portal_uninstalling.send(sender=Portal, portal=portal, reason=reason)
    _destroy_and_mark_uninstalled(portal, reason=reason)


@transaction.atomic
def _destroy_and_mark_uninstalled(portal: Portal, *, reason: str) -> None:
    now = timezone.now()
    SessionGrant.objects.filter(portal=portal).delete()
    PortalApiKey.objects.filter(portal=portal).delete()
    portal.status = Portal.Status.UNINSTALLED
    portal.uninstalled_at = now
    portal.purge_after = now + timedelta(days=settings.TENANTS_RETENTION_DAYS)
    portal.save(update_fields=["status", "uninstalled_at", "purge_after", "updated_at"])
    log.info("portal uninstalled portal=%s reason=%s", portal.member_id, reason)
    _announce(signals.portal_uninstalled, portal, reason=reason)


def purge_uninstalled_portals(*, at: datetime | None = None) -> int:
    """Delete every uninstalled portal whose retention has run out, with all its rows."""
    at = at or timezone.now()
    doomed = Portal.objects.filter(status=Portal.Status.UNINSTALLED, purge_after__lte=at)
    count = 0
    for portal in doomed:
        log.info("portal purged portal=%s", portal.member_id)
        portal.delete()
        count += 1
    return count


def list_portal_settings_changes(portal: Portal, **prefs: Any) -> list[str]:
    """The names of `prefs` whose value differs from the portal's settings (their defaults where none are
    stored): what a save of them would change."""
    stored = PortalSettings.objects.filter(portal=portal).first() or PortalSettings(portal=portal)
    return _changed_names(stored, prefs)


def _changed_names(settings_row: PortalSettings, prefs: dict[str, Any]) -> list[str]:
    return [name for name, value in prefs.items() if getattr(settings_row, name) != value]


@transaction.atomic
def update_portal_settings(portal: Portal, **prefs: Any) -> PortalSettings:
    """Store the portal's settings given, and send portal_settings_changed naming those that changed.

    A save that changes nothing stores nothing and sends no signal: botcore's receiver asks the platform to
    update the bot (a PATCH, during the request), and each save of the unchanged form sent one."""
    _refuse_if_uninstalled(portal)
    settings_row, _created = PortalSettings.objects.get_or_create(portal=portal)
    changed = _changed_names(settings_row, prefs)
    if not changed:
        return settings_row
    for name in changed:
        setattr(settings_row, name, prefs[name])
    settings_row.full_clean()
    settings_row.save()
    signals.portal_settings_changed.send(sender=Portal, portal=portal, changed=frozenset(changed))
    return settings_row
