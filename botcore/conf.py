"""Lazy readers of botcore's settings: each reads Django settings at call time, with a default.

Read at call time (never at import) so tests can override settings, and so code that runs without
Django configured (benchmarks, bot_shell, the VibeCode client built from constructor arguments) still
gets the defaults instead of ImproperlyConfigured.
"""

from __future__ import annotations

from typing import Any

# The platform's per-key limit is 10 requests/s (CONTRACT part A §3); staying slightly under it keeps
# the platform's 429 the exception even with clock skew between processes.
DEFAULT_BUDGET_PER_SECOND = 9.0


def read_setting(name: str, default: Any) -> Any:
    """`settings.<name>` if Django is configured and defines it, else `default`."""
    from django.conf import settings

    if not settings.configured:
        return default
    return getattr(settings, name, default)


def vibe_base_url() -> str:
    """Where the VibeCode API lives, e.g. "https://vibecode.bitrix24.tech/v1"."""
    return str(read_setting("VIBE_BASE_URL", "https://vibecode.bitrix24.tech/v1")).rstrip("/")


def vibe_app_key() -> str:
    """The app's own `vibe_app_…` key (empty when not configured)."""
    return str(read_setting("VIBE_APP_KEY", "") or "")


def vibe_app_key_previous() -> str:
    """The app's key before an operator rotated VIBE_APP_KEY (empty when none): bots registered under it are
    still called with it until they are drained and retired (botcore.services.platform.app_key_for_bot)."""
    return str(read_setting("VIBE_APP_KEY_PREVIOUS", "") or "")


def vibe_connect_timeout() -> float:
    """Seconds to open a connection to the platform."""
    return float(read_setting("VIBE_CONNECT_TIMEOUT", 5.0))


def vibe_read_timeout() -> float:
    """Seconds to wait for an answer (long-polls add their own hold time on top)."""
    return float(read_setting("VIBE_READ_TIMEOUT", 30.0))


def vibe_max_attempts() -> int:
    """How many times one call may be sent, the first try included, where a retry is safe."""
    return max(1, int(read_setting("VIBE_MAX_ATTEMPTS", 4)))


def vibe_retry_max_wait() -> float:
    """The longest a single retry waits: backoff is capped here, and a longer Retry-After is not waited."""
    return float(read_setting("VIBE_RETRY_MAX_WAIT", 30.0))


def vibe_identity_check_seconds() -> float:
    """The longest a visit's identity check (GET /v1/me, the OAuth exchange) takes, its retries included: a
    person waits on the page meanwhile, and a web worker with them; past it the visit is told to try again."""
    return float(read_setting("VIBE_IDENTITY_CHECK_SECONDS", 10.0))


def vibe_retry_backoff_base() -> float:
    """The first retry's backoff window in seconds; each further retry doubles it (full jitter)."""
    return float(read_setting("VIBE_RETRY_BACKOFF_BASE", 0.25))


def vibe_budget_per_second() -> float:
    """Requests per second one key may spend across the whole deployment; 0 turns the budget off."""
    return float(read_setting("VIBE_BUDGET_PER_SECOND", DEFAULT_BUDGET_PER_SECOND))


def vibe_budget_burst() -> int:
    """How many requests may leave at once after a quiet spell (1 = perfectly paced)."""
    return max(1, int(read_setting("VIBE_BUDGET_BURST", 1)))


def vibe_budget_max_wait() -> float:
    """The longest a call blocks waiting for budget before it gives up with VibeBudgetTimeoutError."""
    return float(read_setting("VIBE_BUDGET_MAX_WAIT", 30.0))


def vibe_budget_backend() -> str:
    """ "auto" (Redis when REDIS_URL is set, else the database), "redis", "database", "local" or "off"."""
    return str(read_setting("VIBE_BUDGET_BACKEND", "auto")).lower()


def redis_url() -> str:
    """The deployment's Redis, shared with the cache and the task queue; empty when there is none."""
    return str(read_setting("REDIS_URL", "") or "")


# --- the bot engine (provisioning, the poll cycle, the pacer) ---------------------------------------
def bot_code() -> str:
    """The `code` every portal's bot is registered under (one bot per portal)."""
    return str(read_setting("BOTCORE_BOT_CODE", "vibe_bot"))


def bot_profile() -> dict[str, str]:
    """Name, color and work position of a newly registered bot."""
    return {
        "name": str(read_setting("BOTCORE_BOT_NAME", "Vibe Bot")),
        "color": str(read_setting("BOTCORE_BOT_COLOR", "AQUA")),
        "work_position": str(read_setting("BOTCORE_BOT_WORK_POSITION", "Your team's assistant")),
    }


def poll_batch_size() -> int:
    """Events asked for per cycle (the platform allows 1..1000)."""
    return min(1000, max(1, int(read_setting("BOTCORE_POLL_BATCH_SIZE", 100))))


def poll_fast_seconds() -> float:
    """The shortest pause between two cycles of an active bot."""
    return float(read_setting("BOTCORE_POLL_FAST_SECONDS", 1.0))


