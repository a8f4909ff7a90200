"""Prunes the tables that grow with use: by age skill runs, action records, conversation states, failed tasks;
and the group chats of platform bots no live bot row points at any more.

Each function is a django-q2 task run on a schedule (botcore/schedules.py) and returns how many rows it
deleted, a batch at a time (delete_in_batches). The event log is pruned by botcore.tasks.prune_event_log
(with the same batches) and expired sessions by tenants.tasks. Runs still pending or running are never
pruned, whatever their age.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django_q.models import Failure

from botcore import conf
from botcore.models import ActionRecord, Bot, BotChat, ConversationState, SkillRun

log = logging.getLogger(__name__)

_FINISHED = (SkillRun.Status.DONE, SkillRun.Status.FAILED, SkillRun.Status.SKIPPED)

# Rows deleted per statement, each in its own transaction: one DELETE of 160,000 event log entries held
# SQLite's one write lock for 5.6 s (every reply waited), and a backlog near a million would outlast the 30 s
# busy timeout and fail every writer meanwhile. Between batches the other processes write.
PRUNE_BATCH = 5000


def _cutoff(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def delete_in_batches(rows: QuerySet[Any]) -> int:
    """Delete `rows` PRUNE_BATCH at a time, each batch its own statement and transaction; how many."""
    deleted = 0
    while True:
        batch = list(rows.values_list("pk", flat=True)[:PRUNE_BATCH])
        if not batch:
            return deleted
        count, _ = rows.model._default_manager.filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < PRUNE_BATCH:
            return deleted


def prune_skill_runs() -> int:
    cutoff = _cutoff(conf.skill_run_retention_days())
    old = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    deleted = delete_in_batches(SkillRun.objects.filter(old, status__in=_FINISHED))
    log.info("skill runs pruned: %s finished before %s", deleted, cutoff.isoformat())
    return deleted


def prune_action_records() -> int:
    cutoff = _cutoff(conf.action_record_retention_days())
    deleted = delete_in_batches(ActionRecord.objects.filter(created_at__lt=cutoff))
    log.info("action records pruned: %s made before %s", deleted, cutoff.isoformat())
    return deleted


def prune_conversation_states() -> int:
    cutoff = _cutoff(conf.conversation_state_retention_days())
    deleted = delete_in_batches(ConversationState.objects.filter(updated_at__lt=cutoff))
    log.info("conversation states pruned: %s untouched since %s", deleted, cutoff.isoformat())
    return deleted


def prune_failed_tasks() -> int:
    cutoff = _cutoff(conf.failed_task_retention_days())
    deleted = delete_in_batches(Failure.objects.filter(stopped__lt=cutoff))
    log.info("failed task rows pruned: %s stopped before %s", deleted, cutoff.isoformat())
    return deleted


def prune_bot_chats() -> int:
    """The chats joined by a platform bot that no live bot row points at (models.BotChat): its bot is retired
    (its portal uninstalled the app: a reinstall registers a new platform bot, which is in none of them and
    owes its admins no notice of them), or it points at another platform bot (moved off it, or refused and
    awaiting a new one). Only the current platform bot's are read, by the chat picker (directory.py) and by
    the notice of a move off it (chats_notice.py); a move deletes its old bot's in its own update, but a
    retired bot's were kept until its portal was purged, and joins its drain stored after that stayed for
    good."""
    gone = Q(bot__status=Bot.Status.RETIRED) | Q(bot__vibe_bot_id__isnull=True)
    # Not `~Q(vibe_bot_id=F(...))`: a negation over the joined column is left to SQL's NULL rules.
    other = Q(vibe_bot_id__lt=F("bot__vibe_bot_id")) | Q(vibe_bot_id__gt=F("bot__vibe_bot_id"))
    deleted = delete_in_batches(BotChat.objects.filter(gone | other))
    log.info("bot chats pruned: %s of platform bots no live bot points at", deleted)
    return deleted
