"""Django admin for operators: bots (pause, resume, re-provision) and the event log (filters, replay)."""

from __future__ import annotations

from admin_auto_filters.filters import AutocompleteFilterFactory
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q.tasks import async_task

from botcore.models import Bot, BotCommand, EventLogEntry
from botcore.services.bots import pause_bot, resume_bot
from botcore.services.eventlog import replay_entries


class BotCommandInline(admin.TabularInline):
    model = BotCommand
    extra = 0
    can_delete = False
    readonly_fields = ["skill_name", "command", "vibe_command_id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "portal",
        "vibe_bot_id",
        "status",
        "last_polled_at",
        "last_event_at",
        "next_poll_at",
        "consecutive_failures",
    ]
    list_filter = ["status", AutocompleteFilterFactory("portal", "portal")]
    list_select_related = ["portal"]
    search_fields = ["name", "code", "portal__domain"]
    readonly_fields = [
        "portal",
        "code",
        "vibe_bot_id",
        "status",
        "broken_reason",
        "event_offset",
        "next_poll_at",
        "lease_until",
        "has_more",
        "last_polled_at",
        "last_event_at",
        "consecutive_failures",
        "last_error",
        "provisioned_at",
        "activated_at",
        "created_at",
    ]
    fields = ["name", *readonly_fields]
    inlines = [BotCommandInline]
    actions = ["pause_bots", "resume_bots", "reprovision_bots"]

    def has_add_permission(self, request):
        return False  # bots are provisioned when a portal installs

    def has_delete_permission(self, request, obj=None):
        return (
            False  # bots are retired by their portal's uninstall (which unregisters them), never deleted raw
        )

    @admin.action(description="Pause polling")
    def pause_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            pause_bot(bot)
        messages.info(request, f"Paused {queryset.count()} bot(s).")

    @admin.action(description="Resume polling")
    def resume_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            resume_bot(bot)
        messages.info(request, f"Resumed {queryset.count()} bot(s).")

    @admin.action(description="Re-provision (register bot and commands again)")
    def reprovision_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            async_task("botcore.tasks.provision_portal_bot", bot.portal_id)
        messages.info(request, f"Re-provisioning {queryset.count()} bot(s) in the background.")


@admin.register(EventLogEntry)
class EventLogEntryAdmin(admin.ModelAdmin):
    list_display = [
        "vibe_event_id",
        "event_type",
        "bot",
        "portal",
        "status",
        "skill",
        "attempts",
        "received_at",
        "duration_ms",
    ]
    list_filter = [
        "status",
        "event_type",
        AutocompleteFilterFactory("portal", "bot__portal"),
        AutocompleteFilterFactory("bot", "bot"),
    ]
    search_fields = ["error", "skill"]
    readonly_fields = [
        "bot",
        "vibe_event_id",
        "event_type",
        "payload",
        "status",
        "skill",
        "error",
        "attempts",
        "occurred_at",
        "received_at",
        "handled_at",
        "duration_ms",
    ]
    list_select_related = ["bot", "bot__portal"]
    date_hierarchy = "received_at"
    actions = ["replay_events"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="portal", ordering="bot__portal__domain")
    def portal(self, entry: EventLogEntry):
        return entry.bot.portal

    @admin.action(description="Replay (handle again)")
    def replay_events(self, request: HttpRequest, queryset: QuerySet[EventLogEntry]) -> None:
        count, malformed = replay_entries(queryset)
        messages.info(request, f"{count} event(s) will be handled again on their bot's next cycle.")
        if malformed:
            messages.warning(
                request,
                f"{malformed} malformed event(s) left as they are: their payload cannot be read, so a replay"
                " would only fail again. The error column says what is wrong with each.",
            )
