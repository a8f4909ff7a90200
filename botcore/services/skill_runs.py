"""Backend runs of skills (install/uninstall, scheduled runs, deferred jobs): claim, enqueue, describe.

A run is a SkillRun row inserted under a unique (portal, skill, run_key) before anything acts on it, so two
schedulers or a re-handled event claim it once; botcore.services.executor runs it (once, by compare-and-set)
and sends a run that met a passing trouble back to PENDING with a later due_at; the minute sweep
(scheduling.py) enqueues it again, as it does a run whose worker died.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from botcore.models import SkillRun
from botcore.selectors import list_enabled_skills
from botcore.skills.cron import read_on_clock
from botcore.skills.events import (
    BackendEvent,
    BackendEventType,
    DeferredJobEvent,
    PortalInstalledEvent,
    PortalUninstalledEvent,
    ScheduledRunEvent,
)
from botcore.vibe.parse import parse_event
from tenants.models import Portal

log = logging.getLogger(__name__)

KIND_OF_TYPE = {
    BackendEventType.PORTAL_INSTALLED: SkillRun.Kind.INSTALLED,
    BackendEventType.PORTAL_UNINSTALLED: SkillRun.Kind.UNINSTALLED,
}


def _short_key(run_key: str) -> str:
    if len(run_key) <= 200:
        return run_key
    return run_key[:150] + ":" + hashlib.sha256(run_key.encode()).hexdigest()[:40]


def claim_run(
    *,
    portal_id: int,
    skill_name: str,
    kind: str,
    run_key: str,
    payload: Mapping[str, Any],
    due_at: datetime | None = None,
    at: datetime | None = None,
    enqueued: bool = True,
) -> SkillRun | None:
    """Insert the run; None when it is already claimed (by another scheduler, or an earlier handling).

    The caller enqueues it next (enqueue_run), so it is born enqueued at `at` (now): another sweep never
    takes it for a lost one meanwhile, and if this process dies first, the sweep enqueues it later.
    `enqueued=False`: a run due later, which the minute sweep enqueues once it is due.
    """
    now = at or timezone.now()
    try:
        with transaction.atomic():
            return SkillRun.objects.create(
                portal_id=portal_id,
                skill_name=skill_name,
                kind=kind,
                run_key=_short_key(run_key),
                payload=dict(payload),
                due_at=due_at or now,
                enqueued_at=now if enqueued else None,
            )
    except IntegrityError:
        return None


def enqueue_run(run: SkillRun, *, at: datetime | None = None) -> None:
    """Hand the run to a task queue worker once the transaction commits; `at`: the sweep's now."""
    SkillRun.objects.filter(pk=run.pk).update(enqueued_at=at or timezone.now())
    transaction.on_commit(
        lambda: async_task("botcore.tasks.execute_skill_run", run.pk, task_name=f"skill-run-{run.pk}")
    )


def defer_job(
    skill_name: str,
    job: str,
    data: dict[str, Any],
    key: str,
    origin: Mapping[str, Any] | None,
    *,
    portal_id: int,
    due_at: datetime | None = None,
) -> None:
    """What ctx.defer() and ctx.defer_at() do: one DEFERRED run per key, enqueued at once, or (due later)
    by the minute sweep (skill_schedules._requeue) once `due_at` has come."""
    now = timezone.now()
    planned = due_at if due_at is not None and due_at > now else now
    later = planned > now
    run = claim_run(
        portal_id=portal_id,
        skill_name=skill_name,
        kind=SkillRun.Kind.DEFERRED,
        run_key=key,
        payload={
            "job": job,
            "data": data,
            "origin": dict(origin) if origin is not None else None,
            # Its planned time, which retries keep (they move due_at): passing troubles are retried until
            # the catch-up window after it has passed (executor.catch_up_ends).
            "due_at": planned.isoformat(),
        },
        due_at=planned if later else None,
        enqueued=not later,
    )
    if run is not None and not later:
        enqueue_run(run)


def announce_portal_event(portal: Portal, event_type: BackendEventType, *, reason: str = "") -> int:
    """Give every enabled skill that declares `event_type` (install/uninstall) its run; returns how many."""
    stamp = portal.installed_at if event_type is BackendEventType.PORTAL_INSTALLED else portal.uninstalled_at
    key = f"{event_type.value.lower()}:{(stamp or timezone.now()).isoformat()}"
    count = 0
    for skill, _ in list_enabled_skills(portal):
        if event_type not in skill.event_types:
            continue
        run = claim_run(
            portal_id=portal.pk,
            skill_name=skill.name,
            kind=KIND_OF_TYPE[event_type],
            run_key=key,
            payload={"reason": reason},
        )
        if run is not None:
            enqueue_run(run)
            count += 1
    return count


def build_event(run: SkillRun, *, language: str) -> BackendEvent:
    common = {
        "portal_member_id": run.portal.member_id,
        "run_key": run.run_key,
        "language": language,
        "raw": run.payload,
    }
    payload = run.payload
    if run.kind == SkillRun.Kind.SCHEDULED:
        return ScheduledRunEvent(
            schedule=payload["schedule"],
            due_at=datetime.fromisoformat(payload["due_at"]),
            local_due_at=read_on_clock(payload["local_due_at"], payload.get("timezone", "")),
            **common,
        )
    if run.kind == SkillRun.Kind.DEFERRED:
        origin = payload.get("origin")
        return DeferredJobEvent(
            job=payload["job"],
            data=payload.get("data") or {},
            origin=parse_event(origin) if origin else None,
            **common,
        )
    if run.kind == SkillRun.Kind.UNINSTALLED:
        return PortalUninstalledEvent(reason=payload.get("reason", ""), **common)
    return PortalInstalledEvent(**common)
