"""The django-q2 schedules ops needs, created or updated idempotently by name."""

from __future__ import annotations

from django_q.models import Schedule

SCHEDULES = {
    "ops.beat_qcluster": dict(func="ops.heartbeat.beat_qcluster", schedule_type=Schedule.MINUTES, minutes=1),
}


def ensure_schedules() -> None:
    for name, spec in SCHEDULES.items():
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
