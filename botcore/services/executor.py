"""The one executor: hands a stored platform event or a backend run to its skill and settles the outcome.

Both kinds of work are claimed atomically before the skill runs (an attempt counted by compare-and-set,
so two workers never run one attempt, and a worker killed mid-skill leaves an attempt spent) and judged
the same way after it:
- the skill returned: done;
- a transient failure (the error says so, botcore.errors.is_transient): tried again after the project's
  backoff, until BOTCORE_HANDLE_MAX_ATTEMPTS, and for an event past them until
  BOTCORE_HANDLE_RETRY_WINDOW_SECONDS after it came, then failed with the reason;
- stopped by the task queue's timeout (django-q2 raises in the skill as it stops the worker): noted as such,
  and tried again fewer times (BOTCORE_HANDLE_MAX_TIMED_OUT_ATTEMPTS, timed_out_too_often), each try
  holding a worker, and the bot's later events or the skill's later runs on the portal, for the whole
  timeout;
- the credential or the bot itself was refused: not this work's fault, so the attempt is given back and
  the error goes up to whoever can fix it (the poll cycle pauses the bot or marks it broken);
- anything else (a refused request, a skill's bug): failed with the reason, and the bot goes on.
A platform event that cannot be handled yet blocks the events after it: one bot's events keep their order.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone
from django_q.exceptions import TimeoutException

from botcore import conf
from botcore.errors import ActionInDoubtError, is_transient
from botcore.models import Bot, EventLogEntry, LeftInDoubt, SkillRun
from botcore.selectors import (
    find_active_bot,
    has_events_waiting_from_before,
    list_enabled_skills,
    read_pending_entries,
)
from botcore.services.cycle_sql import claim_entry_row, save_entry_outcome
from botcore.services.doubt_notices import note_left_in_doubt
from botcore.services.eventlog import awaits_its_command
from botcore.services.notices import apologize_for_failed_event, tell_admins_of_failed_run
from botcore.services.platform import client_for_bot
from botcore.services.run_turns import hand_on, wait_for_turn, waits_for_its_turn
from botcore.services.skill_context import (
    PortalSkills,
    WantsStopped,
    choose_skill,
    load_portal_skills,
    make_context,
    portal_info,
)
from botcore.services.skill_runs import build_event
from botcore.skills.base import Skill
from botcore.skills.registry import find_skill
from botcore.vibe import VibeClient
from botcore.vibe.backoff import retry_delay
from botcore.vibe.budget import Priority
from botcore.vibe.errors import VibeApiError, VibeAuthError, VibeError
from botcore.vibe.events import EventType, MalformedEventError
from botcore.vibe.held_calls import HELD_WAIT_SECONDS
from botcore.vibe.parse import parse_event
from botcore.worker_liveness import worker_lease_prefix
from ops.logs import log_context
from ops.redaction import redact, redact_quoting
from tenants.errors import SessionTokenError, TenantsError
from tenants.models import Portal
from tenants.services import uninstall_portal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What one attempt came to: "done", "retry" (after `retry_in` seconds), "failed" or "refused"."""

    status: str
    error: str = ""
    retry_in: float = 0.0
    cause: BaseException | None = None


def refuses_credential(error: BaseException) -> bool:
    """The platform refused the credential or the bot, not this piece of work."""
    return isinstance(error, VibeAuthError) or (isinstance(error, VibeApiError) and error.concerns_bot)


def describe_error(error: BaseException) -> str:
    """A failure as it is stored for operators (a bot's last error, a run's or an event's error column):
    its class and text, with credentials redacted as log lines have them."""
    return redact(f"{type(error).__name__}: {error}")


def _reason(error: BaseException) -> str:
    return redact(str(error)) if isinstance(error, VibeError) else describe_error(error)


def may_try_again(attempts: int, *, until: datetime | None, now: datetime) -> bool:
    """Whether work met by a passing trouble (or whose worker died) on its `attempts`-th attempt is tried
    again: while it has attempts left (BOTCORE_HANDLE_MAX_ATTEMPTS), and past them until `until`, a run's
    catch-up window (catch_up_ends)."""
    return attempts < conf.handle_max_attempts() or (until is not None and until > now)


