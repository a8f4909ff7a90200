"""The django-q2 schedules botcore needs, created or updated idempotently by name."""

from __future__ import annotations

from django.utils import timezone
from django_q.models import Schedule

SCHEDULES = {
    "botcore.prune_event_log": dict(func="botcore.tasks.prune_event_log", schedule_type=Schedule.HOURLY),
    # Retention of the other tables that grow; see botcore/retention.py.
    **{
        f"botcore.{name}": dict(func=f"botcore.retention.{name}", schedule_type=Schedule.HOURLY)
        for name in (
            "prune_skill_runs",
            "prune_action_records",
            "prune_conversation_states",
            "prune_failed_tasks",
            "prune_bot_chats",
        )
    },
    # Skills' schedules (portal-local cron times) are claimed by this one sweep (services/skill_schedules.py).
    "botcore.sweep_skill_schedules": dict(
        func="botcore.tasks.sweep_skill_schedules", schedule_type=Schedule.MINUTES, minutes=1
    ),
    # Installed portals still without their bot (a provisioning that met a passing failure, or never ran).
    "botcore.sweep_pending_bots": dict(
        func="botcore.tasks.sweep_pending_bots", schedule_type=Schedule.MINUTES, minutes=1
    ),
    # Bots' commands brought to the skills' (a deploy that adds or removes a skill changes every portal's).
    "botcore.sync_stale_commands": dict(
        func="botcore.tasks.sync_stale_commands", schedule_type=Schedule.HOURLY
    ),
}
# Due at once whenever ensure_schedules runs, which every deploy path does (migrate in compose, every qcluster
# as it starts: the unit's ExecStartPre, compose's command; runstack): what a deploy changed is applied within
# the cluster's next minute. Made due only before the old release's clusters stop, one of them took it (the
# old skills' commands) and the new ones were left for the hour.
DUE_AT_DEPLOY = {"botcore.sync_stale_commands"}


def ensure_schedules() -> None:
    now = timezone.now()
    for name, spec in SCHEDULES.items():
        due = {"next_run": now} if name in DUE_AT_DEPLOY else {}
        Schedule.objects.update_or_create(name=name, defaults={**spec, **due, "repeats": -1})
