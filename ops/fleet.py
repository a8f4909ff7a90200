"""The fleet at a glance, for the admin dashboard and the operator API: a handful of aggregate queries.

Every figure carries the admin list behind it (`url`), so a number on the dashboard is one click from the
rows that make it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from botcore.models import Bot, EventLogEntry
from botcore.selectors import count_bots_by_status, get_event_backlog
from ops.heartbeat import list_processes, process_state, this_process
from ops.minutes import UtcMinute
from ops.release import running_release
from tenants.models import Portal
from tenants.selectors import annotate_credentials, count_portals_by_status

# What the fleet's figures count: reading them takes the view right on each (ops.api_rights.may_read).
FLEET_MODELS = (Portal, Bot, EventLogEntry)


@dataclass(frozen=True)
class Figure:
    label: str
    value: int  # a count
    url: str


@dataclass(frozen=True)
class Process:
    """A long-running process as its last heartbeat tells it (ops/heartbeat.py)."""

    kind: str  # "poller", "qcluster", or "web" (the process answering)
    instance: str  # `host:pid@pid-space` (of releases before: `host:pid`, or the host alone)
    release: str  # the code it runs (ops/release.py); "" for a beat from before releases were written
    seconds_since_beat: float
    is_alive: bool  # ops.heartbeat.process_state: its last beat still holds, not stopped
    is_stopped: bool = False  # stopped on purpose (SIGTERM), not silent


@dataclass(frozen=True)
class Fleet:
    portals: list[Figure]
    bots: list[Figure]
    bots_backing_off: Figure
    sessions_expiring_24h: Figure
    backlog: Figure
    oldest_unhandled_seconds: float | None
    events_last_hour: Figure
    failures_last_hour: Figure
    events_per_minute: list[int]
    failures_per_minute: list[int]
    p95_handler_ms: int | None
    failing_skills: list[Figure] = field(default_factory=list)
    failing_portals: list[Figure] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    @property
    def releases(self) -> list[str]:
        """The releases the live processes run: more than one while an upgrade is under way (or stuck)."""
        return sorted({p.release for p in self.processes if p.is_alive and p.release})


def _changelist(model_name: str, **query: object) -> str:
    url = reverse(f"admin:{model_name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


def _count_by_minute(queryset) -> dict[datetime, int]:
    """The rows of `queryset` received in each minute. Grouped by nothing but the time, the query reads only
    an index (received_at, or status + received_at for one status), never the rows and their payloads."""
    return dict(
        queryset.annotate(minute=UtcMinute("received_at"))
        .values_list("minute")
        .annotate(n=Count("*"))  # not the id's: PostgreSQL reads it from the rows
        .order_by()
    )


def _per_minute(counts: dict[datetime, int], *, since: datetime, minutes: int) -> list[int]:
    """The counts of each whole minute after `since`'s, oldest first."""
    start = since.replace(second=0, microsecond=0)
    return [counts.get(start + timedelta(minutes=i), 0) for i in range(1, minutes + 1)]


def _p95(queryset) -> int | None:
    """The 95th percentile of handler durations, by offset: the same query on SQLite and PostgreSQL.

    Only settled events have a duration (executor._finish sets it, a replay clears it), so the timed rows
    are those with one: asked so, the count and the sort read event_duration_idx alone. Excluding the
    waiting events by status too read every row of the hour, twice (1.3 s at 100,000 on SQLite)."""
    timed = queryset.filter(duration_ms__isnull=False)
    total = timed.count()
    if not total:
        return None
    return timed.order_by("duration_ms").values_list("duration_ms", flat=True)[
        min(total - 1, int(total * 0.95))
    ]


def _processes(now: datetime) -> list[Process]:
    """This web process, and the processes heard from within HEARTBEATS_KEPT_FOR (the rows are deleted after
    it), the silent and the stopped among them marked: each restarted process leaves the row of the one
    before, and a container recreated on deploy beats under a new host name."""
    states = [(beat, process_state(beat, now=now)) for beat in list_processes(now=now)]
    beats = [
        Process(
            kind=beat.kind,
            instance=beat.instance,
            release=beat.release,
            seconds_since_beat=(now - beat.beat_at).total_seconds(),
            is_alive=state == "alive",
            is_stopped=state == "stopped",
        )
        for beat, state in states
    ]
    this_web = Process("web", this_process(), running_release(), 0.0, True)
    return [this_web, *beats]


