"""Portals (tenants), the session grants harvested from their users, their API keys and settings."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.fields import EncryptedSecretField


class Portal(models.Model):
    """A Bitrix24 portal that reached the app, keyed by Bitrix24's member_id."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        NEEDS_SESSION = "needs_session", _("Needs a session")
        UNINSTALLED = "uninstalled", _("Uninstalled")

    member_id = models.CharField(max_length=64, unique=True)
    vibe_portal_id = models.CharField("VibeCode portal id", max_length=64, unique=True)
    domain = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    installed_at = models.DateTimeField(default=timezone.now)
    installed_by_user_id = models.BigIntegerField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True, db_index=True)
    session_lost_at = models.DateTimeField(null=True, blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_installed(self) -> bool:
        return self.status != self.Status.UNINSTALLED


class SessionGrant(models.Model):
    """The latest session token one portal user gave us, encrypted; one row per (portal, user)."""

    class Source(models.TextChoices):
        GATEWAY = "gateway", "Embedded app (gateway headers)"
        OAUTH = "oauth", "OAuth redirect"

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="grants")
    bitrix_user_id = models.BigIntegerField()
    user_name = models.CharField(max_length=255, blank=True)
    is_admin = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=Source.choices)
    token = EncryptedSecretField()
    obtained_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    # Set when the platform refused the token before its expiry (revoked, app re-created, …).
    invalidated_at = models.DateTimeField(null=True, blank=True)
    # When the platform last confirmed `is_admin` (None: when the token was obtained); tenants/roles.py.
    role_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", "bitrix_user_id"], name="one_grant_per_portal_user")
        ]
        ordering = ["-expires_at"]

    def __str__(self) -> str:
        return f"{self.portal} user {self.bitrix_user_id}"

    def is_usable(self, *, at: datetime, min_remaining: timedelta) -> bool:
        return self.invalidated_at is None and self.expires_at > at + min_remaining


class PortalApiKey(models.Model):
    """A personal vibe_api_ key a portal admin gave us for unattended running, encrypted."""

    portal = models.OneToOneField(Portal, on_delete=models.CASCADE, related_name="api_key")
    key = EncryptedSecretField()
    key_hint = models.CharField(
        max_length=32, help_text="The key's prefix and last characters, for recognition"
    )
    added_by_user_id = models.BigIntegerField()
    added_at = models.DateTimeField(default=timezone.now)
    invalidated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.portal} API key {self.key_hint}"


class PortalSettings(models.Model):
    """Portal-wide preferences set by the portal's admin (per-skill options live in botcore)."""

    portal = models.OneToOneField(Portal, on_delete=models.CASCADE, related_name="settings")
    language = models.CharField(max_length=8, default="en")
    timezone = models.CharField(max_length=64, default="UTC")
    bot_name = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "portal settings"
        verbose_name_plural = "portal settings"

    def __str__(self) -> str:
        return f"Settings of {self.portal}"
