"""One poll cycle of one bot: lease, fetch (or take what the poller's watch read), store with the new
offset, hand events on, schedule the next.

Two cycles never hold one bot. The poller (or the pacer) leases the bot and enqueues the cycle with its lease
token; the cycle swaps that token for one of its own before anything else (so a task the queue delivers twice
runs once), renews it before an event once a quarter of it has gone by, and stops at its own deadline.
Lease > the task queue's timeout > the deadline (botcore.conf.check_cycle_timing, checked at start-up), so
a cycle cannot outlive its lease even when the queue kills it. A cycle that starts records a backoff before
it acts: if it is killed, the bot's next cycle still waits, and a platform that hangs is not asked again
every lease. Its platform calls end by a call deadline (botcore.conf.call_deadline_seconds) short of the
queue's timeout, so a hanging platform is a failure the cycle records rather than a killed worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import connection
from django.utils import timezone

from botcore import conf
from botcore.compiled_reads import CompiledRead
from botcore.models import Bot
from botcore.services import bots as bot_services
from botcore.services import provisioning
from botcore.services.cycle_sql import update_bot
from botcore.services.eventlog import record_empty_batch, store_batch
from botcore.services.executor import PendingOutcome, describe_error, handle_pending
from botcore.services.platform import (
    client_for_bot_credential,
    get_bot_credential,
    refuses_app_key,
    registered_under_previous_app_key,
    report_refused_credential,
)
from botcore.services.refused_polls import (
    no_events_path,
    no_events_path_reason,
    refusal_reason,
    refusal_watched,
    refused_as_built,
)
from botcore.vibe.backoff import backoff_seconds, retry_delay
from botcore.vibe.errors import VibeApiError, VibeError, VibeRateLimitError
from botcore.vibe.models import EventBatch
from botcore.vibe.parse import read_event_batch
from botcore.worker_liveness import (
    WORKER_TOKEN_MARK,
    find_gone_workers,
    new_worker_lease_token,
    worker_lease_prefix,
)
from tenants.errors import SecretDecryptionError, SessionTokenError
from tenants.selectors import PortalCredential

log = logging.getLogger(__name__)


# How a cycle ends: vibeapp_polls_total{outcome=...} (ops.metrics.POLL_OUTCOMES shows each from the start).
CycleStatus = Literal[
    "polled", "skipped", "rate_limited", "backoff", "app_key_refused", "no_session", "reprovision", "broken",
    "not_active", "request_refused", "no_such_path",
]  # fmt: skip


@dataclass(frozen=True)
class CycleOutcome:
    status: CycleStatus
    stored: int = 0
    handled: int = 0  # events a skill answered (PendingOutcome: ignored and failed ones are not)


def take_cycle_lease(bot_id: int, pacer_token: str, *, backoff: float | None = None) -> str | None:
    """Swap the pacer's lease token for this cycle's own, if the pacer's lease is still live and unclaimed.

    With `backoff`, the same UPDATE records the cycle's start (see _start_backoff): one write, not two.
    """
    now = timezone.now()
    token = new_worker_lease_token()
    until = now + timedelta(seconds=conf.lease_seconds())
    started = {"next_poll_at": until + timedelta(seconds=backoff)} if backoff is not None else {}
    taken = update_bot(
        bot_id, {"lease_token": token, "lease_until": until, **started},
        lease_token=pacer_token, lease_live_at=now, count_failure=backoff is not None,
    )  # fmt: skip
    return token if taken else None


def release_cycles_of(pids: list[int]) -> int:
    """The bots whose cycles ran in these processes of this pid space, now dead (a qcluster restarting its
    killed workers: vibeapp/qcluster.py), handed back (_hand_back). Returns how many were."""
    released = _hand_back([worker_lease_prefix(pid) for pid in pids])
    if released:
        log.warning("handed back %s bots whose cycles died with their workers (pids %s)", released, pids)
    return released


def _hand_back(token_prefixes: list[str]) -> int:
    """Each lease whose token begins with one of `token_prefixes` ends now, and its bot is due after the
    backoff its cycle recorded when it started (_start_backoff), so a cycle that kills its worker every time
    still backs off. Each is ended only if its token is still the one read (update_bot), so two qclusters
    handing back at once count each bot once. Returns how many were handed back."""
    now = timezone.now()
    released = 0
    for prefix in token_prefixes:
        held = Bot.objects.filter(lease_token__startswith=prefix)
        for bot_id, token, lease_until, next_poll_at in held.values_list(
            "pk", "lease_token", "lease_until", "next_poll_at"
        ):
            backoff = max(timedelta(0), next_poll_at - lease_until) if lease_until else timedelta(0)
            released += update_bot(
                bot_id, {"lease_token": "", "lease_until": None, "next_poll_at": now + backoff},
                lease_token=token,
            )  # fmt: skip
    return released


def release_cycles_of_dead_processes() -> int:
    """The bots whose live leases name a process that is gone (worker_liveness.find_gone_workers), handed
    back (_hand_back): a qcluster killed whole (kill -9 of its group, its unit or container crashed) hands
    back nothing itself, and its bots were silent until their leases ran out, two minutes in an operator
    trial while another qcluster ran.

    A qcluster runs this as it starts and from its sentinel's guard loop (vibeapp/qcluster.py)."""
    now = timezone.now()
    tokens = Bot.objects.filter(lease_token__startswith=WORKER_TOKEN_MARK, lease_until__gt=now).values_list(
        "lease_token", flat=True
    )
    gone = find_gone_workers(tokens, now=now)
    released = release_cycles_of(gone.pids)
    if gone.pid_spaces:
        of_dead = _hand_back([WORKER_TOKEN_MARK + pid_space for pid_space in gone.pid_spaces])
        if of_dead:
            log.warning(
                "handed back %s bots whose cycles died with another pid space, every process of which reads"
                " silent or stopped (pid spaces %s)", of_dead, gone.pid_spaces,
            )  # fmt: skip
        released += of_dead
    return released