def poll_slow_seconds() -> float:
    """The longest pause between two cycles of an idle bot."""
    return float(read_setting("BOTCORE_POLL_SLOW_SECONDS", 15.0))


def poll_long_poll_seconds() -> float:
    """The poller asks the platform to hold an empty answer this long (0: never long-poll).

    A platform that honours it answers the moment an event arrives, and an idle bot costs one call per
    hold; one that answers at once anyway is watched at the adaptive cadence instead. Cycles never ask.
    """
    return min(30.0, max(0.0, float(read_setting("BOTCORE_LONG_POLL_SECONDS", 25.0))))


def poller_max_in_flight() -> int:
    """Watches one poller keeps open at once (and its HTTP connections): with long-polls held, at least
    the fleet's size, or the bots past it wait for a free slot."""
    return max(1, int(read_setting("BOTCORE_POLLER_MAX_IN_FLIGHT", 10000)))


def max_cycles_in_flight() -> int:
    """Leased cycles allowed at once, across every pacer: about what the workers can run.

    Enqueueing more only lengthens the broker's FIFO queue, and then a bot with a fresh message waits
    behind idle bots; kept short, the pacer's priority order decides who goes next.
    """
    workers = int((read_setting("Q_CLUSTER", {}) or {}).get("workers", 4))
    return max(1, int(read_setting("BOTCORE_MAX_CYCLES_IN_FLIGHT", 0) or workers * 2))


# --- one cycle's time: lease > the task queue's timeout > the cycle's own deadline -------------------
def lease_seconds() -> float:
    """How long a lease on a bot lasts from its last renewal: a cycle that dies is retried after this.

    It must outlast the task queue's timeout (the longest a worker may run a cycle before it is killed),
    so that two cycles never hold one bot: see check_cycle_timing().
    """
    return float(read_setting("BOTCORE_LEASE_SECONDS", 120.0))


def enqueue_lease_seconds() -> float:
    """How long a pacer's lease waits for a worker to start the cycle (which then leases the bot itself)."""
    return float(read_setting("BOTCORE_ENQUEUE_LEASE_SECONDS", 15.0))


def task_timeout_seconds() -> float:
    """django-q2's timeout: a worker running a task longer than this is killed."""
    return float((read_setting("Q_CLUSTER", {}) or {}).get("timeout", 90) or 90)


def cycle_deadline_seconds() -> float:
    """A cycle stops handing events to skills after this long and leaves the rest to the next cycle."""
    return float(read_setting("BOTCORE_CYCLE_DEADLINE_SECONDS", 30.0))


def call_deadline_seconds() -> float:
    """From a cycle's start, the time after which none of its platform calls is sent or waited for.

    Halfway between the cycle's deadline and the task queue's timeout: a platform that hangs then ends in
    a transient failure the cycle records (and backs off from), well before the queue kills the worker.
    """
    return (cycle_deadline_seconds() + task_timeout_seconds()) / 2


def check_cycle_timing() -> list[str]:
    """What is wrong with lease > task timeout > cycle deadline (empty when all is well)."""
    lease, timeout, deadline = lease_seconds(), task_timeout_seconds(), cycle_deadline_seconds()
    problems = []
    if not lease > timeout:
        problems.append(
            f"BOTCORE_LEASE_SECONDS ({lease:g}) must exceed the task queue's timeout ({timeout:g}): "
            "a cycle still running when its lease ends would share its bot with the next one"
        )
    if not timeout > deadline:
        problems.append(
            f"the task queue's timeout ({timeout:g}) must exceed BOTCORE_CYCLE_DEADLINE_SECONDS "
            f"({deadline:g}): a cycle would be killed before it stops by itself"
        )
    retry = float((read_setting("Q_CLUSTER", {}) or {}).get("retry", 0) or 0)
    if retry and not retry > timeout:
        problems.append(f"the task queue's retry ({retry:g}) must exceed its timeout ({timeout:g})")
    return problems


def task_stamp_seconds() -> float:
    """How long a row's stamp saying its task is queued or running (a bot's provisioning, a portal's command
    sync) keeps another from being queued: past it, that task is taken to be lost (its worker killed, its
    broker emptied). It covers a wait in the queue, then the run, which the queue kills at its timeout."""
    return max(float(read_setting("BOTCORE_TASK_STAMP_SECONDS", 600.0)), task_timeout_seconds())


def provisioning_concurrency() -> int:
    """How many provisionings may be queued or running at once. Each one holds a worker of the task queue
    while its calls wait for the key's slots: a mass install's 200 held every worker, and the cycles that
    carry replies queued behind them. The rest wait as PENDING bots; each one that ends starts the next."""
    return max(1, int(read_setting("BOTCORE_PROVISIONING_CONCURRENCY", 4)))


def early_poll_floor_seconds() -> float:
    """The least time between two early polls of one bot (spare budget never polls a bot more often)."""
    return float(read_setting("BOTCORE_EARLY_POLL_FLOOR_SECONDS", 5.0))