def judge_failure(
    error: BaseException,
    *,
    attempts: int,
    retry_base: float,
    retry_cap: float,
    retry_until: datetime | None = None,
) -> Verdict:
    """The verdict on an attempt that raised `error`, the `attempts`-th made. Its wording is stored for
    operators (the event log's and the runs' error columns): a platform error says its code itself.
    `retry_until`: a passing trouble is retried until then whatever the attempts, the last time then."""
    reason = _reason(error)
    if refuses_credential(error):
        return Verdict("refused", reason, cause=error)
    if is_transient(error):
        now = timezone.now()
        if not may_try_again(attempts, until=retry_until, now=now):
            return Verdict("failed", f"gave up after {attempts} attempts: {reason}", cause=error)
        wait = retry_delay(error, attempts, base=retry_base, cap=retry_cap)
        if (
            attempts >= conf.handle_max_attempts() and retry_until is not None
        ):  # inside the window: not past it
            wait = min(wait, (retry_until - now).total_seconds())
        return Verdict("retry", reason, wait, error)
    return Verdict("failed", reason, cause=error)


def _stopped_worker() -> str:
    return (
        f"the worker was stopped: a skill running past the task queue's timeout of"
        f" {conf.task_timeout_seconds():.0f} s is killed, or the process died"
    )


UNFINISHED_NOTE = "an earlier attempt did not finish"


# What to do about a handler stopped by the task queue's timeout: an event's, and a run's (already deferred).
EVENT_TIMED_OUT_ADVICE = "hand slow work to ctx.defer"
RUN_TIMED_OUT_ADVICE = "split slow work into shorter deferred jobs, each well within it"
# What a handler slower than a cycle held up: an event's, the bot's later events; a run's (a deferred job, a
# scheduled run: already off the bot's cycle), the skill's later runs on the portal (run_turns).
EVENT_SLOW_NOTE = f"the bot's next events waited; {EVENT_TIMED_OUT_ADVICE}"
RUN_SLOW_NOTE = "the skill's later runs on this portal waited; split slow work into shorter deferred jobs"


def _timed_out(attempts: int, *, advice: str = EVENT_TIMED_OUT_ADVICE) -> str:
    return (
        f"attempt {attempts} ran past the task queue's timeout of {conf.task_timeout_seconds():.0f} s and was"
        f" stopped; {advice}"
    )


def timed_out_too_often(timed_out: int) -> bool:
    """Whether work (a stored event, a deferred job, a scheduled run) whose attempts the task queue's timeout
    stopped `timed_out` times is failed rather than tried again (BOTCORE_HANDLE_MAX_TIMED_OUT_ATTEMPTS)."""
    return timed_out >= conf.handle_max_timed_out_attempts()


def timed_out_attempts_error(timed_out: int, *, advice: str = EVENT_TIMED_OUT_ADVICE) -> str:
    """Why work whose attempts ran past the task queue's timeout is given up."""
    return (
        f"gave up after {timed_out} attempts that ran past the task queue's timeout of"
        f" {conf.task_timeout_seconds():.0f} s (each stopped there); {advice}"
    )


def note_timed_out_attempt(entry: EventLogEntry, *, skill: str) -> None:
    """Say on `entry` that its attempt was stopped by the task queue's timeout, as it is being stopped
    (django-q2 raises TimeoutException in the handler, and kills the worker a few seconds later): counted
    apart from attempts that died unseen, and due again at once. Best effort, as the worker is going."""
    try:
        EventLogEntry.objects.filter(pk=entry.pk, attempts=entry.attempts).update(
            timed_out_attempts=F("timed_out_attempts") + 1,
            next_attempt_at=timezone.now(),  # settled: the next handling does not read it as one that died
            skill=skill,
            error=_timed_out(entry.attempts),
        )
    except Exception as error:  # noqa: BLE001 - the attempt is then read as one that died, as before
        log.warning("timed-out attempt not noted event=%s: %s", entry.vibe_event_id, describe_error(error))


def unfinished_attempts_error(
    attempts: int, *, earlier: str = "", advice: str = EVENT_TIMED_OUT_ADVICE
) -> str:
    """Why work whose last attempts never settled is given up: their workers were stopped mid-skill."""
    reason = f"gave up after {attempts} attempts: none of them finished ({_stopped_worker()}); {advice}"
    if earlier.startswith(UNFINISHED_NOTE):
        earlier = ""  # the note of a retry is this same story
    return f"{reason}; before that: {earlier}" if earlier else reason