# A bot that had nothing is polled again after this share of the time it has been quiet: a user who writes
# again within 8 s of the bot's last event is seen within a second (where the platform does not hold a
# poll; where it does, the poller's watch is held instead). A quarter left the next message of a dialog
# waiting up to 1.5 s; an eighth costs about 11 more polls per conversation before the slow bound.
QUIET_SHARE = 1 / 8


def quiet_interval(last_event_at: datetime | None, now: datetime) -> float:
    """The pause before polling a bot that had nothing: fast right after activity, slowing towards the
    ceiling as the bot stays quiet (the cycle's and the poller's one cadence)."""
    fast, slow = conf.poll_fast_seconds(), conf.poll_slow_seconds()
    if last_event_at is None:
        return slow
    quiet = (now - last_event_at).total_seconds()
    return min(slow, max(fast, quiet * QUIET_SHARE))


def _next_interval(bot: Bot, *, had_events: bool, has_more: bool) -> float:
    if has_more:
        return 0.0
    if had_events:
        return conf.poll_fast_seconds()
    return quiet_interval(bot.last_event_at, timezone.now())


def _schedule(bot_id: int, *, lease_token: str | None, delay: float, **fields) -> None:
    """Set when the next cycle is due and release this cycle's lease (only if it is still ours)."""
    next_poll_at = timezone.now() + timedelta(seconds=delay)
    update_bot(
        bot_id, {"next_poll_at": next_poll_at, "lease_token": "", "lease_until": None, **fields},
        lease_token=lease_token,
    )  # fmt: skip


def _poll_backoff(failures: int) -> float:
    return backoff_seconds(failures, base=conf.poll_fast_seconds(), cap=conf.backoff_max_seconds())


