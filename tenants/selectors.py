"""Reads of tenants' data; `get_portal_credential` is the only place a stored secret is decrypted."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from tenants.crypto import decrypt_secret
from tenants.errors import PortalNotFoundError, SessionTokenError
from tenants.models import Portal, PortalApiKey, PortalSettings, SessionGrant


@dataclass(frozen=True, repr=False)
class PortalCredential:
    """What a platform call for one portal needs: a session token (with the app key) or a personal key."""

    kind: str  # "session" | "personal"
    secret: str
    bitrix_user_id: int | None
    expires_at: datetime | None
    # Which stored row the secret came from, and when that row got it: a refusal invalidates exactly this
    # secret, never a fresher one the same user brought meanwhile.
    row_id: int | None = None
    obtained_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"PortalCredential(kind={self.kind!r}, secret=<hidden>, user={self.bitrix_user_id},"
            f" expires_at={self.expires_at})"
        )


@dataclass(frozen=True)
class PortalPreferences:
    """What a portal's admin set for the whole portal; the defaults when nothing is stored yet."""

    language: str = "en"
    timezone: str = "UTC"
    bot_name: str = ""  # empty: the deployment's default bot name


def get_portal_preferences(portal: Portal | int) -> PortalPreferences:
    """The portal's preferences, with the portal when it was read with select_related("settings") (a poll
    cycle reads its bot so), else in a query of their own."""
    if isinstance(portal, Portal) and Portal.settings.is_cached(portal):
        stored: PortalSettings | None = getattr(portal, "settings", None)  # None: the portal has none
        row = None if stored is None else {name: getattr(stored, name) for name in _PREFERENCES}
    else:
        portal_id = portal if isinstance(portal, int) else portal.pk
        row = PortalSettings.objects.filter(portal_id=portal_id).values(*_PREFERENCES).first()
    if row is None:
        return PortalPreferences()
    return PortalPreferences(
        language=row["language"] or "en", timezone=row["timezone"] or "UTC", bot_name=row["bot_name"] or ""
    )


_PREFERENCES = ("language", "timezone", "bot_name")


def map_portal_timezones(portal_ids: list[int]) -> dict[int, str]:
    """Each portal's time zone setting, by portal id ("UTC" for a portal without settings)."""
    zones = dict(PortalSettings.objects.filter(portal_id__in=portal_ids).values_list("portal_id", "timezone"))
    return {portal_id: zones.get(portal_id) or "UTC" for portal_id in portal_ids}


def get_portal(*, member_id: str) -> Portal:
    portal = find_portal(member_id=member_id)
    if portal is None:
        raise PortalNotFoundError(f"No portal with member_id {member_id}")
    return portal


def find_portal(*, member_id: str | None = None, vibe_portal_id: str | None = None) -> Portal | None:
    query = Portal.objects.all()
    if member_id is not None:
        query = query.filter(member_id=member_id)
    if vibe_portal_id is not None:
        query = query.filter(vibe_portal_id=vibe_portal_id)
    return query.first() if (member_id or vibe_portal_id) else None


def count_portals_by_status() -> dict[str, int]:
    """Every portal status with its number of portals (0 included)."""
    counts = dict(Portal.objects.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in Portal.Status.values}


def list_installed_portals() -> QuerySet[Portal]:
    return Portal.objects.exclude(status=Portal.Status.UNINSTALLED)


def _min_remaining() -> timedelta:
    return timedelta(seconds=settings.TENANTS_TOKEN_MIN_REMAINING_SECONDS)


def _usable(grants: QuerySet[SessionGrant], at: datetime) -> QuerySet[SessionGrant]:
    """Grants still good for new work, best first: an admin's before a member's, then the freshest."""
    return grants.filter(invalidated_at__isnull=True, expires_at__gt=at + _min_remaining()).order_by(
        "-is_admin", "-expires_at"
    )


def list_usable_grants(portal: Portal, *, at: datetime | None = None) -> QuerySet[SessionGrant]:
    return _usable(SessionGrant.objects.filter(portal=portal), at or timezone.now())


def find_best_grant(portal: Portal) -> SessionGrant | None:
    return list_usable_grants(portal).first()


def find_preferred_credential_kind(portal: Portal) -> str:
    """The credential new platform bots of `portal` are registered under: its personal key, if it gave
    one that was not refused (it does not expire), else the app key with a user's session."""
    has_key = PortalApiKey.objects.filter(portal=portal, invalidated_at__isnull=True).exists()
    return "personal" if has_key else "session"


def has_usable_credential(portal: Portal) -> bool:
    """Whether the platform could be called for `portal` now: a personal key not refused, or a usable session
    (nothing decrypted)."""
    if portal.status == Portal.Status.UNINSTALLED:
        return False
    return find_preferred_credential_kind(portal) == "personal" or find_best_grant(portal) is not None


def get_grant_credential(grant: SessionGrant) -> PortalCredential:
    """One grant's session token as a credential, decrypted (to ask the platform who its user is now)."""
    return PortalCredential(
        kind="session", secret=decrypt_secret(grant.token.raw), bitrix_user_id=grant.bitrix_user_id,
        expires_at=grant.expires_at, row_id=grant.pk, obtained_at=grant.obtained_at,
    )  # fmt: skip