def portal_provisioning_rate() -> str:
    """How many provisionings a portal's installs may ask for in a window, as django-ratelimit writes a rate
    ("5/h"): each registers a bot and its commands on the app key every portal shares."""
    return str(read_setting("BOTCORE_PORTAL_PROVISIONING_RATE", "5/h"))


def backoff_max_seconds() -> float:
    """The ceiling of the exponential backoff after 5xx and network failures."""
    return float(read_setting("BOTCORE_BACKOFF_MAX_SECONDS", 300.0))


def doubt_notice_window_seconds() -> float:
    """At most one notice per bot in this long tells its portal's admins of requests left in doubt
    (services/doubt_notices.py): a platform failing mid-write fails many at once, and the notice after the
    window counts those since."""
    return max(60.0, float(read_setting("BOTCORE_DOUBT_NOTICE_WINDOW_SECONDS", 3600.0)))


def poll_budget_share() -> float:
    """The share of a key's request budget the pacer may spend on polls; the rest is left for replies."""
    return min(1.0, max(0.05, float(read_setting("BOTCORE_POLL_BUDGET_SHARE", 0.6))))


def event_log_retention_days() -> int:
    """Event log entries older than this are pruned."""
    return int(read_setting("BOTCORE_EVENT_LOG_RETENTION_DAYS", 14))


def schedule_catch_up_minutes() -> int:
    """How late a schedule's firing is still made: missed by a sweep, or its run kept from finishing by a
    passing trouble (the platform down, the session lapsed)."""
    return max(1, int(read_setting("BOTCORE_SCHEDULE_CATCH_UP_MINUTES", 15)))


def handle_max_attempts() -> int:
    """How many times a stored event (or a backend run) is handed to its skill before it is failed."""
    return max(1, int(read_setting("BOTCORE_HANDLE_MAX_ATTEMPTS", 5)))


def handle_max_timed_out_attempts() -> int:
    """How many attempts at a stored event, a deferred job or a scheduled run may run past the task queue's
    timeout (VIBE_Q_TIMEOUT) before it is failed: such a handler is the skill's own slow work (the platform's
    calls end by the cycle's deadline), which each try holds a worker for, and the bot's later events (or
    the skill's later runs on the portal) behind it, for the whole timeout; one more try is for a service of
    the skill's that hung once. Read by executor.timed_out_too_often only."""
    return max(1, int(read_setting("BOTCORE_HANDLE_MAX_TIMED_OUT_ATTEMPTS", 2)))


def handle_retry_base_seconds() -> float:
    """The first wait before an event that met a passing failure is handed to its skill again."""
    return float(read_setting("BOTCORE_HANDLE_RETRY_BASE_SECONDS", 1.0))


def handle_retry_max_seconds() -> float:
    """The longest wait between two attempts at one event (backend runs wait up to backoff_max_seconds)."""
    return float(read_setting("BOTCORE_HANDLE_RETRY_MAX_SECONDS", 60.0))


def handle_retry_window_seconds() -> float:
    """How long after an event came a passing failure (the platform's 5xx, a dropped connection) is still
    retried, past BOTCORE_HANDLE_MAX_ATTEMPTS: the attempts' backoff spends them in seconds, and a platform
    failing for a minute failed every message that came in meanwhile; so is an attempt whose worker died once
    after such a failure (executor._tried_past_the_attempts). 0: the attempts' limit alone."""
    return max(0.0, float(read_setting("BOTCORE_HANDLE_RETRY_WINDOW_SECONDS", 300.0)))


def skill_run_retention_days() -> int:
    """Finished skill runs older than this are pruned (a deferred job's key de-duplicates for as long)."""
    return max(1, int(read_setting("BOTCORE_SKILL_RUN_RETENTION_DAYS", 30)))


def action_record_retention_days() -> int:
    """Once-only action records older than this are pruned, but never before the events and runs that could
    replay them: a record gone first would let a replay upload or create a chat a second time."""
    days = int(read_setting("BOTCORE_ACTION_RECORD_RETENTION_DAYS", 30))
    return max(1, days, event_log_retention_days(), skill_run_retention_days())


def conversation_state_retention_days() -> int:
    """Conversation states untouched for this long are pruned."""
    return max(1, int(read_setting("BOTCORE_CONVERSATION_STATE_RETENTION_DAYS", 90)))


def failed_task_retention_days() -> int:
    """django-q2's failed task rows older than this are pruned (save_limit bounds only successful ones)."""
    return max(1, int(read_setting("BOTCORE_FAILED_TASK_RETENTION_DAYS", 14)))


def outside_hosts_allowed() -> list[str]:
    """Hosts (names or addresses) skills may call although they are on a private network or this host
    (botcore.skills.outbound): empty unless an operator names their own services on purpose."""
    return [str(host) for host in read_setting("BOTCORE_OUTSIDE_HOSTS_ALLOWED", []) or []]


def outside_ports_allowed() -> list[int]:
    """Ports besides 80 and 443 that skills may call (botcore.skills.outbound), on any host they may call:
    empty unless an operator names a service's own port (a tracker on 8443, say)."""
    return [int(port) for port in read_setting("BOTCORE_OUTSIDE_PORTS_ALLOWED", []) or []]