def _start_backoff(bot: Bot) -> float:
    """The backoff a failure of this cycle would earn, left before acting: it stands if the cycle is killed.

    take_cycle_lease records it (next_poll_at after the lease, one more failure) with the lease itself;
    each renewal of the lease keeps it after the lease's new end.
    """
    return max(conf.poll_fast_seconds(), _poll_backoff(bot.consecutive_failures + 1))


# A cycle renews its lease before an event only once this share of the lease has gone by since it took or
# last renewed it. With lease > queue timeout > deadline a renewal inside a cycle is a margin, not a need,
# and every event's claim (executor.claim_entry) checks the lease anyway: renewing before each event cost
# every message one more write on the database.
RENEW_AFTER_SHARE = 0.25


def renew_lease(bot_id: int, lease_token: str, *, backoff: float) -> bool:
    """Extend the cycle's lease from now (and the killed-cycle backoff after it); False when lost."""
    until = timezone.now() + timedelta(seconds=conf.lease_seconds())
    values = {"lease_until": until, "next_poll_at": until + timedelta(seconds=backoff)}
    return bool(update_bot(bot_id, values, lease_token=lease_token))


def watched_for_cycle(vibe_bot_id: int, offset: int, answer: Mapping[str, Any] | None) -> dict | None:
    """What the poller hands a bot's cycle of a watch that read `answer` at `offset` (watched_batch reads it
    back): None when the answer was too large to carry (botcore.vibe.watch.CARRY_MAX_BYTES)."""
    if answer is None:
        return None
    return {"vibe_bot_id": vibe_bot_id, "offset": offset, "answer": answer}


def watched_rate_limit(vibe_bot_id: int, offset: int, error: VibeRateLimitError) -> dict:
    """What the poller hands a bot's cycle of a watch the platform answered 429: the cycle records the wait
    by its own policy (_settle_failure) without asking again first, which spent one more request inside
    the platform's Retry-After (an outside trial counted one per window per bot). Only the wait goes with
    the task (stored by the broker): not the platform's message, which might quote what the call sent."""
    return {"vibe_bot_id": vibe_bot_id, "offset": offset, "rate_limited": {"retry_after": error.retry_after}}


def watched_refusal(bot: Bot, watched: Mapping[str, Any] | None) -> VibeRateLimitError | None:
    """The 429 the poller's watch met for this bot (watched_rate_limit), while the bot is still that bot."""
    if not watched or watched.get("vibe_bot_id") != bot.vibe_bot_id:
        return None
    limited = watched.get("rate_limited")
    if not isinstance(limited, Mapping):
        return None
    retry_after = limited.get("retry_after")
    return VibeRateLimitError(
        status=429,
        code="RATE_LIMIT",
        message="the platform asked the poller's watch to wait",
        retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else None,
    )


def watched_batch(bot: Bot, watched: Mapping[str, Any] | None) -> EventBatch | None:
    """The batch the poller's watch read for this bot, when it read it at the offset the bot still stands at.

    `watched` is what watched_for_cycle made of the watch's answer in the poller: the platform's answer to
    the very call this cycle would make (the same bot, offset and limit), read by the client's one reading;
    events below an offset never change, so the answer is as good as a new one. None (the cycle fetches)
    when there is none, or the bot has moved on since: another offset, another platform bot, or an offset
    the platform keeps for us (a bot that never stored one polls without it, and the watch could not).
    """
    if not watched or bot.event_offset is None or not isinstance(watched.get("answer"), Mapping):
        return None
    if watched.get("vibe_bot_id") != bot.vibe_bot_id or watched.get("offset") != bot.event_offset:
        return None
    return read_event_batch(watched["answer"], bot_id=bot.vibe_bot_id)


def lease_renewal(bot_id: int, lease_token: str, *, backoff: float, taken_at: float) -> Callable[[], bool]:
    """handle_pending's `renew` for a cycle that took its lease at `taken_at` (monotonic): renews once
    RENEW_AFTER_SHARE of the lease has gone by since it was taken or last renewed; False when lost."""
    renewed_at = taken_at

    def renew() -> bool:
        nonlocal renewed_at
        now = time.monotonic()
        if now - renewed_at < conf.lease_seconds() * RENEW_AFTER_SHARE:
            return True
        if not renew_lease(bot_id, lease_token, backoff=backoff):
            return False
        renewed_at = now
        return True

    return renew


