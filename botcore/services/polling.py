"""One poll cycle of one bot: fetch, store with the new offset in one transaction, route, schedule the next."""
from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from botcore import conf
from botcore.models import Bot, EventLogEntry
from botcore.services import bots as bot_services
from botcore.services.dispatch import handle_pending
from botcore.services.platform import client_for_portal
from botcore.vibe.errors import (
    VibeAuthError,
    VibeError,
    VibeForbiddenError,
    VibeNotFoundError,
    VibeRateLimitError,
    VibeSessionExpiredError,
)
from botcore.vibe.events import as_datetime, as_int
from botcore.vibe.models import EventBatch
from ops.metrics import record_events_stored
from tenants import services as tenant_services
from tenants.errors import SessionTokenError

log = logging.getLogger(__name__)

BROKEN_BOT_CODES = {"BOT_NOT_FOUND", "BOT_ACCESS_DENIED", "BOT_OWNERSHIP_ERROR", "INVALID_BOT_ID"}


@dataclass(frozen=True)
class CycleOutcome:
    status: str  # "polled" | "skipped" | "rate_limited" | "backoff" | "no_session" | "broken" | "not_active"
    stored: int = 0
    handled: int = 0


def _lock_bot(bot_id: int) -> Bot:
    query = Bot.objects.select_related("portal")
    if connection.features.has_select_for_update:
        query = query.select_for_update()
    return query.get(pk=bot_id)


def _holds_lease(bot: Bot, lease_token: str | None) -> bool:
    return lease_token is None or bot.lease_token == lease_token


def _next_interval(bot: Bot, *, had_events: bool) -> float:
    """Adaptive cadence: fast right after activity, slowing towards the ceiling as the bot stays quiet."""
    fast, slow = conf.poll_fast_seconds(), conf.poll_slow_seconds()
    if had_events or bot.has_more:
        return 0.0 if bot.has_more else fast
    if bot.last_event_at is None:
        return slow
    quiet = (timezone.now() - bot.last_event_at).total_seconds()
    return min(slow, max(fast, quiet / 4))


def _schedule(bot_id: int, *, lease_token: str | None, delay: float, **fields) -> None:
    """Set when the next cycle is due and release this cycle's lease (only if it is still ours)."""
    query = Bot.objects.filter(pk=bot_id)
    if lease_token is not None:
        query = query.filter(lease_token=lease_token)
    query.update(next_poll_at=timezone.now() + timedelta(seconds=delay), lease_token="", lease_until=None, **fields)


def _backoff_delay(failures: int) -> float:
    """Exponential backoff with full jitter, capped."""
    return random.uniform(0, min(conf.backoff_max_seconds(), conf.poll_fast_seconds() * (2 ** min(failures, 16))))


def store_batch(bot_id: int, batch: EventBatch, *, lease_token: str | None) -> int | None:
    """Insert the batch into the event log and move the offset, in one transaction.

    Returns how many entries were new, or None when the lease was lost to another cycle meanwhile
    (nothing is stored then: that cycle owns the bot now).
    """
    raw_events = batch.raw.get("events")
    items = list(raw_events) if isinstance(raw_events, list) else []
    now = timezone.now()
    with transaction.atomic():
        bot = _lock_bot(bot_id)
        if not _holds_lease(bot, lease_token):
            return None
        entries = []
        for item in items:
            event_id = as_int(item.get("eventId"), -1) if isinstance(item, dict) else -1
            if event_id < 0:
                # No id, so it cannot be deduplicated: keep it once under a unique negative id, failed.
                log.error("bot=%s: event without an eventId kept as failed", bot.pk)
                entries.append(EventLogEntry(bot=bot, vibe_event_id=-uuid.uuid4().int % 10**15, event_type="MALFORMED",
                                             payload=item if isinstance(item, dict) else {"item": item},
                                             status=EventLogEntry.Status.FAILED, error="event without an integer eventId"))
                continue
            entries.append(EventLogEntry(bot=bot, vibe_event_id=event_id, event_type=str(item.get("type", ""))[:64],
                                         payload=item, occurred_at=as_datetime(item.get("date"))))
        # Redelivered events (a cycle that died before acknowledging) are already in the log.
        known = set(
            EventLogEntry.objects.filter(bot=bot, vibe_event_id__in=[e.vibe_event_id for e in entries]).values_list(
                "vibe_event_id", flat=True
            )
        )
        fresh = [e for e in entries if e.vibe_event_id not in known]
        EventLogEntry.objects.bulk_create(fresh, ignore_conflicts=True)
        stored = len(fresh)
        new_offset = batch.offset_after(bot.event_offset) or bot.event_offset
        Bot.objects.filter(pk=bot.pk).update(
            event_offset=new_offset,
            has_more=batch.has_more,
            last_polled_at=now,
            consecutive_failures=0,
            last_error="",
            **({"last_event_at": now} if items else {}),
        )
    record_events_stored(event_types=[entry.event_type for entry in fresh])  # ops' counter, after the commit
    return stored