def gather_fleet(*, now: datetime | None = None, top: int = 5) -> Fleet:
    now = now or timezone.now()
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    portal_counts = count_portals_by_status()
    bot_counts = count_bots_by_status()
    expiring = (
        annotate_credentials(Portal.objects.filter(status=Portal.Status.ACTIVE), at=now)
        .filter(
            has_personal_key=False, best_expires_at__gt=now, best_expires_at__lte=now + timedelta(hours=24)
        )
        .count()
    )
    # Active bots whose last cycles failed (the platform down, 5xx, no answer): *Active* says nothing of it.
    backing_off = {"status__exact": Bot.Status.ACTIVE, "backoff_until__gt": now.isoformat()}
    backlog = get_event_backlog()
    last_hour = EventLogEntry.objects.filter(received_at__gt=hour_ago)
    # The chart's two series and the hour's two totals: a count by minute each (the totals were two queries
    # more, each reading the hour's events again).
    events_by_minute = _count_by_minute(last_hour)
    failures_by_minute = _count_by_minute(last_hour.filter(status=EventLogEntry.Status.FAILED))
    failed_day = EventLogEntry.objects.filter(status=EventLogEntry.Status.FAILED, received_at__gt=day_ago)
    since = {"received_at__gte": hour_ago.isoformat()}
    since_day = {"received_at__gte": day_ago.isoformat()}
    return Fleet(
        portals=[
            Figure(label, portal_counts[value], _changelist("tenants_portal", status__exact=value))
            for value, label in Portal.Status.choices
        ],
        bots=[
            Figure(label, bot_counts[value], _changelist("botcore_bot", status__exact=value))
            for value, label in Bot.Status.choices
        ],
        bots_backing_off=Figure(
            "Active bots backing off now",
            Bot.objects.filter(status=Bot.Status.ACTIVE, backoff_until__gt=now).count(),
            _changelist("botcore_bot", **backing_off),
        ),
        sessions_expiring_24h=Figure(
            "Sessions expiring within 24 h", expiring, _changelist("tenants_portal", session_expires="24h")
        ),
        backlog=Figure(
            "Backlog (stored, not handled)",
            backlog.count,
            _changelist("botcore_eventlogentry", status__exact="received"),
        ),
        oldest_unhandled_seconds=(
            (now - backlog.oldest_received_at).total_seconds() if backlog.oldest_received_at else None
        ),
        events_last_hour=Figure(
            "Events in the last hour",
            sum(events_by_minute.values()),
            _changelist("botcore_eventlogentry", **since),
        ),
        failures_last_hour=Figure(
            "Failures in the last hour",
            sum(failures_by_minute.values()),
            _changelist("botcore_eventlogentry", status__exact="failed", **since),
        ),
        events_per_minute=_per_minute(events_by_minute, since=hour_ago, minutes=60),
        failures_per_minute=_per_minute(failures_by_minute, since=hour_ago, minutes=60),
        p95_handler_ms=_p95(last_hour),
        failing_skills=[
            Figure(
                row["skill"] or gettext("(no skill)"),
                row["n"],
                _changelist(
                    "botcore_eventlogentry", status__exact="failed", skill__exact=row["skill"], **since_day
                ),
            )
            for row in failed_day.values("skill").annotate(n=Count("pk")).order_by("-n", "skill")[:top]
        ],
        failing_portals=[
            Figure(
                row["bot__portal__domain"],
                row["n"],
                _changelist(
                    "botcore_eventlogentry",
                    status__exact="failed",
                    bot__portal=row["bot__portal"],
                    **since_day,
                ),
            )
            for row in failed_day.values("bot__portal", "bot__portal__domain")
            .annotate(n=Count("pk"))
            .order_by("-n", "bot__portal__domain")[:top]
        ],
        processes=_processes(now),
    )