# With its portal and the portal's settings, which the cycle's context reads (get_portal_preferences).
_CYCLE_BOT = CompiledRead(lambda bot_id: Bot.objects.select_related("portal__settings").filter(pk=bot_id))


def read_cycle_bot(bot_id: int) -> Bot:
    """The bot a cycle runs, with its portal and settings (Bot.DoesNotExist when there is none)."""
    return _CYCLE_BOT.get(bot_id=bot_id)


def poll_bot_once(
    bot_id: int, *, lease_token: str | None = None, watched: Mapping[str, Any] | None = None
) -> CycleOutcome:
    """One cycle of one bot, with the credential that registered it.

    Outcomes: 429 waits Retry-After; 5xx, network and garbage back off exponentially with jitter; a
    refused credential is reported to tenants (exactly the refused secret) and the bot waits for another;
    a refused bot (deleted, or not this credential's) that had answered since its registration is registered
    anew (bots.await_new_platform_bot, then provisioning), one that never had is marked broken for an
    operator; a poll refused as we build it (a proxy's 431 for our headers, a credential no header may carry:
    refused_polls.py) is said once and asked again only after the longest backoff; one a router answers
    that no events path is there (a wrong base URL: refused_polls.no_events_path) backs off step by step,
    said once.
    `lease_token=None` (tests, shells) runs without a lease. `watched`: what the poller's watch
    read (watched_batch), which saves the cycle its own fetch.
    """
    started = time.monotonic()
    try:
        bot = read_cycle_bot(bot_id)
    except Bot.DoesNotExist:
        return CycleOutcome("skipped")
    backoff = 0.0
    if lease_token is not None:
        # Read before the lease is swapped: the pacer leased the bot, so no other cycle writes to it now.
        backoff = _start_backoff(bot)
        lease_token = take_cycle_lease(bot_id, lease_token, backoff=backoff)
        if lease_token is None:
            log.debug("cycle skipped: the lease ran out or another cycle has it bot=%s", bot_id)
            return CycleOutcome("skipped")
    # A cycle that does not poll is no failure: the start recorded with the lease is taken back.
    failures = bot.consecutive_failures
    if bot.status != Bot.Status.ACTIVE or bot.vibe_bot_id is None:
        _schedule(
            bot_id, lease_token=lease_token, delay=conf.poll_slow_seconds(), consecutive_failures=failures
        )
        return CycleOutcome("not_active")
    try:
        credential = get_bot_credential(bot)
    except SessionTokenError:
        bot_services.handle_credential_gone(bot)
        _schedule(
            bot_id, lease_token=lease_token, delay=conf.poll_slow_seconds(), consecutive_failures=failures
        )
        return CycleOutcome("no_session")
    except SecretDecryptionError as error:
        # This process's keys cannot open what another stored: a process left on an old key list in a key
        # rotation's rolling restart. Back off and hand the lease back, so that the bot is not held for a
        # whole lease once this process (or another with the new keys) could take it.
        log.error(
            "credential unreadable bot=%s portal=%s: this process's VIBE_FERNET_KEYS cannot open it; "
            "restart it with the key list the others run (docs/operators.md, Key rotation)",
            bot_id,
            bot.portal.member_id,
        )
        return _back_off(bot, lease_token, error)
    renew = None
    if lease_token is not None:
        renew = lease_renewal(bot_id, lease_token, backoff=backoff, taken_at=started)
    # A failed cycle is tried again after its own backoff, so the poll itself is sent once; no call of the
    # cycle outlives its call deadline, so a hanging platform is a failure it records, not a killed worker.
    deadline = started + conf.call_deadline_seconds()
    try:
        refusal = watched_refusal(bot, watched) or refusal_watched(bot.vibe_bot_id, watched)
        if refusal is not None:  # the watch was told to wait, or refused as built: asked now, refused again
            raise refusal
        # Never a long-poll: a cycle holds a worker, and the poller process does the waiting for it.
        batch = watched_batch(bot, watched)
        if batch is None:
            poller = client_for_bot_credential(bot, credential, max_attempts=1, deadline=deadline)
            batch = poller.get_events(bot.vibe_bot_id, offset=bot.event_offset, limit=conf.poll_batch_size())
        if batch.is_empty and _settle_idle(bot, bot.vibe_bot_id, batch, lease_token):
            log.debug("idle cycle bot=%s", bot_id)
            return CycleOutcome("polled")
        client = client_for_bot_credential(bot, credential, deadline=deadline)
        stored = store_batch(bot_id, batch, vibe_bot_id=bot.vibe_bot_id, lease_token=lease_token)
        if stored is None:
            log.warning("cycle abandoned: the bot changed hands while polling bot=%s", bot_id)
            return CycleOutcome("skipped")
        pending = handle_pending(
            bot,
            client=client,
            lease_token=lease_token,
            renew=renew,
            deadline=started + conf.cycle_deadline_seconds(),
        )
    except VibeError as error:
        return _settle_failure(bot, lease_token, credential, error)
    except Exception as error:
        # A bug or a database failure: the bot still gets its next cycle, and django-q2 records the failure.
        _drop_broken_connection()
        _back_off(bot, lease_token, error)
        log.exception("cycle crashed bot=%s portal=%s", bot_id, bot.portal.member_id)
        raise
    delay = _after(bot, pending, had_events=bool(stored), has_more=batch.has_more)
    if _moves_nowhere(bot, batch) and stored:
        # It comes again at every poll until the platform moves past it, kept once (eventlog._synthetic_id)
        # and no activity of the bot's after that (store_batch): its later polls keep the bot's own cadence.
        # Held at the slow cadence instead, the bot answered every later message of a conversation up to
        # BOTCORE_POLL_SLOW_SECONDS late for as long as the item stayed.
        log.warning(
            "bot=%s: the platform gave %s item(s) that move the offset (%s) nowhere: kept once, the bot"
            " polled at its cadence until the platform moves past them",
            bot_id, len(batch.events) + len(batch.malformed), bot.event_offset,
        )  # fmt: skip
    _schedule(
        bot_id,
        lease_token=lease_token,
        delay=delay,
        consecutive_failures=0,
        last_error="",
        backoff_until=None,
    )
    if stored or pending.finished:
        log.info(
            "cycle bot=%s portal=%s stored=%s handled=%s ignored=%s failed=%s",
            bot_id,
            bot.portal.member_id,
            stored,
            pending.handled,
            pending.ignored,
            pending.failed,
        )
    else:
        log.debug("idle cycle bot=%s", bot_id)
    return CycleOutcome("polled", stored=stored, handled=pending.handled)


