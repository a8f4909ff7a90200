"""Django admin for operators: portals and grants, with secrets masked and never editable."""
from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from tenants.models import Portal, PortalApiKey, PortalSettings, SessionGrant


class ReadOnlySecretsMixin:
    """Secrets are never shown or edited here; operators see who, how and until when."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SessionGrantInline(ReadOnlySecretsMixin, admin.TabularInline):
    model = SessionGrant
    fields = ["bitrix_user_id", "user_name", "is_admin", "source", "masked_token", "obtained_at", "expires_at", "invalidated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="token")
    def masked_token(self, grant: SessionGrant) -> str:
        return "•••• (encrypted)" if grant.token else "—"


@admin.register(Portal)
class PortalAdmin(admin.ModelAdmin):
    list_display = ["domain", "name", "member_id", "status", "installed_at", "best_token_expires_at", "has_api_key"]
    list_filter = ["status"]
    search_fields = ["domain", "name", "member_id"]
    readonly_fields = [
        "member_id", "vibe_portal_id", "domain", "name", "installed_at", "installed_by_user_id",
        "uninstalled_at", "purge_after", "session_lost_at", "expiry_warned_at", "updated_at",
    ]
    fields = ["status", *readonly_fields]
    inlines = [SessionGrantInline]

    def has_add_permission(self, request):
        return False  # portals arrive only through install

    @admin.display(description="token expires")
    def best_token_expires_at(self, portal: Portal):
        grant = portal.grants.filter(invalidated_at__isnull=True, expires_at__gt=timezone.now()).order_by("-expires_at").first()
        return grant.expires_at if grant else "—"

    @admin.display(boolean=True, description="personal key")
    def has_api_key(self, portal: Portal) -> bool:
        return PortalApiKey.objects.filter(portal=portal, invalidated_at__isnull=True).exists()


@admin.register(SessionGrant)
class SessionGrantAdmin(ReadOnlySecretsMixin, admin.ModelAdmin):
    list_display = ["portal", "bitrix_user_id", "user_name", "is_admin", "source", "masked_token", "expires_at", "invalidated_at"]
    list_filter = ["source", "is_admin"]
    search_fields = ["portal__domain", "user_name"]
    exclude = ["token"]
    readonly_fields = ["portal", "bitrix_user_id", "user_name", "is_admin", "source", "masked_token", "obtained_at", "expires_at", "invalidated_at"]

    @admin.display(description="token")
    def masked_token(self, grant: SessionGrant) -> str:
        return "•••• (encrypted)" if grant.token else "—"


@admin.register(PortalApiKey)
class PortalApiKeyAdmin(ReadOnlySecretsMixin, admin.ModelAdmin):
    list_display = ["portal", "key_hint", "added_by_user_id", "added_at", "invalidated_at"]
    exclude = ["key"]
    readonly_fields = ["portal", "key_hint", "added_by_user_id", "added_at", "invalidated_at"]


@admin.register(PortalSettings)
class PortalSettingsAdmin(admin.ModelAdmin):
    list_display = ["portal", "language", "timezone", "bot_name", "updated_at"]
    readonly_fields = ["portal"]
