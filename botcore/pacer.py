"""The pacer: leases due bots and enqueues their poll cycles, each key's poll budget on likely events first.

Several pacers may run against one database: a lease is taken in a transaction that skips rows another
pacer holds (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's immediate transactions serialise
writers instead), and a lease that runs out (its worker died) makes the bot due again by itself.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from botcore import conf
from botcore.cycle_queue import enqueue_cycles
from botcore.models import Bot, Credential
from botcore.selectors import lease_is_free, running_bots
from botcore.services.platform import app_key_for_digest
from botcore.vibe.budget import RequestBudget
from botcore.vibe.learned_budget import poll_budget_for_key
from ops.heartbeat import beat_poller
from tenants.errors import TenantsError
from tenants.models import Portal
from tenants.selectors import get_portal_credential

log = logging.getLogger(__name__)


def _pollable_bots(now):
    return running_bots().filter(lease_is_free(now))


def _take(query, limit: int):
    if connection.features.has_select_for_update_skip_locked:
        query = query.select_for_update(skip_locked=True, of=("self",))
    return list(query.values_list("pk", "portal_id", "credential_kind", "app_key_digest")[:limit])


def _due_bots(now, limit: int):
    """Due bots in the order a short budget polls them: a backlog first; then any bot overdue by more than
    the slow bound, longest overdue first (with a short budget, ranking by recent activity alone would
    starve a quiet bot for good: it gets no events because it is not polled); then recent activity."""
    starved_since = now - timedelta(seconds=conf.poll_slow_seconds())
    query = _pollable_bots(now).filter(next_poll_at__lte=now)
    query = query.annotate(
        overdue_since=Case(When(next_poll_at__lt=starved_since, then=F("next_poll_at")), default=None)
    )
    order = (
        F("has_more").desc(),
        F("overdue_since").asc(nulls_last=True),
        F("last_event_at").desc(nulls_last=True),
        "next_poll_at",
    )
    return _take(query.order_by(*order), limit)


def _early_bots(now, limit: int, exclude: list[int]):
    """Bots not due yet, for budget left over: recently active first.

    The rules (tests/botcore/test_pacer.py holds them): an early poll never goes to a bot that is backing
    off (429, 5xx, network), paused, waiting for a session or broken (only active bots are pollable), and
    never to one polled within BOTCORE_EARLY_POLL_FLOOR_SECONDS, so an idle bot cannot eat the budget
    that replies need.
    """
    floor = now - timedelta(seconds=max(conf.early_poll_floor_seconds(), conf.poll_fast_seconds()))
    query = _pollable_bots(now).filter(next_poll_at__gt=now).exclude(pk__in=exclude)
    query = query.filter(Q(backoff_until__isnull=True) | Q(backoff_until__lte=now))
    query = query.filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=floor))
    return _take(query.order_by(F("last_event_at").desc(nulls_last=True), "next_poll_at"), limit)


PERSONAL_KEY_RECHECK_SECONDS = 60.0  # how long the pacer trusts its copy of a portal's personal key


class Pacer:
    """One pacer process's loop state: the per-key poll budgets it spends."""

    def __init__(self, *, batch: int = 200) -> None:
        self.batch = batch
        self._budgets: dict[str, RequestBudget] = {}
        self._personal_keys: dict[int, tuple[float, str]] = {}  # portal id -> (read at, key)
        self.saturated = False  # the last tick found every in-flight slot taken

    def _personal_key(self, portal_id: int, app_key: str) -> str:
        """The portal's personal key, whose learned rate its polls share (the transport learns it under
        the key itself); the app key's per-portal name when the key cannot be read."""
        read_at, key = self._personal_keys.get(portal_id, (0.0, ""))
        if time.monotonic() - read_at >= PERSONAL_KEY_RECHECK_SECONDS:
            try:
                portal = Portal.objects.get(pk=portal_id)
                key = get_portal_credential(portal, kind="personal").secret
            except (Portal.DoesNotExist, TenantsError):
                key = f"{app_key}:portal:{portal_id}"  # no learned rate: polls share the ceiling
            self._personal_keys[portal_id] = (time.monotonic(), key)
        return key

    def _poll_budget(self, key_name: str) -> RequestBudget:
        """A shared budget for polls alone: the key's rate times the poll share; the rest is for replies."""
        budget = self._budgets.get(key_name)
        if budget is None:
            rate = conf.vibe_budget_per_second()
            budget = poll_budget_for_key(key_name) if rate > 0 else None  # a share of the learned rate
            self._budgets[key_name] = budget
        return budget

    def _admit(self, key_name: str) -> bool:
        budget = self._poll_budget(key_name)
        return budget is None or budget.acquire()

    def tick(self) -> int:
        """Lease and enqueue what is due now within budget; returns how many cycles were enqueued."""
        now = timezone.now()
        # The pacer's lease only has to last until a worker starts the cycle, which then takes a lease of
        # its own: kept short, a pacer that dies between leasing and enqueueing strands no bot for long.
        lease_until = now + timedelta(seconds=conf.enqueue_lease_seconds())
        token = uuid.uuid4().hex
        with transaction.atomic():
            in_flight = Bot.objects.filter(lease_until__gt=now).exclude(lease_token="").count()
            room = min(self.batch, conf.max_cycles_in_flight() - in_flight)
            self.saturated = room <= 0
            if self.saturated:
                return 0
            chosen: list[int] = []
            spent_keys: set[str] = set()  # keys whose budget said no this tick: not asked again
            app_key = conf.vibe_app_key()
            budgeted = conf.vibe_budget_per_second() > 0

            def admit_all(candidates) -> None:
                for bot_id, portal_id, credential_kind, registered_under in candidates:
                    # Budgets are named after the key the bot's calls spend (the credential that registered
                    # it, hashed by budget_for_key), so deployments and test runs sharing one Redis never
                    # share a budget.
                    personal = credential_kind == Credential.PERSONAL
                    if personal:
                        key_name = self._personal_key(portal_id, app_key)
                    else:  # a bot of the app's previous key (a rotation) spends that key's budget
                        key_name = app_key_for_digest(registered_under)
                    if key_name in spent_keys:
                        continue
                    if self._admit(key_name):
                        chosen.append(bot_id)
                    else:
                        spent_keys.add(key_name)  # this key's poll budget is spent; lower priorities wait

            admit_all(_due_bots(now, room))
            if budgeted and len(chosen) < room:
                # Budget the key can still spend is better spent on an early poll than left unused:
                # a first message to a quiet bot is then answered in about a second, not at the slow bound.
                admit_all(_early_bots(now, room - len(chosen), exclude=chosen))
            if chosen:
                Bot.objects.filter(pk__in=chosen).update(lease_token=token, lease_until=lease_until)
        return self._enqueue(chosen, token)

    def _enqueue(self, chosen: list[int], token: str) -> int:
        """Hand the leased cycles to the task queue; a lease whose cycle could not be enqueued is released."""
        enqueued, _ = enqueue_cycles(chosen, token)
        if enqueued:
            log.debug("pacer enqueued %s cycles", len(enqueued))
        return len(enqueued)

    def run(self, *, interval: float = 0.2, stop_after: float | None = None) -> None:
        started = time.monotonic()
        log.info("pacer started")
        while stop_after is None or time.monotonic() - started < stop_after:
            beat_poller()  # throttled; it stands in for the poller, so /readyz reads it as the poller
            try:
                enqueued = self.tick()
            except Exception:  # the loop outlives a database hiccup; the next tick tries again
                log.exception("pacer tick failed")
                enqueued = 0
            # Nothing due: wait a tick. Work waiting for a free slot: look again soon, without spinning.
            time.sleep(min(interval, 0.02) if enqueued or self.saturated else interval)
