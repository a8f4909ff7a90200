"""Django admin for operators: portals and grants, with secrets masked and never editable.

A portal's status changes only through its lifecycle (tenants/operations.py): the actions remind, re-verify
and uninstall; there is no status field to edit and no hard delete (purging follows the retention). The
actions take the change right (the operator API asks the same, ops/api_rights.py): without a right named,
Django offers an action to whoever may view the list.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from tenants import operations
from tenants.models import Portal, PortalApiKey, PortalSettings, SessionGrant
from tenants.selectors import annotate_credentials
from vibeapp.admin_filters import autocomplete_filter
from vibeapp.admin_limits import RESULTS_SHOWN, refuse_too_many, warn_each_left

# Re-verifying and uninstalling call the platform for each portal while the page waits (0.9 s a portal with
# the platform unreachable, a slow one up to VIBE_IDENTITY_CHECK_SECONDS): "select all" over a fleet outlasted
# the web worker's timeout halfway through, telling the operator nothing of which were done.
PLATFORM_ACTION_LIMIT = 10
# Each reminder is a bot message to the portal's admins, through the app key's request budget the replies
# need: "select all" over a fleet queued one a portal at once, ahead of them.
REMINDER_ACTION_LIMIT = 100


class ReadOnlySecretsMixin:
    """Secrets are never shown, edited or deleted here; operators see who, how and until when. A credential
    goes through its lifecycle (tenants/services.py: a key's removal retires the bot registered under it
    while the key still works; uninstall destroys them all), which a raw delete skipped."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class SessionGrantInline(ReadOnlySecretsMixin, admin.TabularInline[SessionGrant, Portal]):
    model = SessionGrant
    fields = (
        "bitrix_user_id",
        "user_name",
        "is_admin",
        "source",
        "masked_token",
        "obtained_at",
        "expires_at",
        "invalidated_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=gettext_lazy("token"))
    def masked_token(self, grant: SessionGrant) -> str:
        return gettext("•••• (encrypted)") if grant.token else "—"


class SessionExpiryFilter(admin.SimpleListFilter):
    """Active portals living on a session (no personal key) whose best token runs out within the window."""

    title = gettext_lazy("session expires")
    parameter_name = "session_expires"
    # Each choice's whole label, so that a language says the hours its own way ("within 24h" read
    # "в течение 24h" in Russian).
    WINDOWS = {
        "24h": (timedelta(hours=24), gettext_lazy("within 24 hours")),
        "6h": (timedelta(hours=6), gettext_lazy("within 6 hours")),
        "1h": (timedelta(hours=1), gettext_lazy("within an hour")),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, str(label)) for key, (_window, label) in self.WINDOWS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        window, _label = self.WINDOWS.get(self.value() or "", (None, ""))
        if window is None:
            return queryset
        now = timezone.now()
        return queryset.filter(
            status=Portal.Status.ACTIVE,
            has_personal_key=False,
            best_expires_at__gt=now,
            best_expires_at__lte=now + window,
        )


@admin.register(Portal)
class PortalAdmin(admin.ModelAdmin[Portal]):
    list_display = [
        "domain",
        "name",
        "member_id",
        "status",
        "installed_at",
        "best_token_expires_at",
        "has_api_key",
    ]
    list_filter = ["status", SessionExpiryFilter]
    search_fields = ["domain", "name", "member_id"]
    readonly_fields = (
        "member_id",
        "vibe_portal_id",
        "domain",
        "name",
        "status",
        "installed_at",
        "installed_by_user_id",
        "uninstalled_at",
        "purge_after",
        "session_lost_at",
        "expiry_warned_at",
        "updated_at",
    )
    fields = readonly_fields
    inlines = [SessionGrantInline]
    actions = ["send_renewal_reminder", "reverify_session", "uninstall_portals"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Portal]:
        return annotate_credentials(super().get_queryset(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # portals arrive only through install

    def has_delete_permission(self, request: HttpRequest, obj: Portal | None = None) -> bool:
        return False  # uninstall goes through the lifecycle; rows are purged after the retention

    @admin.display(description=gettext_lazy("token expires"), ordering="best_expires_at")
    def best_token_expires_at(self, portal: Portal) -> object:
        return getattr(portal, "best_expires_at", None) or "—"  # annotated by get_queryset

    @admin.display(boolean=True, description=gettext_lazy("personal key"), ordering="has_personal_key")
    def has_api_key(self, portal: Portal) -> bool:
        return bool(getattr(portal, "has_personal_key", False))  # annotated by get_queryset

    def _report(self, request: HttpRequest, results: list[operations.ActionResult]) -> None:
        if len(results) <= RESULTS_SHOWN:
            for result in results:
                level = messages.SUCCESS if result.ok else messages.WARNING
                messages.add_message(request, level, result.message)
            return
        # One message a portal: 1,000 after a fleet's reminder.
        left = [result.message for result in results if not result.ok]
        done = gettext("Done for {done} of {count} portals.").format(
            done=len(results) - len(left), count=len(results)
        )
        messages.success(request, done)
        warn_each_left(request, left, more=gettext("… and {count} more portals left as they were."))

    @admin.action(description=gettext_lazy("Send the renewal reminder now"), permissions=["change"])
    def send_renewal_reminder(self, request: HttpRequest, queryset: QuerySet[Portal]) -> None:
        why = gettext(
            "Reminding writes to each portal's admins through the app key's request budget that replies need"
        )
        if refuse_too_many(request, queryset, limit=REMINDER_ACTION_LIMIT, why=why):
            return
        operator = request.user.get_username()
        self._report(request, [operations.send_renewal_reminder(p, operator=operator) for p in queryset])

    @admin.action(description=gettext_lazy("Re-verify the session with the platform"), permissions=["change"])
    def reverify_session(self, request: HttpRequest, queryset: QuerySet[Portal]) -> None:
        why = gettext("Re-verifying asks the platform about each portal while this page waits")
        if refuse_too_many(request, queryset, limit=PLATFORM_ACTION_LIMIT, why=why):
            return
        operator = request.user.get_username()
        self._report(request, [operations.reverify_session(p, operator=operator) for p in queryset])

    @admin.action(
        description=gettext_lazy("Uninstall (destroys the portal's credentials)"), permissions=["change"]
    )
    def uninstall_portals(self, request: HttpRequest, queryset: QuerySet[Portal]) -> HttpResponse | None:
        why = gettext("Uninstalling asks the platform about each portal while this page waits")
        if refuse_too_many(request, queryset, limit=PLATFORM_ACTION_LIMIT, why=why):
            return None
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": gettext("Uninstall these portals?"),
                "portals": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/tenants/portal/uninstall_confirmation.html", context)
        operator = request.user.get_username()
        self._report(request, [operations.uninstall_for_operator(p, operator=operator) for p in queryset])
        return None


@admin.register(SessionGrant)
class SessionGrantAdmin(ReadOnlySecretsMixin, admin.ModelAdmin[SessionGrant]):
    list_display = [
        "portal",
        "bitrix_user_id",
        "user_name",
        "is_admin",
        "source",
        "masked_token",
        "expires_at",
        "invalidated_at",
    ]
    list_filter = [autocomplete_filter("portal", "portal"), "source", "is_admin"]
    list_select_related = ["portal"]
    search_fields = ["portal__domain", "user_name"]
    exclude = ["token"]
    readonly_fields = [
        "portal",
        "bitrix_user_id",
        "user_name",
        "is_admin",
        "source",
        "masked_token",
        "obtained_at",
        "expires_at",
        "invalidated_at",
    ]

    @admin.display(description=gettext_lazy("token"))
    def masked_token(self, grant: SessionGrant) -> str:
        return gettext("•••• (encrypted)") if grant.token else "—"


@admin.register(PortalApiKey)
class PortalApiKeyAdmin(ReadOnlySecretsMixin, admin.ModelAdmin[PortalApiKey]):
    list_display = ["portal", "key_hint", "added_by_user_id", "added_at", "invalidated_at"]
    list_select_related = ["portal"]
    exclude = ["key"]
    readonly_fields = ["portal", "key_hint", "added_by_user_id", "added_at", "invalidated_at"]


@admin.register(PortalSettings)
class PortalSettingsAdmin(admin.ModelAdmin[PortalSettings]):
    """Read-only: the portal's admin sets these on the portal page, which checks the time zone and renames the
    bot on the platform (an operator's raw edit did neither: an outside trial saved Mars/Olympus)."""

    list_display = ["portal", "language", "timezone", "bot_name", "updated_at"]
    list_select_related = ["portal"]
    readonly_fields = ["portal"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made with the portal at install

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
