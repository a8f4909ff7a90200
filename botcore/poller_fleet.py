"""The poller's database side: the fleet it watches, the credentials it watches with, and the hand-over of
a bot to its poll cycle (a lease, then a django-q2 task), all synchronous, run on the poller's DB thread.

Nothing here is written per empty poll: the fleet is read, a bot is written when it is handed to its
cycle (the same short enqueue lease the pacer took, so the cycle's own lease swap, its offsets stored
before acting and its crash guarantees are exactly those of botcore/services/polling.py), and the bots the
platform answered are stamped `last_polled_at` together (and rid of the failures an outage left them), once
a round of the poller's choosing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from botcore import conf
from botcore.cycle_queue import enqueue_cycles
from botcore.models import Bot, Credential, EventLogEntry
from botcore.selectors import lease_is_free, running_bots, task_stamp_free
from botcore.services.cycle_sql import lease_free_bots, read_bot_values
from botcore.services.platform import app_key_for_digest, auth_for_bot
from botcore.vibe.watch import WatchAuth
from tenants.errors import SecretDecryptionError, SessionTokenError

log = logging.getLogger(__name__)

NOTE_CHUNK = 500  # bots stamped by one UPDATE (SQLite's bound parameters stay far below its limit)

_FIELDS = (
    "pk", "vibe_bot_id", "status", "portal_id", "portal__member_id", "credential_kind", "event_offset",
    "next_poll_at", "lease_token", "lease_until", "backoff_until", "last_event_at", "consecutive_failures",
    "app_key_digest",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BotRow:
    """What the poller needs of one bot, as the database has it now."""

    pk: int
    vibe_bot_id: int | None
    active: bool
    member_id: str
    key_name: str  # which bots pause together when their key's poll budget is spent (one per key)
    credential_kind: str
    offset: int
    next_poll_at: datetime
    leased: bool  # a cycle (or a hand-over to one) holds the bot
    backoff_until: datetime | None
    last_event_at: datetime | None
    # Its cycles' failures in a row (a rate limit counts none): its last cycle failed while it is above 0.
    failures: int = 0

    @property
    def backing_off_after_failures(self) -> bool:
        """Whether the bot waits out failures' backoff now (not a rate limit's wait, not its cadence)."""
        return self.failures > 0 and self.backoff_until is not None and self.backoff_until > timezone.now()


def _row(values: dict, now: datetime) -> BotRow:
    app_key = conf.vibe_app_key()
    personal = values["credential_kind"] == Credential.PERSONAL
    lease_until = values["lease_until"]
    return BotRow(
        pk=values["pk"],
        vibe_bot_id=values["vibe_bot_id"],
        active=values["status"] == Bot.Status.ACTIVE and values["vibe_bot_id"] is not None,
        member_id=values["portal__member_id"],
        # The key its calls spend: a bot of the app's previous key spends that key's budget (a rotation).
        key_name=f"{app_key}:portal:{values['portal_id']}"
        if personal
        else app_key_for_digest(values["app_key_digest"]),
        credential_kind=values["credential_kind"],
        offset=values["event_offset"] or 0,
        next_poll_at=values["next_poll_at"],
        leased=bool(values["lease_token"]) and lease_until is not None and lease_until > now,
        backoff_until=values["backoff_until"],
        last_event_at=values["last_event_at"],
        failures=values["consecutive_failures"],
    )


def _rows(bots: QuerySet[Bot]) -> list[BotRow]:
    """These bots as rows, read now (a lease is current or not as of this read)."""
    now = timezone.now()
    return [_row(values, now) for values in bots.values(*_FIELDS)]


def read_fleet() -> list[BotRow]:
    """Every bot the poller should watch: active and registered on the platform."""
    return _rows(running_bots())


def read_joined(since: datetime) -> list[BotRow]:
    """Running bots activated at or after `since` (provisioned, provisioned again, or resumed): a portal
    that has just installed the app, or whose user brought a lapsed session back, is watched within a
    second instead of at the fleet's next full read."""
    return _rows(running_bots().filter(activated_at__gte=since))


def read_bots(pks: list[int]) -> dict[int, BotRow]:
    """These bots as they stand now (a bot missing from the answer was deleted)."""
    if not pks:
        return {}  # the idle poller asks twice a second: an empty query still costs the ORM its setup
    now = timezone.now()
    return {row.pk: row for row in (_row(values, now) for values in read_bot_values(pks, _FIELDS))}