def poll_bot_once(bot_id: int, *, lease_token: str | None = None) -> CycleOutcome:
    """One cycle of one bot. Never overlaps itself: the pacer's lease, checked again when storing.

    Outcomes: 429 waits Retry-After; 5xx and network back off exponentially with jitter; a refused
    session is reported to tenants (which pauses the portal's bots when none is left); BOT_NOT_FOUND
    and BOT_ACCESS_DENIED mark the bot broken for an operator.
    """
    bot = Bot.objects.select_related("portal").get(pk=bot_id)
    if not _holds_lease(bot, lease_token):
        log.info("cycle skipped: lease taken over bot=%s", bot_id)
        return CycleOutcome("skipped")
    if bot.status != Bot.Status.ACTIVE or bot.vibe_bot_id is None:
        _schedule(bot_id, lease_token=lease_token, delay=conf.poll_slow_seconds())
        return CycleOutcome("not_active")
    try:
        client, credential = client_for_portal(bot.portal)
    except SessionTokenError:
        tenant_services.mark_portal_session_lost(bot.portal)
        bot_services.wait_for_session(bot)
        _schedule(bot_id, lease_token=lease_token, delay=conf.poll_slow_seconds())
        return CycleOutcome("no_session")

    try:
        long_poll = conf.poll_long_poll_seconds()
        batch = client.get_events(
            bot.vibe_bot_id, offset=bot.event_offset, limit=conf.poll_batch_size(), timeout=long_poll or None
        )
        stored = store_batch(bot_id, batch, lease_token=lease_token) if batch.raw.get("events") else 0
        if stored is None:
            log.warning("cycle abandoned: lease lost while polling bot=%s", bot_id)
            return CycleOutcome("skipped")
        if stored:
            bot.refresh_from_db()
        # Handles this batch and anything a cycle that died after storing left behind, oldest first.
        handled = handle_pending(bot, client=client)
    except VibeRateLimitError as error:
        delay = error.retry_after if error.retry_after is not None else conf.poll_fast_seconds() * 2
        log.warning("rate limited bot=%s portal=%s retry_after=%.1fs", bot_id, bot.portal.member_id, delay)
        _schedule(bot_id, lease_token=lease_token, delay=delay, last_error=f"429 {error.code}")
        return CycleOutcome("rate_limited")
    except VibeSessionExpiredError as error:
        log.warning("session refused bot=%s portal=%s code=%s", bot_id, bot.portal.member_id, error.code)
        tenant_services.report_credential_refused(bot.portal, kind=credential.kind, bitrix_user_id=credential.bitrix_user_id)
        _schedule(bot_id, lease_token=lease_token, delay=0.5, last_error=str(error)[:500])
        return CycleOutcome("no_session")
    except (VibeNotFoundError, VibeForbiddenError, VibeAuthError) as error:
        if error.code in BROKEN_BOT_CODES:
            bot_services.mark_bot_broken(bot, reason=f"{error.code}: {error.message}")
            _schedule(bot_id, lease_token=lease_token, delay=conf.poll_slow_seconds())
            return CycleOutcome("broken")
        if credential.kind == "personal":
            tenant_services.report_credential_refused(bot.portal, kind="personal", bitrix_user_id=None)
            _schedule(bot_id, lease_token=lease_token, delay=0.5, last_error=str(error)[:500])
            return CycleOutcome("no_session")
        return _back_off(bot, lease_token, error)
    except VibeError as error:  # 5xx, network, garbage: back off; everything stored stays stored
        return _back_off(bot, lease_token, error)
    except Exception as error:
        # A bug or a database failure: the bot still gets its next cycle, and django-q2 records the failure.
        _back_off(bot, lease_token, error)
        log.exception("cycle crashed bot=%s portal=%s", bot_id, bot.portal.member_id)
        raise
    bot.has_more = batch.has_more
    _schedule(bot_id, lease_token=lease_token, delay=_next_interval(bot, had_events=bool(stored)),
              **({} if stored else {"last_polled_at": timezone.now(), "has_more": batch.has_more, "consecutive_failures": 0}))
    return CycleOutcome("polled", stored=stored, handled=handled)


def _back_off(bot: Bot, lease_token: str | None, error: Exception) -> CycleOutcome:
    failures = bot.consecutive_failures + 1
    delay = _backoff_delay(failures)
    log.warning("cycle failed bot=%s portal=%s failures=%s backoff=%.1fs: %s", bot.pk, bot.portal.member_id, failures, delay, error)
    _schedule(bot.pk, lease_token=lease_token, delay=delay, consecutive_failures=failures, last_error=f"{type(error).__name__}: {error}"[:2000])
    return CycleOutcome("backoff")