def _note_unfinished_attempt(entry: EventLogEntry, *, skill: str) -> None:
    """Say on an event whose earlier attempt never settled that it is being tried again, and by which skill:
    meanwhile the bot's later events wait behind it, and an operator reading the log saw only "Received"."""
    entry.skill = skill
    entry.error = (
        f"{UNFINISHED_NOTE} ({_stopped_worker()}); attempt {entry.attempts} of"
        f" {conf.handle_max_attempts()} is under way, and the bot's later events wait for it"
    )
    EventLogEntry.objects.filter(pk=entry.pk).update(skill=entry.skill, error=entry.error)


def run_skill(
    skill: Skill,
    event: Any,
    ctx: Any,
    *,
    attempts: int,
    what: str,
    retry_base: float,
    retry_cap: float,
    retry_until: datetime | None = None,
    slow_note: str = EVENT_SLOW_NOTE,
) -> Verdict:
    """Run `skill.handle(event, ctx)` once and judge it (judge_failure); `what` names the work in logs,
    `slow_note` what a handling slower than a cycle held up and what to do."""
    started = time.monotonic()
    try:
        skill.handle(event, ctx)
    except Exception as error:
        verdict = judge_failure(
            error, attempts=attempts, retry_base=retry_base, retry_cap=retry_cap, retry_until=retry_until
        )
        if verdict.status == "retry":
            log.warning(
                "%s skill=%s will be retried in %.1fs: %s", what, skill.name, verdict.retry_in, verdict.error
            )
        elif verdict.status == "refused" or isinstance(error, (VibeError, ActionInDoubtError)):
            log.warning("%s skill=%s %s: %s", what, skill.name, verdict.status, verdict.error)
        else:  # a skill's bug: the trace is for its author
            log.exception("%s skill=%s raised", what, skill.name)
        return verdict
    took = time.monotonic() - started
    if took > conf.cycle_deadline_seconds():
        # Others waited all that time (slow_note says who); past the task queue's timeout it is killed.
        log.warning(
            "%s skill=%s took %.1fs, past a cycle's %.0fs: %s",
            what, skill.name, took, conf.cycle_deadline_seconds(), slow_note,
        )  # fmt: skip
    return Verdict("done")


# --- platform events ------------------------------------------------------------------------------
def stored_error(entry: EventLogEntry, error: str) -> str:
    """`error` as `entry` stores it: without a credential its payload holds, however bare it is quoted (an
    entry an earlier version stored with its auth block, handled now), nor any redact() knows; cut to fit."""
    return redact_quoting(error, entry.payload)[:4000]


def _finish(entry: EventLogEntry, status: str, *, skill: str = "", error: str = "", started: float) -> str:
    entry.status, entry.skill, entry.error = status, skill, stored_error(entry, error)
    entry.handled_at = timezone.now()
    entry.duration_ms = int((time.monotonic() - started) * 1000)
    save_entry_outcome(entry)
    return status


def _left_in_doubt(ctx: Any) -> str:
    """What a handled event's log entry (or a run's error column) says of posts left in doubt
    (skills.posts_once._post_once), or ""."""
    left = getattr(ctx, "posts_left_in_doubt", None)
    if not left:
        return ""
    return (
        f"handled; post {', '.join(map(str, left))} of it left in doubt: an earlier attempt's send failed "
        "after the platform may have posted it, and a repeat could show it twice, so it was not sent again "
        "(it is in the chat or missing; the WARNING says what the check saw)"
    )


def _tried_past_the_attempts(entry: EventLogEntry, retry_until: datetime | None) -> bool:
    """Whether an event past BOTCORE_HANDLE_MAX_ATTEMPTS is tried again: only inside its retry window, when
    its last attempt settled as a retry (its verdict set its time), or when that attempt's worker died and
    the one before it had settled so (its error is still that verdict's: a worker killed once, by a restart
    or a deploy, is a passing trouble like the platform's). Two deaths in a row (the second attempt's note
    is UNFINISHED_NOTE) or none settled at all (no error) fail it: the skill may be what kills its worker."""
    if retry_until is None or retry_until <= timezone.now():
        return False
    if entry.next_attempt_at is not None:
        return True
    return bool(entry.error) and not entry.error.startswith(UNFINISHED_NOTE)


