"""Django admin for operators: skill switches, skill runs (filter, run again), conversation states."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from botcore.models import ConversationState, SkillConfig, SkillRun
from botcore.services.skill_runs import enqueue_run
from vibeapp.admin_filters import autocomplete_filter, recent_filter
from vibeapp.admin_limits import refuse_too_many

# Runs run again at once, each a task (an operator trial's select-all over 99,000 runs took 232 s, queued
# every one ahead of the bots' replies, and was past the web worker's timeout from 13,000 on).
RUN_AGAIN_LIMIT = 200


@admin.register(SkillRun)
class SkillRunAdmin(admin.ModelAdmin):
    list_display = ["skill_name", "kind", "run_key", "portal", "status", "attempts", "due_at", "finished_at"]
    list_filter = [
        "status",
        recent_filter(gettext_lazy("due"), "due_at"),
        "kind",
        "skill_name",
        autocomplete_filter(gettext_lazy("portal"), "portal"),
    ]
    search_fields = ["portal__domain", "run_key", "error"]
    readonly_fields = [
        "portal", "skill_name", "kind", "run_key", "payload", "status", "attempts", "due_at", "enqueued_at",
        "started_at", "finished_at", "error", "notice_due_at", "created_at",
    ]  # fmt: skip
    list_select_related = ["portal"]
    show_full_result_count = False  # as the event log's (botcore/admin/bots.py): no COUNT(*) of every run
    actions = ["run_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A scheduled run's row is its firing's claim: deleted, the next sweep fires it again; finished runs
        # are pruned by the retention (BOTCORE_SKILL_RUN_RETENTION_DAYS).
        return False

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.rerun_{opts.model_name}")

    @admin.action(
        description=gettext_lazy("Run again (posts already made are not repeated)"), permissions=["rerun"]
    )
    def run_again(self, request: HttpRequest, queryset: QuerySet[SkillRun]) -> None:
        why = gettext("Running again queues a task for each, ahead of the bots' replies")
        if refuse_too_many(request, queryset, limit=RUN_AGAIN_LIMIT, why=why):
            return
        runs = list(queryset.exclude(status=SkillRun.Status.RUNNING))
        for run in runs:
            SkillRun.objects.filter(pk=run.pk).update(
                status=SkillRun.Status.PENDING, attempts=0, timed_out_attempts=0, error="",
                started_at=None, finished_at=None,
                notice_text="", notice_facts=None, notice_due_at=None,  # it tells of its own failure anew
            )  # fmt: skip
            enqueue_run(run)
        messages.info(request, gettext("{count} run(s) enqueued again.").format(count=len(runs)))


@admin.register(ConversationState)
class ConversationStateAdmin(admin.ModelAdmin):
    """People's words live in these states (standup answers): operators see which exist, not what they say."""

    list_display = ["skill_name", "dialog_id", "portal", "version", "keys", "updated_at"]
    list_filter = ["skill_name"]
    search_fields = ["portal__domain", "dialog_id"]
    fields = readonly_fields = ("portal", "skill_name", "dialog_id", "version", "keys", "updated_at")
    list_select_related = ["portal"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("keys"))
    def keys(self, state: ConversationState) -> str:
        return ", ".join(sorted(state.data)) if isinstance(state.data, dict) else ""


@admin.register(SkillConfig)
class SkillConfigAdmin(admin.ModelAdmin):
    """Read-only: a portal's skills are its admin's to set, on the portal's pages, which check the options
    against the skill's schema and re-register the commands (an operator's raw edit did neither: an outside
    trial saved an unknown skill and a standup without a chat)."""

    list_display = ["skill_name", "portal", "is_enabled", "updated_at"]
    list_filter = ["skill_name", "is_enabled", autocomplete_filter(gettext_lazy("portal"), "portal")]
    list_select_related = ["portal"]
    search_fields = ["portal__domain", "skill_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