def _settle_idle(bot: Bot, vibe_bot_id: int, batch: EventBatch, lease_token: str | None) -> bool:
    """Most polls: nothing new and nothing waiting. The batch's offset, the next cycle and the lease's
    release go in one UPDATE, made only while the cycle still holds the bot (as store_batch would) and none
    of its stored events waits; whether it was. When not, the cycle goes on as for any batch: store_batch
    records the empty batch, or finds the bot changed hands, and the events waiting are handled."""
    now = timezone.now()
    delay = _next_interval(bot, had_events=False, has_more=batch.has_more)
    settle = {
        "next_poll_at": now + timedelta(seconds=delay), "lease_token": "", "lease_until": None,
        "consecutive_failures": 0, "last_error": "", "backoff_until": None,
    }  # fmt: skip
    return record_empty_batch(
        bot.pk, batch, vibe_bot_id=vibe_bot_id, lease_token=lease_token, now=now, also=settle,
        unless_pending=True,
    )  # fmt: skip


def _moves_nowhere(bot: Bot, batch: EventBatch) -> bool:
    """Whether `batch` holds items yet leaves the offset where it was (no usable nextOffset nor id)."""
    return not batch.is_empty and batch.offset_after(bot.event_offset) in (None, bot.event_offset)


def _after(bot: Bot, pending: PendingOutcome, *, had_events: bool, has_more: bool) -> float:
    """Seconds to the next cycle: the cadence, sooner for work left over or an event's retry."""
    delay = _next_interval(bot, had_events=had_events, has_more=has_more)
    if pending.unfinished:
        return 0.0
    if pending.retry_at is not None:
        delay = min(delay, max(0.0, (pending.retry_at - timezone.now()).total_seconds()))
    return delay


