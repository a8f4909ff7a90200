"""Portals (tenants), the session grants harvested from their users, their API keys and settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.fields import EncryptedSecretField


def new_credentials_stamp() -> str:
    return uuid.uuid4().hex


class Portal(models.Model):
    """A Bitrix24 portal that reached the app, keyed by Bitrix24's member_id."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        NEEDS_SESSION = "needs_session", _("Needs a session")
        UNINSTALLED = "uninstalled", _("Uninstalled")

    member_id = models.CharField(max_length=64, unique=True, verbose_name=_("member ID"))
    vibe_portal_id = models.CharField(max_length=64, unique=True, verbose_name=_("VibeCode portal ID"))
    domain = models.CharField(max_length=255, verbose_name=_("domain"))
    name = models.CharField(max_length=255, blank=True, verbose_name=_("name"))
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True, verbose_name=_("status")
    )
    installed_at = models.DateTimeField(default=timezone.now, verbose_name=_("installed at"))
    installed_by_user_id = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("installed by (user ID)")
    )
    uninstalled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("uninstalled at"))
    purge_after = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name=_("purge after"))
    session_lost_at = models.DateTimeField(null=True, blank=True, verbose_name=_("session lost at"))
    expiry_warned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expiry warned at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    # New at every write to the portal's session grants or API key (CredentialQuerySet, the models' save and
    # delete): a process may keep the credential it decrypted while the stamp it read stands
    # (tenants.selectors.recall_portal_credential). The database's default is for a release before it, which
    # still installs portals while migrate runs.
    credentials_stamp = models.CharField(
        max_length=32, default=new_credentials_stamp, db_default="", editable=False
    )
    # Whose turn it is to change the portal's credentials or move its bot (tenants.services.portal_turn), and
    # until when: a lease, so that a holder that died frees it, and no database lock spans platform calls.
    # Its default is the database's too: a release before it still installs portals while migrate runs.
    turn_token = models.CharField(max_length=32, blank=True, default="", db_default="", editable=False)
    turn_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("portal")
        verbose_name_plural = _("portals")
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_installed(self) -> bool:
        return self.status != self.Status.UNINSTALLED


def mark_credentials_changed(portal_ids: Iterable[int]) -> None:
    """Give these portals a new credentials_stamp: whatever a process kept of their credentials is stale.
    (One stamp may serve several portals: what is kept is keyed by the portal too.)"""
    ids = set(portal_ids)
    if ids:
        Portal.objects.filter(pk__in=ids).update(credentials_stamp=new_credentials_stamp())


class CredentialQuerySet(models.QuerySet[Any]):
    """Bulk writes to grants and keys mark their portals' credentials changed, in the same transaction."""

    def _portal_ids(self) -> list[int]:
        return list(self.order_by().values_list("portal_id", flat=True).distinct())

    def update(self, **kwargs: Any) -> int:
        with transaction.atomic(using=self.db):
            portal_ids = self._portal_ids()
            changed = super().update(**kwargs)
            mark_credentials_changed(portal_ids)
        return changed

    update.alters_data = True  # type: ignore[attr-defined]

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self.db):
            portal_ids = self._portal_ids()
            deleted = super().delete()
            mark_credentials_changed(portal_ids)
        return deleted

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic(using=self.db):
            made = super().bulk_create(objs, *args, **kwargs)
            mark_credentials_changed(obj.portal_id for obj in made)
        return made

    def bulk_update(self, objs: Any, *args: Any, **kwargs: Any) -> int:
        with transaction.atomic(using=self.db):
            changed = super().bulk_update(objs, *args, **kwargs)
            mark_credentials_changed(obj.portal_id for obj in objs)
        return changed


class CredentialModel(models.Model):
    """A stored credential of a portal: every write marks the portal's credentials changed."""

    objects = CredentialQuerySet.as_manager()
    portal_id: int

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            mark_credentials_changed([self.portal_id])

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            deleted = super().delete(*args, **kwargs)
            mark_credentials_changed([self.portal_id])
        return deleted


class SessionGrant(CredentialModel):
    """The latest session token one portal user gave us, encrypted; one row per (portal, user)."""

    class Source(models.TextChoices):
        GATEWAY = "gateway", _("Embedded app (gateway headers)")
        OAUTH = "oauth", _("OAuth redirect")

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="grants", verbose_name=_("portal")
    )
    bitrix_user_id = models.BigIntegerField(verbose_name=_("user ID"))
    user_name = models.CharField(max_length=255, blank=True, verbose_name=_("user name"))
    is_admin = models.BooleanField(default=False, verbose_name=_("admin"))
    source = models.CharField(max_length=10, choices=Source.choices, verbose_name=_("source"))
    token = EncryptedSecretField()
    obtained_at = models.DateTimeField(default=timezone.now, verbose_name=_("obtained at"))
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("expires at"))
    # Set when the platform refused the token before its expiry (revoked, app re-created, …).
    invalidated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("invalidated at"))
    # When the platform last confirmed `is_admin` (None: when the token was obtained); tenants/roles.py.
    role_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("session grant")
        verbose_name_plural = _("session grants")
        constraints = [
            models.UniqueConstraint(fields=["portal", "bitrix_user_id"], name="one_grant_per_portal_user")
        ]
        ordering = ["-expires_at"]

    def __str__(self) -> str:
        return f"{self.portal} user {self.bitrix_user_id}"

    def is_usable(self, *, at: datetime, min_remaining: timedelta) -> bool:
        return self.invalidated_at is None and self.expires_at > at + min_remaining

    def confirmed_lately(self, *, at: datetime) -> bool:
        """Whether the platform's last word on this token (and the user's role) is under
        TENANTS_ROLE_RECHECK_SECONDS old at `at`: the one interval at which a grant is asked about again."""
        confirmed_at = self.role_checked_at or self.obtained_at
        return at - confirmed_at < timedelta(seconds=settings.TENANTS_ROLE_RECHECK_SECONDS)


class PortalApiKey(CredentialModel):
    """A personal vibe_api_ key a portal admin gave us for unattended running, encrypted."""

    portal = models.OneToOneField(
        Portal, on_delete=models.CASCADE, related_name="api_key", verbose_name=_("portal")
    )
    key = EncryptedSecretField()
    key_hint = models.CharField(
        max_length=32,
        help_text=_("The key's prefix and last characters, for recognition"),
        verbose_name=_("key hint"),
    )
    added_by_user_id = models.BigIntegerField(verbose_name=_("added by (user ID)"))
    added_at = models.DateTimeField(default=timezone.now, verbose_name=_("added at"))
    invalidated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("invalidated at"))

    class Meta:
        verbose_name = _("portal API key")
        verbose_name_plural = _("portal API keys")

    def __str__(self) -> str:
        return f"{self.portal} API key {self.key_hint}"


class PortalSettings(models.Model):
    """Portal-wide preferences set by the portal's admin (per-skill options live in botcore)."""

    portal = models.OneToOneField(
        Portal, on_delete=models.CASCADE, related_name="settings", verbose_name=_("portal")
    )
    language = models.CharField(max_length=8, default="en", verbose_name=_("language"))
    timezone = models.CharField(max_length=64, default="UTC", verbose_name=_("time zone"))
    bot_name = models.CharField(max_length=100, blank=True, verbose_name=_("bot name"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("portal settings")
        verbose_name_plural = _("portal settings")

    def __str__(self) -> str:
        return f"Settings of {self.portal}"