def _apologize_for_unfinished(
    entry: EventLogEntry, *, bot: Bot, client: VibeClient, portal_skills: PortalSkills
) -> None:
    """The person whose message every attempt died on hears so, as after a skill's bug, not silence: through
    the context of the skill the attempts were noted as (its ledger keeps the apology to one), else of the
    skill routing gives it now. Not routed again where a skill is named: its wants() may be what hung."""
    try:
        event = parse_event(entry.payload)
        _, ctx = choose_skill(
            event,
            bot=bot,
            client=client,
            portal_skills=portal_skills,
            came_to=entry.vibe_bot_id,
            only=entry.skill or None,
        )
    except (MalformedEventError, VibeError) as error:
        log.warning("apology for a failed event not sent: %s", error.__class__.__name__)
        return
    if ctx is not None:
        apologize_for_failed_event(event, ctx)


def claim_entry(entry: EventLogEntry, *, lease_token: str | None) -> bool:
    """Count an attempt at `entry` if it is still pending, unchanged, and its bot still leased to us."""
    if not claim_entry_row(entry, lease_token=lease_token):
        return False
    entry.attempts += 1
    return True


def handle_entry(
    entry: EventLogEntry,
    *,
    bot: Bot,
    client: VibeClient,
    portal_skills: PortalSkills,
    lease_token: str | None,
) -> str:
    """Hand one stored event to its skill and record the outcome; returns the entry's status.

    "skipped" when another cycle has the entry or the bot; "received" when it will be retried (its
    `next_attempt_at` says when). A refused credential or bot is raised, with the attempt given back.
    """
    # On every line while the event is handled, and only then: the cycle's own lines are not the event's.
    with log_context(portal=bot.portal.member_id, bot=bot.pk, event=entry.vibe_event_id):
        started = time.monotonic()
        gave_up = ""
        window = conf.handle_retry_window_seconds()
        # A passing failure is retried past the attempts' limit until then (judge_failure).
        retry_until = entry.received_at + timedelta(seconds=window) if window and entry.received_at else None
        if timed_out_too_often(entry.timed_out_attempts):
            # The skill's own slow work: another try would hold the bot's later events for the timeout again.
            gave_up = timed_out_attempts_error(entry.timed_out_attempts)
        elif entry.attempts >= conf.handle_max_attempts() and not _tried_past_the_attempts(
            entry, retry_until
        ):
            # Its last attempts died with their workers before they could say why (or its window is over).
            gave_up = unfinished_attempts_error(entry.attempts, earlier=entry.error)
        if gave_up:
            status = _finish(
                entry,
                EventLogEntry.Status.FAILED,
                skill=entry.skill,  # the skill whose attempts they were, as the note of a retry named it
                error=gave_up,
                started=started,
            )
            _apologize_for_unfinished(entry, bot=bot, client=client, portal_skills=portal_skills)
            return status
        # A counted attempt that left no verdict died with its worker: every verdict that leaves the entry
        # received sets its time (a retry's, a refusal's), and the claim of an attempt clears it.
        unfinished = entry.attempts > 0 and entry.next_attempt_at is None
        if not claim_entry(entry, lease_token=lease_token):
            return "skipped"
        try:
            event = parse_event(entry.payload)
        except MalformedEventError as error:
            return _finish(
                entry, EventLogEntry.Status.FAILED, error=f"malformed event: {error}", started=started
            )
        retry_base, retry_cap = conf.handle_retry_base_seconds(), conf.handle_retry_max_seconds()
        try:
            chosen, ctx = choose_skill(
                event, bot=bot, client=client, portal_skills=portal_skills, came_to=entry.vibe_bot_id
            )
        except WantsStopped as stopped:  # the timeout stopped a skill's wants(): as if in its handle()
            note_timed_out_attempt(entry, skill=stopped.skill_name)
            raise  # django-q2's: the worker ends
        except VibeError as error:  # a skill's wants() met the platform's trouble: judged as if handling
            chosen, ctx = None, None
            verdict = judge_failure(
                error, attempts=entry.attempts, retry_base=retry_base, retry_cap=retry_cap,
                retry_until=retry_until,
            )  # fmt: skip
        else:
            if chosen is None:
                return _finish(entry, EventLogEntry.Status.IGNORED, started=started)
            if unfinished:
                _note_unfinished_attempt(entry, skill=chosen.name)
            what = f"bot={bot.pk} portal={bot.portal.member_id} event={entry.vibe_event_id}"
            try:
                verdict = run_skill(
                    chosen,
                    event,
                    ctx,
                    attempts=entry.attempts,
                    what=what,
                    retry_base=retry_base,
                    retry_cap=retry_cap,
                    retry_until=retry_until,
                )
            except TimeoutException:
                note_timed_out_attempt(entry, skill=chosen.name)
                raise  # django-q2's: the worker ends
        skill_name = chosen.name if chosen is not None else ""
        if verdict.status == "done":
            if getattr(ctx, "posts_left_in_doubt", None):
                note_left_in_doubt(entry, LeftInDoubt.POST)  # before it is finished: a kill marks it again
            return _finish(
                entry,
                EventLogEntry.Status.HANDLED,
                skill=skill_name,
                error=_left_in_doubt(ctx),
                started=started,
            )
        if verdict.status == "failed":
            if ctx is not None and not isinstance(verdict.cause, (VibeError, TenantsError)):
                # A skill's bug, or a chat or file left in doubt: the person hears it, not silence.
                apologize_for_failed_event(event, ctx, cause=verdict.cause)
            if isinstance(verdict.cause, ActionInDoubtError):
                note_left_in_doubt(entry, verdict.cause.write)
            return _finish(
                entry, EventLogEntry.Status.FAILED, skill=skill_name, error=verdict.error, started=started
            )
        if verdict.status == "refused":
            settle_refused_attempt(entry, error=verdict.error)
            assert verdict.cause is not None
            raise verdict.cause
        retry_at = timezone.now() + timedelta(seconds=verdict.retry_in)
        EventLogEntry.objects.filter(pk=entry.pk).update(
            next_attempt_at=retry_at, skill=skill_name, error=stored_error(entry, verdict.error)
        )
        entry.next_attempt_at = retry_at
        return EventLogEntry.Status.RECEIVED


