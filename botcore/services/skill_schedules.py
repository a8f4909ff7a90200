"""Skills' schedules: one django-q2 Schedule runs sweep_schedules every minute, which claims each due
(portal, skill, schedule) firing as a SkillRun and enqueues it.

- Times are read on each portal's clock (tenants' PortalSettings.timezone; an unknown zone reads as UTC).
  Across daylight saving each local firing fires once: a repeated time at its first passing, a skipped
  one at the first minute after the gap.
- A firing is claimed by inserting SkillRun(run_key="schedule:<name>:<UTC due time>"), unique per portal
  and skill: two qclusters sweeping at once, or a sweep repeated, claim it once.
- Restarts: the sweep looks back BOTCORE_SCHEDULE_CATCH_UP_MINUTES (default 15), so a firing missed while
  nothing ran is made late, once; older ones are let go rather than piling up.
- The same sweep re-enqueues runs that are due again (retried after a passing failure) or whose task got
  lost, and hands back runs whose worker died mid-run: at once when that process is seen gone
  (SkillRun.worker, botcore.worker_liveness, as a dead poll cycle's bot), else once RUNNING past the lease
  (BOTCORE_LEASE_SECONDS).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from botcore import conf
from botcore.models import SkillConfig, SkillRun
from botcore.selectors import running_bots
from botcore.services.chats_notice import retry_chats_notices
from botcore.services.doubt_notices import send_doubt_notices
from botcore.services.executor import (
    RUN_TIMED_OUT_ADVICE,
    catch_up_ends,
    may_try_again,
    unfinished_attempts_error,
)
from botcore.services.notices import retry_failed_run_notices, tell_admins_of_failed_run
from botcore.services.skill_runs import claim_run, enqueue_run
from botcore.skills.base import Skill
from botcore.skills.cron import UTC, CronError, CronExpression, portal_zone
from botcore.skills.registry import configured_skills, find_skill
from botcore.worker_liveness import find_gone_workers
from tenants.models import Portal, PortalSettings
from tenants.selectors import map_portal_timezones

log = logging.getLogger(__name__)

DAY = timedelta(days=1)


def run_timeout_seconds() -> float:
    """A RUNNING run older than this lost its worker: the task queue kills any task sooner (the same lease
    that guards a poll cycle, botcore.conf.lease_seconds, outlasts the queue's timeout)."""
    return conf.lease_seconds()


@lru_cache(maxsize=512)
def _cron(text: str) -> CronExpression:
    return CronExpression.parse(text)


def latest_firing(
    cron: CronExpression, zone: ZoneInfo, *, after: datetime, until: datetime
) -> datetime | None:
    """The last minute in (after, until] at which `cron` fires on `zone`'s clock, as a UTC instant.

    Each local firing fires once across daylight saving: a wall-clock time the clocks pass twice fires at its
    first passing only, and one they skip fires at the first minute after the gap (several skipped firings
    of one schedule share that minute rather than piling up).
    """
    minute = until.astimezone(UTC).replace(second=0, microsecond=0)
    while minute > after:
        if _fires_at(cron, zone, minute):
            return minute
        minute -= timedelta(minutes=1)
    return None


def _fires_at(cron: CronExpression, zone: ZoneInfo, minute: datetime) -> bool:
    local = minute.astimezone(zone)
    # fold=1 marks the second passing of a repeated wall-clock time (PEP 495).
    if local.fold == 0 and cron.matches(local):
        return True
    wall = local.replace(tzinfo=None, fold=0)
    skipped = (minute - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None, fold=0)
    skipped += timedelta(minutes=1)
    while skipped < wall:  # only after clocks jumped forward: the wall minutes that never existed
        if cron.matches(skipped):
            return True
        skipped += timedelta(minutes=1)
    return False


def sweep_schedules(now: datetime | None = None) -> int:
    """Claim and enqueue every firing due since the catch-up window began; returns how many were claimed."""
    now = now or timezone.now()
    after = now - timedelta(minutes=conf.schedule_catch_up_minutes())
    skills = [skill for skill in configured_skills() if skill.has_schedules()]
    claimed = 0
    if skills:
        portal_ids = list(
            # A bot waiting for a session is left out: when it returns within the catch-up window, the
            # firing is made then instead of failing now.
            running_bots()
            .exclude(portal__status=Portal.Status.UNINSTALLED)
            .values_list("portal_id", flat=True)
            .distinct()
        )
        configs = {
            (c.portal_id, c.skill_name): c
            for c in SkillConfig.objects.filter(
                portal_id__in=portal_ids, skill_name__in=[s.name for s in skills]
            )
        }
        zones = map_portal_timezones(portal_ids)
        changed = _changed_since(after, configs, portal_ids, skills)
        existing = set(
            SkillRun.objects.filter(kind=SkillRun.Kind.SCHEDULED, due_at__gt=after).values_list(
                "portal_id", "skill_name", "run_key"
            )
        )
        if changed:  # their firings of today, before the window, may come late: what ran of them is known
            existing |= set(
                SkillRun.objects.filter(
                    kind=SkillRun.Kind.SCHEDULED, portal_id__in={p for p, _ in changed}, due_at__gt=now - DAY
                ).values_list("portal_id", "skill_name", "run_key")
            )
        for portal_id in portal_ids:
            zone = portal_zone(zones.get(portal_id, "UTC"))
            for skill in skills:
                config = configs.get((portal_id, skill.name))
                if not (config.is_enabled if config is not None else skill.enabled_by_default):
                    continue
                options = skill.options_schema.resolve(config.options if config is not None else None)
                late_since = _local_midnight(now, zone) if (portal_id, skill.name) in changed else None
                claimed += _claim_due(
                    skill, portal_id, options, zone, after=after, now=now, existing=existing,
                    late_since=late_since,
                )  # fmt: skip
    _requeue(now)
    retry_failed_run_notices(now)
    retry_chats_notices(now)  # a move's, due again: the notices' minute sweep is this one
    send_doubt_notices(now)
    return claimed


def _changed_since(
    after: datetime, configs, portal_ids: list[int], skills: list[Skill]
) -> set[tuple[int, str]]:
    """The (portal, skill) pairs of `skills` whose options or whose portal's time zone changed within the
    window: their `late_after_change` schedules fire today's firing even if it is now before the window."""
    changed = {key for key, config in configs.items() if config.updated_at > after}
    moved = set(
        PortalSettings.objects.filter(portal_id__in=portal_ids, updated_at__gt=after).values_list(
            "portal_id", flat=True
        )
    )
    changed |= {(portal_id, skill.name) for portal_id in moved for skill in skills}
    return changed


def _local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of `now`'s day on `zone`'s clock, as a UTC instant, less a minute (latest_firing's window
    is open at its start)."""
    local = now.astimezone(zone)
    start = datetime.combine(local.date(), time(0, 0), tzinfo=zone)
    return start.astimezone(UTC) - timedelta(minutes=1)


def _claim_due(
    skill: Skill, portal_id: int, options, zone: ZoneInfo, *, after, now, existing, late_since=None
) -> int:
    claimed = 0
    for spec in skill.schedules_for(options):
        try:
            cron = _cron(spec.cron)
        except CronError as error:
            log.error(
                "skill %s schedule %s portal=%s has a bad cron: %s", skill.name, spec.name, portal_id, error
            )
            continue
        since = min(after, late_since) if spec.late_after_change and late_since is not None else after
        due = latest_firing(cron, zone, after=since, until=now)
        if due is None:
            continue
        key = f"schedule:{spec.name}:{due.isoformat()}"
        if (portal_id, skill.name, key) in existing:
            continue
        payload = {
            "schedule": spec.name,
            "due_at": due.isoformat(),
            "local_due_at": due.astimezone(zone).isoformat(),
            # The zone's rules, not only its offset then: a skill's arithmetic on the portal's clock (the
            # summary's time after the question's) crosses a daylight-saving change right (build_event).
            "timezone": zone.key,
        }
        run = claim_run(
            portal_id=portal_id,
            skill_name=skill.name,
            kind=SkillRun.Kind.SCHEDULED,
            run_key=key,
            payload=payload,
            due_at=due,
            at=now,
        )
        if run is not None:
            enqueue_run(run, at=now)
            claimed += 1
            log.info(
                "scheduled run claimed skill=%s schedule=%s portal=%s due=%s",
                skill.name,
                spec.name,
                portal_id,
                key,
            )
    return claimed


def _worker_died(running: QuerySet[SkillRun], now: datetime) -> Q:
    """The running runs whose worker is gone: its process proven gone (worker_liveness.find_gone_workers,
    as a dead poll cycle's is), handed back at this sweep; or, where that cannot be proven (a row of the
    release before, which names no worker; a pid in use again), started longer ago than any task lives."""
    workers = running.exclude(worker="").values_list("worker", flat=True).distinct()
    gone = Q(started_at__lt=now - timedelta(seconds=run_timeout_seconds()))
    for prefix in find_gone_workers(set(workers), now=now).token_prefixes():
        gone |= Q(worker__startswith=prefix)
    return gone


def _requeue(now: datetime) -> None:
    """Enqueue runs due again or never picked up, and hand back those whose worker died."""
    running = SkillRun.objects.filter(status=SkillRun.Status.RUNNING)
    died = running.filter(_worker_died(running, now))
    for run in died.filter(attempts__gte=conf.handle_max_attempts()).select_related("portal"):
        if may_try_again(run.attempts, until=catch_up_ends(run), now=now):
            continue  # its catch-up window is still open: handed back below, as a run with attempts left
        failed = SkillRun.objects.filter(pk=run.pk, status=SkillRun.Status.RUNNING).update(
            status=SkillRun.Status.FAILED,
            finished_at=now,
            error=unfinished_attempts_error(run.attempts, advice=RUN_TIMED_OUT_ADVICE),
        )
        skill = find_skill(run.skill_name)
        if failed and run.kind == SkillRun.Kind.SCHEDULED and skill is not None:
            tell_admins_of_failed_run(run, skill, cause=None)  # this sweep failed it: nobody else will tell
    died.update(status=SkillRun.Status.PENDING, enqueued_at=None)
    lost = now - timedelta(minutes=5)
    waiting = SkillRun.objects.filter(status=SkillRun.Status.PENDING, due_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=lost)
    )
    for run in waiting.order_by("due_at", "pk")[:500]:  # in the order they are due, ties as they were made
        enqueue_run(run, at=now)
