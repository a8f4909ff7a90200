"""Signals ops listens to: finished tasks (qcluster heartbeat), finished events (event metrics), writes left
in doubt (botcore.skills.signals), the platform's answers and the best-effort calls held or dropped
(botcore.vibe.hooks: the client does not know ops counts them).

The event log entry's save after handling is the one moment an event's outcome, type and timings are all
known; listening here keeps the dispatcher free of metrics code.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver
from django_q.signals import post_execute, post_execute_in_worker, pre_execute

from botcore.models import EventLogEntry
from botcore.skills.signals import write_in_doubt
from botcore.vibe.hooks import on_held_call, on_platform_response
from ops.heartbeat import record_heartbeat
from ops.logs import bind_log_context, clear_log_context
from ops.metrics import (
    record_event_finished,
    record_held_call,
    record_platform_response,
    record_write_in_doubt,
)
from ops.models import Heartbeat

# Answers by status class and 429s, counted for every call the client makes in this process.
on_platform_response(record_platform_response)
# What became of each best-effort call without room in the budget (a reaction held, sent late or dropped).
on_held_call(record_held_call)


@receiver(post_execute, dispatch_uid="ops.qcluster_heartbeat")
def beat_after_task(sender, task, **kwargs) -> None:
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER)


@receiver(pre_execute, dispatch_uid="ops.task_log_context")
def bind_task_log_context(sender, func, task, **kwargs) -> None:
    """Each task in a worker starts with a fresh log context naming it (and the bot, for a poll cycle)."""
    clear_log_context()
    name = func if isinstance(func, str) else getattr(func, "__name__", "")
    args = task.get("args") or ()
    bind_log_context(
        task=str(name).rsplit(".", 1)[-1], bot=args[0] if name.endswith("poll_bot") and args else None
    )


@receiver(post_execute_in_worker, dispatch_uid="ops.task_log_context_end")
def clear_task_log_context(sender, func, task, **kwargs) -> None:
    """A task's context ends with it: the process's later lines (a test's own calls) must not name it."""
    clear_log_context()


@receiver(post_save, sender=EventLogEntry, dispatch_uid="ops.event_finished")
def count_finished_event(
    sender, instance: EventLogEntry, created: bool, update_fields=None, **kwargs
) -> None:
    if (
        created
        or not update_fields
        or "status" not in update_fields
        or instance.status == EventLogEntry.Status.RECEIVED
    ):
        return
    finished = instance.handled_at
    record_event_finished(
        event_type=instance.event_type,
        outcome=instance.status,
        handler_seconds=(finished - instance.received_at).total_seconds()
        if finished and instance.received_at
        else None,
        age_seconds=(finished - instance.occurred_at).total_seconds()
        if finished and instance.occurred_at
        else None,
    )


@receiver(write_in_doubt, dispatch_uid="ops.write_in_doubt")
def count_write_in_doubt(sender, write: str, outcome: str, **kwargs) -> None:
    record_write_in_doubt(write=write, outcome=outcome)