def settle_refused_attempt(entry: EventLogEntry, *, error: str) -> None:
    """An attempt the platform refused for its credential or its bot: given back (the work waits for a
    credential or a new bot, and is no retry), the refusal said, and its time set to now, so that the next
    handling does not read it as an attempt that died with its worker."""
    EventLogEntry.objects.filter(pk=entry.pk).update(
        attempts=F("attempts") - 1, error=stored_error(entry, error), next_attempt_at=timezone.now()
    )


@dataclass(frozen=True)
class PendingOutcome:
    handled: int = 0  # events a skill answered
    ignored: int = 0  # events no skill wanted: a join, a duplicate, an event of no type
    failed: int = 0  # events given up on
    retry_at: datetime | None = None  # the first unhandled event waits until then
    unfinished: bool = False  # the deadline or a lost lease stopped the cycle with events left

    @property
    def finished(self) -> int:
        """Events that left the queue with a verdict this cycle."""
        return self.handled + self.ignored + self.failed


def handle_pending(
    bot: Bot,
    *,
    client: VibeClient,
    lease_token: str | None,
    renew: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> PendingOutcome:
    """Handle the bot's stored, unhandled events in order until one must wait, the deadline, or the end.

    `renew` extends the cycle's lease before each event, and says False when another cycle has the bot.

    No transaction around a skill: its HTTP calls must not hold the database's write lock, and the attempt
    counted before it runs must survive a worker killed mid-skill.

    A skill's best-effort call the request budget had no room for (a reaction) is held by `client`, not
    lost: sent between two events if the budget has room then, else once the last is handled (send_held).
    """
    try:
        pending = _handle_in_order(
            bot, client=client, lease_token=lease_token, renew=renew, deadline=deadline
        )
    except BaseException:
        client.drop_held_calls("the cycle failed before it could send it")
        raise
    send_held(client, deadline=deadline)
    return pending


def send_held(client: VibeClient, *, deadline: float | None) -> None:
    """Send what `client` holds once the urgent calls are out (after the replies): each when the request
    budget has room, waiting for it HELD_WAIT_SECONDS at most, and never past `deadline` (a cycle's,
    time.monotonic()); what is left is dropped (WARNING). Bounded, so the worker goes on to other bots."""
    until = time.monotonic() + HELD_WAIT_SECONDS
    client.send_held_calls(until=until if deadline is None else min(until, deadline))


def _handle_in_order(
    bot: Bot,
    *,
    client: VibeClient,
    lease_token: str | None,
    renew: Callable[[], bool] | None,
    deadline: float | None,
) -> PendingOutcome:
    portal_skills: PortalSkills | None = None  # loaded only when there is something to handle
    verdicts: Counter[str] = Counter()

    def outcome(**rest: Any) -> PendingOutcome:
        done = EventLogEntry.Status
        return PendingOutcome(
            handled=verdicts[done.HANDLED],
            ignored=verdicts[done.IGNORED],
            failed=verdicts[done.FAILED],
            **rest,
        )

    for entry in read_pending_entries(bot):
        if entry.next_attempt_at is not None and entry.next_attempt_at > timezone.now():
            return outcome(retry_at=entry.next_attempt_at)
        if deadline is not None and time.monotonic() >= deadline:
            return outcome(unfinished=True)
        if renew is not None and not renew():
            log.warning("lease lost mid-cycle bot=%s: the other cycle goes on", bot.pk)
            return outcome(unfinished=True)
        if awaits_its_command(entry, bot):  # it and what follows it wait for the next batch, polled at once
            return outcome(unfinished=True)
        if portal_skills is None:
            portal_skills = load_portal_skills(bot.portal)
        status = handle_entry(
            entry, bot=bot, client=client, portal_skills=portal_skills, lease_token=lease_token
        )
        if status == "skipped":
            return outcome(unfinished=True)
        if status == EventLogEntry.Status.RECEIVED:
            return outcome(retry_at=entry.next_attempt_at)
        verdicts[status] += 1
        client.send_held_calls()  # only those the budget has room for now: the next event's reply goes first
        if entry.event_type == EventType.BOT_DELETE and platform_deleted_bot(entry, bot=bot):
            # The platform deleted the bot: its last event, and the portal's install ends with it.
            log.info(
                "bot deleted on the platform: uninstalling portal=%s bot=%s", bot.portal.member_id, bot.pk
            )
            uninstall_portal(bot.portal, reason="bot_deleted")
            break
    return outcome()


def platform_deleted_bot(entry: EventLogEntry, *, bot: Bot) -> bool:
    """Whether a delete event is about the bot's current platform bot, so the install ends with it.

    Uninstalling destroys the portal's credentials, so the event must come from that bot's queue and name
    it (ONIMBOTV2DELETE carries `bot`, CONTRACT B 7.2): an outside trial's one event naming another bot
    uninstalled a working portal. One that does not is logged and left; if the bot is gone all the same,
    its next poll meets the platform's refusal, which marks it broken for an operator.
    """
    data = entry.payload.get("data") if isinstance(entry.payload, dict) else None
    named = data.get("bot") if isinstance(data, dict) else None
    named_id = named.get("id") if isinstance(named, dict) else None
    if (
        entry.vibe_bot_id == bot.vibe_bot_id
        and named_id is not None
        and str(named_id) == str(bot.vibe_bot_id)
    ):
        return True
    log.warning(
        "delete event %s names platform bot %s (queue of %s), not this bot's %s: the install stays bot=%s",
        entry.vibe_event_id, named_id, entry.vibe_bot_id, bot.vibe_bot_id, bot.pk,
    )  # fmt: skip
    return False


# --- backend runs ---------------------------------------------------------------------------------
RUN_RETRY_BASE = 30.0  # a run waits longer than an event: the minute sweep enqueues it again anyway


def _settle_run(run_id: int, status: str, *, error: str = "", spend_attempt: bool = True) -> str:
    """The run's verdict; `spend_attempt=False` gives back the attempt its claim counted (the skill did not
    run)."""
    refund = {} if spend_attempt else {"attempts": F("attempts") - 1}
    SkillRun.objects.filter(pk=run_id).update(
        status=status, finished_at=timezone.now(), error=error[:4000], **refund
    )
    return status


def note_timed_out_run(run: SkillRun) -> None:
    """Say on `run` that its attempt was stopped by the task queue's timeout, as it is being stopped
    (django-q2 raises TimeoutException in the handler, and the worker ends a few seconds later): counted apart
    from attempts whose worker died unseen, and back to pending, due at once (the minute sweep enqueues it,
    and its next claim fails it once timed_out_too_often). Best effort, as the worker is going: if it is not
    noted, the sweep hands the run back as one whose worker died, as before."""
    try:
        SkillRun.objects.filter(pk=run.pk, status=SkillRun.Status.RUNNING, attempts=run.attempts).update(
            status=SkillRun.Status.PENDING,
            timed_out_attempts=F("timed_out_attempts") + 1,
            due_at=timezone.now(),  # a retry, as _retry_run's: it holds none of the runs due after it
            enqueued_at=None,
            error=_timed_out(run.attempts, advice=RUN_TIMED_OUT_ADVICE),
        )
    except Exception as error:  # noqa: BLE001 - the sweep reads it as a run whose worker died, as before
        log.warning("timed-out attempt not noted skill run=%s: %s", run.pk, describe_error(error))


def _retry_run(run: SkillRun, *, retry_in: float, error: str, spend_attempt: bool = True) -> str:
    """Back to pending, due again in `retry_in` seconds; `spend_attempt=False` gives back the attempt its
    claim counted."""
    refund = {} if spend_attempt else {"attempts": F("attempts") - 1}
    SkillRun.objects.filter(pk=run.pk).update(
        status=SkillRun.Status.PENDING, due_at=timezone.now() + timedelta(seconds=retry_in),
        enqueued_at=None, error=error[:4000], **refund,
    )  # fmt: skip
    return SkillRun.Status.PENDING


def _planned_at(run: SkillRun) -> datetime | None:
    """A scheduled run's or a deferred job's planned time, which its retries keep (they move due_at)."""
    if run.kind not in (SkillRun.Kind.SCHEDULED, SkillRun.Kind.DEFERRED) or "due_at" not in run.payload:
        return None
    return datetime.fromisoformat(run.payload["due_at"])


def catch_up_ends(run: SkillRun) -> datetime | None:
    """Until when a scheduled run or a deferred job is tried again after a passing trouble, however many
    attempts it took: the catch-up window after its planned time (docs/skills.md, 9). Five attempts took under
    eight minutes, so a platform down across 09:30, or a session lapsing as the question went out, lost the
    day's standup, while the same outage just before the sweep only made it late; a reminder due during such
    an outage was failed, and nobody told. The sweep asks it too of a run whose worker died
    (skill_schedules._requeue)."""
    planned = _planned_at(run)
    return None if planned is None else planned + timedelta(minutes=conf.schedule_catch_up_minutes())


# How long a scheduled run waits for its bot to handle the events that happened before its planned time:
# a standup's summary must see the answers written a moment before it, which a busy bot has stored and not
# handled yet. The minute sweep hands a waiting run back (so it waits a minute at a time); past this it runs
# without what is still waiting (an event retried for a long time must not hold the day's summary).
BACKLOG_WAIT = timedelta(minutes=2)
BACKLOG_NOTE = "waiting for the bot's events from before its planned time to be handled"


def _waits_for_backlog(run: SkillRun, bot: Bot | None) -> bool:
    planned = _planned_at(run)
    if run.kind != SkillRun.Kind.SCHEDULED or bot is None or planned is None:
        return False
    return timezone.now() < planned + BACKLOG_WAIT and has_events_waiting_from_before(bot, planned)


def execute_run(run_id: int) -> str:
    """Run one claimed backend run now; returns its new status ("skipped" when another worker has it)."""
    claimed = SkillRun.objects.filter(pk=run_id, status=SkillRun.Status.PENDING).update(
        status=SkillRun.Status.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        # This process: should it die mid-run, the minute sweep hands the run back once it sees it gone.
        worker=worker_lease_prefix(),
    )
    if not claimed:
        return "skipped"
    run = SkillRun.objects.select_related("portal").get(pk=run_id)
    if waits_for_its_turn(run):
        return wait_for_turn(run)
    try:
        return _execute_claimed(run)
    finally:
        hand_on(run)


def _execute_claimed(run: SkillRun) -> str:
    portal = run.portal
    skill = find_skill(run.skill_name)
    if skill is None:
        return _settle_run(
            run.pk, SkillRun.Status.FAILED, error="the skill is no longer configured (BOTCORE_SKILLS)"
        )
    if portal.status == Portal.Status.UNINSTALLED and run.kind != SkillRun.Kind.UNINSTALLED:
        return _settle_run(run.pk, SkillRun.Status.SKIPPED, error="the portal uninstalled the app")
    enabled = list_enabled_skills(portal)
    options = next((opts for s, opts in enabled if s is skill), None)
    if options is None:
        return _settle_run(run.pk, SkillRun.Status.SKIPPED, error="the skill is off for this portal")
    what = f"skill run {run.pk} portal={portal.member_id}"
    retry_until = catch_up_ends(run)
    # Stopped by the task queue's timeout as often as work is: not run again (it would hold a worker, and the
    # skill's later runs on the portal, for the timeout again), only failed and told as other failed runs are.
    gave_up = (
        Verdict("failed", timed_out_attempts_error(run.timed_out_attempts, advice=RUN_TIMED_OUT_ADVICE))
        if timed_out_too_often(run.timed_out_attempts)
        else None
    )
    bot, client, ctx = None, None, None
    try:
        if run.kind != SkillRun.Kind.UNINSTALLED:
            bot = find_active_bot(portal)
            if bot is None:
                raise SessionTokenError("the portal has no active bot yet")
            # Its posts wait behind replies: every portal's standup asks at the same hour on one key.
            client = client_for_bot(bot, default_priority=Priority.RUN)
        info = portal_info(portal)
        event = build_event(run, language=info.language)
        ctx = make_context(
            portal=portal, bot=bot, client=client, skill=skill, event=event, options=options,
            enabled_skills=[s for s, _ in enabled], info=info,
        )  # fmt: skip
    except SessionTokenError as error:  # transient: a session, or the bot, comes later
        verdict = gave_up or judge_failure(
            error, attempts=run.attempts, retry_base=RUN_RETRY_BASE, retry_cap=conf.backoff_max_seconds(),
            retry_until=retry_until,
        )  # fmt: skip
    else:
        if gave_up is not None:
            verdict = gave_up
        elif _waits_for_backlog(run, bot):
            return _retry_run(run, retry_in=0, error=BACKLOG_NOTE, spend_attempt=False)
        else:
            try:
                verdict = run_skill(
                    skill, event, ctx, attempts=run.attempts, what=what,
                    retry_base=RUN_RETRY_BASE, retry_cap=conf.backoff_max_seconds(), retry_until=retry_until,
                    slow_note=RUN_SLOW_NOTE,
                )  # fmt: skip
            except TimeoutException:
                note_timed_out_run(run)
                raise  # django-q2's: the worker ends
        if client is not None:
            send_held(client, deadline=None)
    if verdict.status == "refused":  # the credential was refused: wait for a fresh one, as the bot does
        refusal = SessionTokenError(verdict.error)
        verdict = judge_failure(
            refusal, attempts=run.attempts, retry_base=RUN_RETRY_BASE, retry_cap=conf.backoff_max_seconds(),
            retry_until=retry_until,
        )  # fmt: skip
    if isinstance(verdict.cause, SessionTokenError) and run.kind != SkillRun.Kind.SCHEDULED:
        # A deferred job (or an install's run) that met no usable session waits for one, as the bot's events
        # wait on the platform, spending no attempt: a gap between sessions longer than its retries loses
        # nothing (a reminder due while the session had expired spent them on the refusal and was failed). A
        # schedule's firing does not wait: it keeps its catch-up window (docs/skills.md, 9).
        return _retry_run(run, retry_in=conf.backoff_max_seconds(), error=verdict.error, spend_attempt=False)
    if verdict.status == "done":
        if getattr(ctx, "posts_left_in_doubt", None):
            note_left_in_doubt(run, LeftInDoubt.POST)  # before it is settled: a kill marks it again
        return _settle_run(run.pk, SkillRun.Status.DONE, error=_left_in_doubt(ctx))
    if verdict.status == "retry":
        return _retry_run(run, retry_in=verdict.retry_in, error=verdict.error)
    doubt = verdict.cause if isinstance(verdict.cause, ActionInDoubtError) else None
    if doubt is not None:
        note_left_in_doubt(run, doubt.write)  # before it is settled; its admins hear it by the minute sweep
    status = _settle_run(run.pk, SkillRun.Status.FAILED, error=verdict.error, spend_attempt=gave_up is None)
    if run.kind == SkillRun.Kind.SCHEDULED:
        # A schedule fires with nobody watching. One left in doubt is told as such (doubt_notices), saying
        # what to look for, not as a run that did not happen: one notice, not two.
        if doubt is None:
            tell_admins_of_failed_run(run, skill, cause=verdict.cause)
    elif ctx is not None and not isinstance(verdict.cause, (VibeError, TenantsError)):
        # A job deferred from a person's message works on their behalf: its bug gets them the apology the
        # same bug in handle() would, in their chat, rather than a wait for an answer that never comes.
        origin = getattr(ctx.event, "origin", None)
        if origin is not None:
            apologize_for_failed_event(origin, ctx, answer_command=False, cause=verdict.cause)
    return status