def _settle_failure(
    bot: Bot, lease_token: str | None, credential: PortalCredential, error: VibeError
) -> CycleOutcome:
    """Turn a platform failure (of the poll or of an event's skill) into the bot's next step."""
    if isinstance(error, VibeApiError) and error.concerns_bot:
        reason = f"{error.code}: {error.message}"
        if error.says_bot_gone:
            # Gone, whether registered anew or broken for an operator: an uninstall or a move sends it no
            # DELETE. One refused as another key's (BOT_ACCESS_DENIED) is there still: they unregister it.
            bot_services.mark_platform_bot_gone(bot)
        if bot_services.await_new_platform_bot(bot, reason=reason):
            provisioning.request_provisioning(bot.portal)
            return CycleOutcome("reprovision")
        bot_services.mark_bot_broken(bot, reason=reason)
        _schedule(bot.pk, lease_token=lease_token, delay=conf.poll_slow_seconds())
        return CycleOutcome("broken")
    if refused_as_built(error):
        return _settle_refused_poll(bot, lease_token, credential, error)
    if isinstance(error, VibeApiError) and error.refuses_offset and bot.event_offset:
        # Kept, the offset met the same refusal at every cycle and no event came again. Offset 0 acknowledges
        # nothing, so the platform resumes from the offset it stored (A §8); an event it gives again is
        # stored once (by its id) and its offset moves on from the batch's.
        log.warning(
            "the platform refused the bot's offset bot=%s portal=%s offset=%s: polling from offset 0",
            bot.pk, bot.portal.member_id, bot.event_offset,
        )  # fmt: skip
        return _back_off(bot, lease_token, error, event_offset=0)
    if refuses_app_key(error, credential) and registered_under_previous_app_key(bot):
        # The previous key was revoked before this portal's bot of the new key came: the old bot cannot be
        # reached any more (provisioning's move says so, once), so the portal gets its new bot now.
        reason = f"the previous app key was refused: {getattr(error, 'code', None)}"
        if bot_services.await_new_platform_bot(bot, reason=reason):
            provisioning.request_provisioning(bot.portal)
            return CycleOutcome("reprovision")
    if refuses_app_key(error, credential):
        # Every portal's bots meet this alike: back off, keep the sessions, say what to fix.
        log.error(
            "the platform refused the app key (%s) bot=%s portal=%s: sessions are kept; fix VIBE_APP_KEY",
            getattr(error, "code", None), bot.pk, bot.portal.member_id,
        )  # fmt: skip
        _back_off(bot, lease_token, error)
        return CycleOutcome("app_key_refused")  # vibeapp_polls_total{outcome=...}: alert on it
    if report_refused_credential(error, credential, portal=bot.portal):
        log.warning(
            "credential refused bot=%s portal=%s code=%s",
            bot.pk,
            bot.portal.member_id,
            getattr(error, "code", None),
        )
        _schedule(
            bot.pk,
            lease_token=lease_token,
            delay=conf.poll_fast_seconds(),
            last_error=describe_error(error)[:500],
        )
        return CycleOutcome("no_session")
    if isinstance(error, VibeRateLimitError):
        delay = retry_delay(error, bot.consecutive_failures + 1, base=conf.poll_fast_seconds() * 2,
                            cap=conf.backoff_max_seconds())  # fmt: skip
        log.warning("rate limited bot=%s portal=%s retry_after=%.1fs", bot.pk, bot.portal.member_id, delay)
        _schedule(
            bot.pk,
            lease_token=lease_token,
            delay=delay,
            last_error=f"429 {error.code}",
            backoff_until=timezone.now() + timedelta(seconds=delay),
            # The platform answered: whatever failed before is over, and the wait is the platform's own
            # (the poller calls back bots backing off after failures, never one waiting out a rate limit).
            consecutive_failures=0,
        )
        return CycleOutcome("rate_limited")
    if no_events_path(error):
        _back_off(bot, lease_token, error, said=no_events_path_reason(error))
        return CycleOutcome("no_such_path")  # vibeapp_polls_total{outcome=...}: alert on it
    return _back_off(bot, lease_token, error)