def read_auth(pks: list[int]) -> dict[int, WatchAuth | None]:
    """The credential each bot's calls go out with (None: its portal has none usable now)."""
    found: dict[int, WatchAuth | None] = {}
    for bot in Bot.objects.select_related("portal").filter(pk__in=pks):
        try:
            found[bot.pk] = auth_for_bot(bot)
        except SessionTokenError:
            found[bot.pk] = None
        except SecretDecryptionError:  # an expected misconfiguration: one line, the cycle backs off
            log.error(
                "credential unreadable bot=%s portal=%s: this process's VIBE_FERNET_KEYS cannot open it",
                bot.pk,
                bot.portal.member_id,
            )
            found[bot.pk] = None
        except Exception:  # a bug: the cycle reports it, the poller stays up
            log.exception("credential unreadable bot=%s", bot.pk)
            found[bot.pk] = None
    return found


def bots_being_provisioned(pks: list[int]) -> set[int]:
    """Those of `pks` whose provisioning is queued or running (its stamp taken, not stale: a move to the
    portal's other credential, an install's, an operator's). One of them without a credential cannot run
    until it ends: its cycle would only find the credential gone, and the provisioning activates it anew."""
    if not pks:
        return set()
    being = Bot.objects.filter(pk__in=pks).exclude(task_stamp_free("provision_requested_at"))
    return set(being.values_list("pk", flat=True))


def bots_owed_a_cycle(limit: int = 500) -> list[int]:
    """Bots with work stored but not finished (an event to retry, a batch with more behind it, a cycle that
    died after storing), now due and free: the platform has nothing new for them, so no watch would tell."""
    now = timezone.now()
    pending = EventLogEntry.objects.filter(status=EventLogEntry.Status.RECEIVED).values("bot_id")
    query = running_bots().filter(lease_is_free(now), next_poll_at__lte=now)
    return list(query.filter(Q(has_more=True) | Q(pk__in=pending)).values_list("pk", flat=True)[:limit])


def hand_to_cycles(pks: list[int], watched: Mapping[int, dict] | None = None) -> tuple[list[int], list[int]]:
    """Lease the free ones of `pks` and enqueue their poll cycles; returns (enqueued, failed to enqueue).

    The lease is the pacer's: it lasts until a worker starts the cycle, which swaps it for its own (a task
    delivered twice runs once). A bot another cycle holds is left alone; a lease whose task could not be
    enqueued is released at once (botcore/cycle_queue.py). `watched` holds, by bot, what its watch read.
    """
    if not pks:
        return [], []
    now = timezone.now()
    token = uuid.uuid4().hex
    until = now + timedelta(seconds=conf.enqueue_lease_seconds())
    return enqueue_cycles(lease_free_bots(pks, token, until=until, now=now), token, watched)


def note_polled(heard: Mapping[int, datetime]) -> None:
    """Stamp `last_polled_at` for the bots the platform answered, by one UPDATE per NOTE_CHUNK bots, with the
    chunk's oldest time (a stamp may lag a bot's last answer by up to the poller's round, never run ahead of
    it), never moving a newer stamp (a cycle's) back.

    An answered empty watch is the idle cycle it saves (polling._settle_idle), so it also ends the failures a
    bot's last cycles recorded (their count, error and backoff), once their backoff was over before the
    answer: an idle bot kept them after an outage until an event brought its next cycle, and the operators'
    bot list and API showed a failing bot the platform answered every few seconds. A bot a cycle holds is
    left to it (the cycle counts its start as a failure until it ends), as is one whose backoff a failure
    set after that answer."""
    pks = sorted(heard)
    for start in range(0, len(pks), NOTE_CHUNK):
        chunk = pks[start : start + NOTE_CHUNK]
        at = min(heard[pk] for pk in chunk)
        Bot.objects.filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=at), pk__in=chunk).update(
            last_polled_at=at
        )
        Bot.objects.filter(
            lease_is_free(timezone.now()), pk__in=chunk, consecutive_failures__gt=0, backoff_until__lte=at
        ).update(consecutive_failures=0, last_error="", backoff_until=None)
