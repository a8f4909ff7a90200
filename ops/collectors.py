"""Figures read when /metrics is scraped (never on a hot path): portals, sessions, bots, backlog, learned
rates.

Each is one aggregate query; labels are statuses and fixed buckets, never a portal. A part that cannot be
read (the database or Redis down) is left out, `vibeapp_scrape_part_up{part}` says so, and the rest of the
scrape still answers: in an outage the counters are what the operator needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from botcore import conf
from botcore.selectors import count_bots_by_status, get_event_backlog
from botcore.vibe.learned_budget import learned_rates
from ops.heartbeat import count_processes
from ops.models import Heartbeat
from tenants.models import Portal, SessionGrant
from tenants.selectors import count_portals_by_status

log = logging.getLogger(__name__)

SESSION_WINDOWS = (("1h", timedelta(hours=1)), ("6h", timedelta(hours=6)), ("24h", timedelta(hours=24)))


def count_sessions_by_state(now) -> dict[str, int]:
    """Grants: invalidated, expired, and live ones by how soon they expire (expiring_1h ⊂ 6h ⊂ 24h)."""
    live = Q(invalidated_at__isnull=True, expires_at__gt=now)
    figures = SessionGrant.objects.aggregate(
        invalidated=Count("pk", filter=Q(invalidated_at__isnull=False)),
        expired=Count("pk", filter=Q(invalidated_at__isnull=True, expires_at__lte=now)),
        live=Count("pk", filter=live),
        **{
            f"expiring_{name}": Count("pk", filter=live & Q(expires_at__lte=now + span))
            for name, span in SESSION_WINDOWS
        },
    )
    return {state: int(value or 0) for state, value in figures.items()}


class FleetCollector(Collector):
    def collect(self):
        parts: list[tuple[str, Callable[[], Iterable[GaugeMetricFamily]]]] = [
            ("fleet", self.fleet_figures),
            ("learned_rates", self.learned_rates),
        ]
        up = GaugeMetricFamily(
            "vibeapp_scrape_part_up",
            "1 when this part of the figures read at scrape time was read",
            labels=["part"],
        )
        for part, read in parts:
            try:
                families = list(read())  # read whole before any is yielded: a failure leaves none half out
            except Exception as error:  # noqa: BLE001  (the database's, Redis's: each client its own family)
                log.warning(
                    "metrics: %s not read (%s): left out of this scrape; /readyz names what is down",
                    part,
                    error.__class__.__name__,
                )
                up.add_metric([part], 0)
                continue
            up.add_metric([part], 1)
            yield from families
        yield up

    def fleet_figures(self) -> Iterable[GaugeMetricFamily]:
        now = timezone.now()
        portals = GaugeMetricFamily("vibeapp_portals", "Portals by status", labels=["status"])
        for status, count in count_portals_by_status().items():
            portals.add_metric([status], count)
        yield portals

        sessions = GaugeMetricFamily("vibeapp_sessions", "Session grants by state", labels=["state"])
        for state, value in count_sessions_by_state(now).items():
            sessions.add_metric([state], value)
        yield sessions

        soonest = SessionGrant.objects.filter(
            invalidated_at__isnull=True, expires_at__gt=now, portal__status=Portal.Status.ACTIVE
        ).aggregate(at=Min("expires_at"))["at"]
        if soonest is not None:
            yield GaugeMetricFamily(
                "vibeapp_session_soonest_expiry_seconds",
                "Seconds until the first live session of an active portal expires",
                value=(soonest - now).total_seconds(),
            )

        bots = GaugeMetricFamily("vibeapp_bots", "Bots by status", labels=["status"])
        for status, count in count_bots_by_status().items():
            bots.add_metric([status], count)
        yield bots

        backlog = get_event_backlog()
        yield GaugeMetricFamily("vibeapp_event_backlog", "Stored events not handled yet", value=backlog.count)
        yield GaugeMetricFamily(
            "vibeapp_event_oldest_unhandled_seconds",
            "Age of the oldest stored event not handled yet (0: none)",
            value=(now - backlog.oldest_received_at).total_seconds() if backlog.oldest_received_at else 0,
        )

        beats = GaugeMetricFamily(
            "vibeapp_heartbeat_age_seconds",
            "Seconds since any process of each kind last did its work (the poller's round, a qcluster's task"
            " or its minute's schedule)",
            labels=["kind"],
        )
        for kind, latest in Heartbeat.objects.values_list("kind").annotate(latest=Max("worked_at")):
            if latest is not None:
                beats.add_metric([kind], (now - latest).total_seconds())
        yield beats

        # The age above is the newest work's: one qcluster of two dead leaves it low. Alert on this count
        # below the number of processes the deployment runs (ops.heartbeat.process_state says alive).
        processes = GaugeMetricFamily(
            "vibeapp_processes_alive",
            "Processes of each kind whose last beat still holds and that were not stopped",
            labels=["kind"],
        )
        for kind in Heartbeat.Kind.values:
            processes.add_metric([kind], count_processes(kind, now=now).alive)
        yield processes

    def learned_rates(self) -> Iterable[GaugeMetricFamily]:
        # The app key's learned request rate, for the key as a whole and for each portal (the same for all).
        rates = learned_rates(conf.vibe_app_key()) if conf.vibe_app_key() else None
        learned = GaugeMetricFamily(
            "vibeapp_budget_learned_rate_per_second",
            "The app key's learned request rate, by scope",
            labels=["scope"],
        )
        if rates is not None:
            learned.add_metric(["key"], rates.key)
            learned.add_metric(["portal"], rates.per_portal)
            learned.add_metric(["ceiling"], rates.ceiling)
        yield learned