def _settle_refused_poll(
    bot: Bot, lease_token: str | None, credential: PortalCredential, error: VibeError
) -> CycleOutcome:
    """The poll's own request is refused as we build it (botcore.services.refused_polls): its every repeat
    is refused alike. Backed off as an outage, it was asked again at each exponential step (18 events calls
    in 6 s, a WARNING each, none saying why). Said once, as an ERROR naming the likely cause, and asked again
    only after the longest backoff (BOTCORE_BACKOFF_MAX_SECONDS), in case the cause was fixed meanwhile (the
    proxy's limit raised, a new session). Its failures are not counted: the bot is no outage's, and the
    poller's call-back of bots backing off after failures (an outage's end) must not ask it again."""
    reason = refusal_reason(error, credential)
    if bot.last_error != reason:
        log.error("bot=%s portal=%s cannot poll: %s", bot.pk, bot.portal.member_id, reason)
    else:
        log.info("bot=%s portal=%s still cannot poll (said before): %s", bot.pk, bot.portal.member_id, reason)
    delay = conf.backoff_max_seconds()
    _schedule(
        bot.pk, lease_token=lease_token, delay=delay, consecutive_failures=0, last_error=reason[:2000],
        backoff_until=timezone.now() + timedelta(seconds=delay),
    )  # fmt: skip
    return CycleOutcome("request_refused")


def _drop_broken_connection() -> None:
    """Close this thread's database connection if the failure broke it (the server ended the session:
    a restart, pg_terminate_backend), so that the backoff's write opens a new one: on the broken one it
    failed too, and the bot stayed leased for the rest of BOTCORE_LEASE_SECONDS. Inside a transaction
    the connection is left to whoever opened it."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _back_off(
    bot: Bot, lease_token: str | None, error: Exception, *, said: str = "", **fields: Any
) -> CycleOutcome:
    """Back off one step more. `said`: a plain reason the bot's last error reads instead of the error, said at
    ERROR once a spell and at INFO after (a WARNING at each step of a wrong base URL's spell said nothing)."""
    failures = bot.consecutive_failures + 1
    delay = _poll_backoff(failures)
    member_id = bot.portal.member_id
    if said and bot.last_error != said[:2000]:
        log.error("bot=%s portal=%s cannot poll: %s", bot.pk, member_id, said)
    elif said:
        log.info(
            "bot=%s portal=%s still cannot poll (said before) failures=%s backoff=%.1fs: %s",
            bot.pk, member_id, failures, delay, error,
        )  # fmt: skip
    else:
        log.warning(
            "cycle failed bot=%s portal=%s failures=%s backoff=%.1fs: %s", bot.pk, member_id, failures, delay,
            error,
        )  # fmt: skip
    _schedule(
        bot.pk, lease_token=lease_token, delay=delay, consecutive_failures=failures,
        last_error=(said or describe_error(error))[:2000],
        backoff_until=timezone.now() + timedelta(seconds=delay), **fields,
    )  # fmt: skip
    return CycleOutcome("backoff")
