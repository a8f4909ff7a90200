"""django-q2 tasks of the skills layer: load, call one service, return (names are persisted: keep them)."""

from __future__ import annotations

from botcore.skills.events import BackendEventType
from tenants.models import Portal


def sweep_skill_schedules() -> int:
    """Every minute (botcore/schedules.py): claim due scheduled runs, re-enqueue waiting ones."""
    from botcore.skills.scheduling import sweep_schedules

    return sweep_schedules()


def execute_skill_run(run_id: int) -> str:
    from botcore.services.executor import execute_run

    return execute_run(run_id)


def announce_portal_uninstalled(portal_id: int, reason: str = "") -> int:
    from botcore.skills.runs import announce_portal_event

    portal = Portal.objects.filter(pk=portal_id).first()
    return announce_portal_event(portal, BackendEventType.PORTAL_UNINSTALLED, reason=reason) if portal else 0


def sync_bot_commands(portal_id: int) -> None:
    """Re-register the portal's bot commands after a skill was turned on or off."""
    from botcore.services.bots import sync_portal_commands

    sync_portal_commands(Portal.objects.get(pk=portal_id))