def get_portal_credential(portal: Portal, *, kind: str | None = None) -> PortalCredential:
    """The credential to call the platform with for `portal`, decrypted.

    `kind` asks for one kind ("personal": the portal's personal key; "session": its best usable session
    grant), as a bot registered under one must be called with it; None takes the preferred one.
    Raises SessionTokenError when there is none, and SecretDecryptionError if the keys cannot open it.
    """
    if portal.status == Portal.Status.UNINSTALLED:
        raise SessionTokenError(f"portal={portal.member_id} is uninstalled")
    kind = kind or find_preferred_credential_kind(portal)
    if kind == "personal":
        api_key = PortalApiKey.objects.filter(portal=portal, invalidated_at__isnull=True).first()
        if api_key is None:
            raise SessionTokenError(f"portal={portal.member_id} has no usable personal key")
        return PortalCredential(
            kind="personal", secret=decrypt_secret(api_key.key.raw), bitrix_user_id=api_key.added_by_user_id,
            expires_at=None, row_id=api_key.pk, obtained_at=api_key.added_at,
        )  # fmt: skip
    grant = find_best_grant(portal)
    if grant is None:
        raise SessionTokenError(f"portal={portal.member_id} has no usable session token")
    return get_grant_credential(grant)


# What recall_portal_credential keeps, by (portal, kind): the credentials_stamp it was read under, the
# credential, and when (monotonic). One entry per portal and kind, so a superseded secret is dropped at the
# portal's next cycle. Per process (a forked worker starts empty: its parent's entries are the parent's).
_recalled: dict[tuple[int, str], tuple[str, PortalCredential, float]] = {}
_recalled_pid = 0
RECALL_MAX_ENTRIES = 10_000
# Bounds what a caller holding a portal read long ago can be given: its stamp may be stale.
RECALL_MAX_SECONDS = 300.0


def recall_portal_credential(portal: Portal, *, kind: str) -> PortalCredential:
    """get_portal_credential's answer for a portal read just now, decrypted once per process while the
    portal's credentials stand.

    Every write to a portal's grants or key gives it a new credentials_stamp (tenants.models), so the
    answer kept under the stamp `portal` was read with is the answer a query would give, as long as the
    chosen session is still usable: other grants only lose usability with time, never gain it. A poll
    cycle reads its bot and portal at its start and asks here; each asking saves a query and a decryption
    (~0.9 ms of a message's ~27 CPU-ms on the polling benchmark's host).
    """
    global _recalled_pid
    if portal.status == Portal.Status.UNINSTALLED:
        raise SessionTokenError(f"portal={portal.member_id} is uninstalled")
    if _recalled_pid != os.getpid():
        _recalled.clear()
        _recalled_pid = os.getpid()
    key = (portal.pk, kind)
    now = time.monotonic()
    kept = _recalled.pop(key, None)
    if kept is not None:
        stamp, credential, read_at = kept
        fresh = stamp == portal.credentials_stamp and now - read_at < RECALL_MAX_SECONDS
        # Still usable as _usable has it (a personal key has no end).
        ends = credential.expires_at
        if fresh and (ends is None or ends > timezone.now() + _min_remaining()):
            _recalled[key] = kept
            return credential
    credential = get_portal_credential(portal, kind=kind)
    if len(_recalled) >= RECALL_MAX_ENTRIES:
        _recalled.clear()
    _recalled[key] = (portal.credentials_stamp, credential, now)
    return credential


def list_admin_user_ids(portal: Portal) -> list[int]:
    return list(
        SessionGrant.objects.filter(portal=portal, is_admin=True).values_list("bitrix_user_id", flat=True)
    )


def list_portals_with_expiring_sessions(
    *, within: timedelta, at: datetime | None = None
) -> list[tuple[Portal, datetime]]:
    """Active portals without a personal key whose best token expires within `within`, not yet warned."""
    at = at or timezone.now()
    best_expiry = _usable(SessionGrant.objects.filter(portal=OuterRef("pk")), at).values("expires_at")[:1]
    candidates = (
        Portal.objects.filter(
            status=Portal.Status.ACTIVE, expiry_warned_at__isnull=True, api_key__isnull=True
        )
        .annotate(best_expires_at=Subquery(best_expiry))
        .filter(best_expires_at__isnull=False, best_expires_at__lte=at + within)
    )
    return [(portal, portal.best_expires_at) for portal in candidates]


def list_portals_with_lapsed_sessions(*, at: datetime | None = None) -> list[Portal]:
    """Active portals that no longer have any usable credential."""
    at = at or timezone.now()
    valid_key = PortalApiKey.objects.filter(portal=OuterRef("pk"), invalidated_at__isnull=True)
    usable_grant = _usable(SessionGrant.objects.filter(portal=OuterRef("pk")), at)
    return list(
        Portal.objects.filter(status=Portal.Status.ACTIVE)
        .exclude(Exists(valid_key))
        .exclude(Exists(usable_grant))
    )


def annotate_credentials(portals: QuerySet[Portal], *, at: datetime | None = None) -> QuerySet[Portal]:
    """Each portal's best live token expiry (`best_expires_at`) and whether it has a personal key
    (`has_personal_key`), inside the one query of a list: no query per row."""
    at = at or timezone.now()
    best = SessionGrant.objects.filter(
        portal=OuterRef("pk"), invalidated_at__isnull=True, expires_at__gt=at
    ).order_by("-expires_at")
    key = PortalApiKey.objects.filter(portal=OuterRef("pk"), invalidated_at__isnull=True)
    return portals.annotate(
        best_expires_at=Subquery(best.values("expires_at")[:1]), has_personal_key=Exists(key)
    )
