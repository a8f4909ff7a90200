"""Prunes by age the tables that grow with use: skill runs, action records, conversation states, failed tasks.

Each function is a django-q2 task run on a schedule (botcore/schedules.py) and returns how many rows it
deleted. The event log is pruned by botcore.tasks.prune_event_log and expired sessions by tenants.tasks.
Runs still pending or running are never pruned, whatever their age.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django_q.models import Failure

from botcore import conf
from botcore.models import ActionRecord, ConversationState, SkillRun

log = logging.getLogger(__name__)

_FINISHED = (SkillRun.Status.DONE, SkillRun.Status.FAILED, SkillRun.Status.SKIPPED)


def _cutoff(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def prune_skill_runs() -> int:
    cutoff = _cutoff(conf.skill_run_retention_days())
    old = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    deleted, _ = SkillRun.objects.filter(old, status__in=_FINISHED).delete()
    log.info("skill runs pruned: %s finished before %s", deleted, cutoff.isoformat())
    return deleted


def prune_action_records() -> int:
    cutoff = _cutoff(conf.action_record_retention_days())
    deleted, _ = ActionRecord.objects.filter(created_at__lt=cutoff).delete()
    log.info("action records pruned: %s made before %s", deleted, cutoff.isoformat())
    return deleted


def prune_conversation_states() -> int:
    cutoff = _cutoff(conf.conversation_state_retention_days())
    deleted, _ = ConversationState.objects.filter(updated_at__lt=cutoff).delete()
    log.info("conversation states pruned: %s untouched since %s", deleted, cutoff.isoformat())
    return deleted


def prune_failed_tasks() -> int:
    cutoff = _cutoff(conf.failed_task_retention_days())
    deleted, _ = Failure.objects.filter(stopped__lt=cutoff).delete()
    log.info("failed task rows pruned: %s stopped before %s", deleted, cutoff.isoformat())
    return deleted
