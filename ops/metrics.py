"""The app's Prometheus series (`vibeapp_…`) and the one-line recorders the hot paths call.

Across processes (gunicorn workers, qcluster workers, the poller) the series live in PROMETHEUS_MULTIPROC_DIR,
one file per process, and /metrics sums them (prometheus_client's multiprocess mode). Labels stay bounded:
outcome, event type, status class; never a portal or a bot.
"""

from __future__ import annotations

import os
from typing import get_args

from prometheus_client import Counter, Histogram, values

from botcore.host_identity import this_host_tag

# This process's pid and what names its files in PROMETHEUS_MULTIPROC_DIR (metrics_file_id).
_file_id: tuple[int, str] | None = None


def metrics_file_id() -> str:
    """What names this process's series files: `<pid space>-<pid>`, the pid space as the leases and the
    heartbeats name it (botcore.host_identity.this_host_tag). Containers each number their processes from 1,
    and two sharing the directory under one host name (compose's `hostname:` on a scaled service, pods with
    hostNetwork) were both `<host>-1`: one file, and of two counts made at once one was lost.
    prometheus_client asks at every increment (another answer means a fork), so it is read once per pid."""
    global _file_id
    pid = os.getpid()
    if _file_id is None or _file_id[0] != pid:
        _file_id = (pid, f"{this_host_tag()}-{pid}")
    return _file_id[1]


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    values.ValueClass = values.MultiProcessValue(process_identifier=metrics_file_id)

POLLS = Counter("vibeapp_polls", "Poll cycles by outcome", ["outcome"])
EVENTS_STORED = Counter(
    "vibeapp_events_stored", "Events stored in the event log (new, deduplicated), by type", ["event_type"]
)
EVENTS_FINISHED = Counter(
    "vibeapp_events_finished", "Events that left the backlog, by type and outcome", ["event_type", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "vibeapp_event_handler_seconds",
    "From storing an event to its handler finishing",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
EVENT_AGE_SECONDS = Histogram(
    "vibeapp_event_age_seconds",
    "From the platform's event date to its handler finishing",
    buckets=(1, 2.5, 5, 15, 60, 300, 900, 3600, 21600, 86400),
)
PLATFORM_RESPONSES = Counter(
    "vibeapp_platform_responses", "Platform answers by status class", ["status_class"]
)
RATE_LIMITED = Counter("vibeapp_platform_rate_limited", "Platform answers 429 (any caller)")
BEST_EFFORT_CALLS = Counter(
    "vibeapp_best_effort_calls",
    "Best-effort calls (reactions, read marks, typing) the request budget had no room for, by what became of"
    " them",
    ["outcome"],
)
BACKOFFS = Counter(
    "vibeapp_poll_backoffs", "Poll cycles that backed off (5xx, network, unexpected, no events path)"
)
WRITES_IN_DOUBT = Counter(
    "vibeapp_writes_in_doubt",
    "Once-only writes (post, chat, upload) whose call failed after the platform may have acted, by outcome",
    ["write", "outcome"],
)

# What a poll cycle ends as (botcore.services.polling.CycleStatus, as operators.md lists them; a test keeps
# them equal).
POLL_OUTCOMES = (
    "polled",
    "rate_limited",
    "backoff",
    "app_key_refused",
    "no_session",
    "reprovision",
    "broken",
    "skipped",
    "not_active",
    "request_refused",
    "no_such_path",
)
# The outcomes of a cycle that backed off a step after a failure (vibeapp_poll_backoffs_total).
BACKED_OFF_OUTCOMES = frozenset({"backoff", "no_such_path"})
FINISHED_OUTCOMES = ("handled", "ignored", "failed")

# Known event types (EventType values) stay as they are; anything else is one bucket, so labels stay bounded.
_known_types: frozenset[str] | None = None


def _event_type_label(event_type: str) -> str:
    global _known_types
    if _known_types is None:
        from botcore.vibe.events import EventType

        _known_types = frozenset(t.value for t in EventType) | {"MALFORMED"}
    return event_type if event_type in _known_types else "other"


def record_poll_outcome(*, status: str) -> None:
    POLLS.labels(outcome=status).inc()
    if status in BACKED_OFF_OUTCOMES:
        BACKOFFS.inc()


def record_events_stored(*, event_types: list[str]) -> None:
    for event_type in event_types:
        EVENTS_STORED.labels(event_type=_event_type_label(event_type)).inc()


def record_platform_response(status_code: int) -> None:
    PLATFORM_RESPONSES.labels(status_class=f"{status_code // 100}xx").inc()
    if status_code == 429:
        RATE_LIMITED.inc()


def record_held_call(outcome: str) -> None:
    BEST_EFFORT_CALLS.labels(outcome=outcome).inc()


def record_write_in_doubt(*, write: str, outcome: str) -> None:
    WRITES_IN_DOUBT.labels(write=write, outcome=outcome).inc()


def record_event_finished(
    *, event_type: str, outcome: str, handler_seconds: float | None, age_seconds: float | None
) -> None:
    EVENTS_FINISHED.labels(event_type=_event_type_label(event_type), outcome=outcome).inc()
    if handler_seconds is not None and handler_seconds >= 0:
        HANDLER_SECONDS.observe(handler_seconds)
    if age_seconds is not None and age_seconds >= 0:
        EVENT_AGE_SECONDS.observe(age_seconds)


def _zero_known_series() -> None:
    """Each known label set as a series at 0 from the process's start. A labelled series appeared only with
    its first increment, already at 1, and `rate()` or `increase()` read no rise from a series that was not
    there: the alert on replies left in doubt stayed silent for a process's first one, and the failure ratio
    missed each event type's first failure."""
    from botcore.skills.signals import DoubtfulWrite, DoubtOutcome
    from botcore.vibe.events import EventType
    from botcore.vibe.hooks import HeldCallOutcome

    for outcome in POLL_OUTCOMES:
        POLLS.labels(outcome=outcome)
    for status_class in ("2xx", "3xx", "4xx", "5xx"):
        PLATFORM_RESPONSES.labels(status_class=status_class)
    for event_type in [*(t.value for t in EventType), "other"]:
        for outcome in FINISHED_OUTCOMES:
            EVENTS_FINISHED.labels(event_type=event_type, outcome=outcome)
    for outcome in get_args(HeldCallOutcome):
        BEST_EFFORT_CALLS.labels(outcome=outcome)
    for write in get_args(DoubtfulWrite):
        for outcome in get_args(DoubtOutcome):
            WRITES_IN_DOUBT.labels(write=write, outcome=outcome)


_zero_known_series()
