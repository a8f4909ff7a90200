"""Django admin for operators: bots (pause, resume, re-provision) and the event log (filters, replay, give
up).

A bot's actions take the change right, as the operator API's do (ops/api_rights.py), and replaying or giving
up events takes `botcore.replay_eventlogentry`: without a right named, Django offers an action to whoever may
view the list."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext, gettext_lazy

from botcore.models import Bot, BotCommand, EventLogEntry
from botcore.services.bots import (
    broken_advice,
    operator_action_refusal,
    pause_bot,
    reprovision_bot,
    reprovision_refusal,
    resume_bot,
)
from botcore.services.eventlog import give_up_entries, replay_entries
from botcore.skills.registry import configured_skills
from botcore.vibe.events import EventType
from ops.redaction import redact_payload, redact_quoting
from vibeapp.admin_filters import autocomplete_filter, recent_filter
from vibeapp.admin_limits import refuse_too_many, warn_each_left

ERROR_SHOWN_CHARS = 80  # of an event's error in the log's list
# Re-provisionings queued by hand at once. Each holds a task queue worker while its calls wait for the app
# key's slots, and the sweep's own start no more than BOTCORE_PROVISIONING_CONCURRENCY: a select-all over
# 1,000 bots queued 946 of them, every worker held ahead of the bots' replies.
REPROVISION_LIMIT = 10


class KnownValuesFilter(admin.SimpleListFilter):
    """A filter of the event log on the field its parameter names, by values known without a query: Django's
    filter of a field's values read the distinct values of the whole log (SELECT DISTINCT over the table) on
    each opening of the list. A value not listed is still filtered on by its name in the URL."""

    def known_values(self) -> list[str]:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(value, value) for value in self.known_values()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[EventLogEntry]) -> QuerySet[EventLogEntry]:
        return queryset.filter(**{str(self.parameter_name): self.value()}) if self.value() else queryset


class EventTypeFilter(KnownValuesFilter):
    """The platform's event types (a type this client does not know: by its name in the URL)."""

    title = gettext_lazy("event type")
    parameter_name = "event_type"

    def known_values(self) -> list[str]:
        return [event_type.value for event_type in EventType]


