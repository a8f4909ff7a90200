"""The django-q2 schedules tenants needs, created or updated idempotently by name."""

from __future__ import annotations

from django_q.models import Schedule

SCHEDULES = {
    "tenants.warn_expiring_sessions": dict(
        func="tenants.tasks.warn_expiring_sessions", schedule_type=Schedule.MINUTES, minutes=5
    ),
    "tenants.purge_uninstalled_portals": dict(
        func="tenants.tasks.purge_uninstalled_portals", schedule_type=Schedule.HOURLY
    ),
    "tenants.clear_expired_sessions": dict(
        func="tenants.tasks.clear_expired_sessions", schedule_type=Schedule.HOURLY
    ),
}


def ensure_schedules() -> None:
    for name, spec in SCHEDULES.items():
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