class SkillFilter(KnownValuesFilter):
    """The configured skills: the log's search reads errors only (EventLogEntryAdmin.get_search_results), so a
    skill's events are found here (a skill no longer configured: by its name in the URL)."""

    title = gettext_lazy("skill")
    parameter_name = "skill"

    def known_values(self) -> list[str]:
        return [skill.name for skill in configured_skills()]


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
    list_filter = ["status", autocomplete_filter(gettext_lazy("portal"), "portal")]
    list_select_related = ["portal"]
    search_fields = ["name", "code", "platform_code", "portal__domain"]
    readonly_fields = [
        "portal",
        "code",
        "platform_code",
        "vibe_bot_id",
        "status",
        "status_note",
        "broken_reason",
        "what_to_do",
        "event_offset",
        "next_poll_at",
        "lease_until",
        "has_more",
        "last_polled_at",
        "last_event_at",
        "consecutive_failures",
        "last_error",
        "backoff_until",
        "provision_requested_at",
        "provisioned_at",
        "activated_at",
        "created_at",
    ]
    fields = ["name", "events", *readonly_fields]
    readonly_fields = ["events", *readonly_fields]
    inlines = [BotCommandInline]
    actions = ["pause_bots", "resume_bots", "reprovision_bots"]

    def has_add_permission(self, request):
        return False  # bots are provisioned when a portal installs

    def has_delete_permission(self, request, obj=None):
        return (
            False  # bots are retired by their portal's uninstall (which unregisters them), never deleted raw
        )

    @admin.display(description=gettext_lazy("what to do"))
    def what_to_do(self, bot: Bot) -> str:
        """Beside a broken bot's reason, what it means and what to do where the platform's words do not say
        (botcore.services.bots.broken_advice)."""
        return broken_advice(bot.broken_reason) if bot.status == Bot.Status.BROKEN else ""

    @admin.display(description=gettext_lazy("events"))
    def events(self, bot: Bot) -> str:
        """Its waiting and failed events, each linked to the event log: why a bot stopped answering is its
        oldest waiting event (listed first), or its failures."""
        log = reverse("admin:botcore_eventlogentry_changelist")
        counts = dict(
            EventLogEntry.objects.filter(
                bot=bot, status__in=[EventLogEntry.Status.RECEIVED, EventLogEntry.Status.FAILED]
            )
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        waiting = gettext("{count} waiting").format(count=counts.get(EventLogEntry.Status.RECEIVED, 0))
        failed = gettext("{count} failed").format(count=counts.get(EventLogEntry.Status.FAILED, 0))
        return format_html(
            '<a href="{}?bot={}&amp;status__exact=received&amp;o=8">{}</a>,'
            ' <a href="{}?bot={}&amp;status__exact=failed">{}</a>',
            log, bot.pk, waiting,
            log, bot.pk, failed,
        )  # fmt: skip

    def _apply(self, request: HttpRequest, queryset: QuerySet[Bot], act, done: str, refuse=None) -> None:
        """Apply `act` to each bot it can apply to; say how many it did, and why it left the others.
        `refuse(bot, operator=)`: why `act` cannot apply to a bot (without: operator_action_refusal)."""
        applied, left = 0, []
        operator = request.user.get_username()
        for bot in queryset.select_related("portal"):
            refusal = refuse(bot, operator=operator) if refuse else operator_action_refusal(bot)
            if refusal is not None or not act(bot, operator=operator):
                left.append(
                    refusal
                    or gettext("{domain}: {bot} left as it is").format(domain=bot.portal.domain, bot=bot)
                )
                continue
            applied += 1
        # a message each: 54 after pausing a fleet's bots
        warn_each_left(request, left, more=gettext("… and {count} more bots left as they were."))
        messages.info(request, done.format(count=applied))

    @admin.action(description=gettext_lazy("Pause polling"), permissions=["change"])
    def pause_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        self._apply(request, queryset, pause_bot, gettext("Paused {count} bot(s)."))

    @admin.action(description=gettext_lazy("Resume polling"), permissions=["change"])
    def resume_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        self._apply(request, queryset, resume_bot, gettext("Resumed {count} bot(s)."))

    @admin.action(
        description=gettext_lazy("Re-provision (register bot and commands again)"), permissions=["change"]
    )
    def reprovision_bots(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        why = gettext("Re-provisioning holds a task queue worker for each, ahead of the bots' replies")
        if refuse_too_many(request, queryset, limit=REPROVISION_LIMIT, why=why):
            return
        done = gettext("Re-provisioning {count} bot(s) in the background.")
        self._apply(request, queryset, reprovision_bot, done, refuse=reprovision_refusal)


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
        "error_start",
    ]
    list_filter = [
        "status",
        recent_filter(gettext_lazy("received"), "received_at"),
        EventTypeFilter,
        SkillFilter,
        autocomplete_filter(gettext_lazy("portal"), "bot__portal"),
        autocomplete_filter(gettext_lazy("bot"), "bot"),
    ]
    # The search reads errors, and only of the events that have one (get_search_results).
    search_fields = ["error"]
    search_help_text = gettext_lazy("Searches the events' errors (a skill's events: the skill filter).")
    # The payload and the error as stored, but for a secret an entry stored before secrets were redacted on
    # arrival keeps (an imbot webhook's auth block, a file link's token, and an error of then quoting one:
    # ops.redaction); shown where the fields stood.
    fields = [
        "bot",
        "vibe_bot_id",
        "vibe_event_id",
        "event_type",
        "shown_payload",
        "status",
        "skill",
        "shown_error",
        "attempts",
        "timed_out_attempts",
        "next_attempt_at",
        "occurred_at",
        "received_at",
        "handled_at",
        "duration_ms",
        "message_id",
    ]
    readonly_fields = [
        "bot",
        "vibe_event_id",
        "event_type",
        "shown_payload",
        "status",
        "skill",
        "shown_error",
        "attempts",
        "occurred_at",
        "received_at",
        "handled_at",
        "duration_ms",
    ]
    list_select_related = ["bot", "bot__portal"]
    # The log is the biggest table: no date_hierarchy (recent_filter says why), and no second COUNT(*) of the
    # whole log beside a filtered list's own ("3 of 800,000"), a scan of the table on PostgreSQL.
    show_full_result_count = False
    actions = ["replay_events", "give_up_events"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[EventLogEntry], search_term: str):
        """The events whose error holds the words, read by the index of the events that have an error
        (event_error_received_idx): the search of `error` and `skill` read every event's, a scan of the
        biggest table (0.59 s at 300,000 events on SQLite, the same again for the page's count)."""
        if not search_term.strip():
            return queryset, False
        return super().get_search_results(request, queryset.exclude(error=""), search_term)

    def has_delete_permission(self, request, obj=None):
        return False  # the delivery record: handled entries are pruned by the retention, the rest kept

    @admin.display(description=gettext_lazy("portal"), ordering="bot__portal__domain")
    def portal(self, entry: EventLogEntry):
        return entry.bot.portal

    @admin.display(description=gettext_lazy("payload"))
    def shown_payload(self, entry: EventLogEntry) -> str:
        return json.dumps(redact_payload(entry.payload), ensure_ascii=False)

    @admin.display(description=gettext_lazy("error"))
    def shown_error(self, entry: EventLogEntry) -> str:
        return redact_quoting(entry.error, entry.payload)

    @admin.display(description=gettext_lazy("error"))
    def error_start(self, entry: EventLogEntry) -> str:
        """Why it failed (or waits), at a glance; the entry's page has all of it."""
        return Truncator(self.shown_error(entry)).chars(ERROR_SHOWN_CHARS)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.replay_{opts.model_name}")

    @admin.action(
        description=gettext_lazy(
            "Give up on waiting events (their bots go on to later ones; replay brings them back)"
        ),
        permissions=["replay"],
    )
    def give_up_events(self, request: HttpRequest, queryset: QuerySet[EventLogEntry]) -> None:
        given_up = give_up_entries(queryset, operator=request.user.get_username())
        messages.info(
            request,
            gettext("Gave up on {count} waiting event(s): their bots go on to their later events.").format(
                count=given_up
            ),
        )
        if left := queryset.count() - given_up:
            messages.warning(
                request, gettext("{count} event(s) not waiting left as they are.").format(count=left)
            )

    @admin.action(description=gettext_lazy("Replay failed events (handle again)"), permissions=["replay"])
    def replay_events(self, request: HttpRequest, queryset: QuerySet[EventLogEntry]) -> None:
        count, malformed, settled, retired = replay_entries(queryset, operator=request.user.get_username())
        replayed = gettext("{count} failed event(s) will be handled again on their bot's next cycle.")
        messages.info(request, replayed.format(count=count))
        if retired:
            text = gettext(
                "{count} failed event(s) of retired bots left as they are: their portal uninstalled the"
                " app, so no cycle of theirs will come."
            )
            messages.warning(request, text.format(count=retired))
        if settled:
            text = gettext(
                "{count} handled or ignored event(s) left as they are: handled again they would go"
                " through today's skills and routing, not the ones that saw them."
            )
            messages.warning(request, text.format(count=settled))
        if malformed:
            text = gettext(
                "{count} malformed event(s) left as they are: their payload cannot be read, so a replay"
                " would only fail again. The error column says what is wrong with each."
            )
            messages.warning(request, text.format(count=malformed))
