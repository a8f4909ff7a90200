"""Handing leased bots to their poll cycles: a django-q2 task each, over one broker per process.

The poller and the pacer both lease bots and enqueue their cycles here. django-q2's `async_task` makes a new
broker for every call unless given one, and on Redis a new broker is a new connection pool, so every
enqueue opened (and dropped) a TCP connection: 1.8 CPU-ms an enqueue, against 0.26 over a connection kept
open (README, "One broker connection, and fewer read-backs"). The broker is kept per process id, as the
platform's HTTP client is (botcore/per_process.py). A Redis connection broken by a restart is replaced by
redis-py at the next call; the call that met it fails, and its lease is released like any failed enqueue.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

from botcore.models import Bot
from botcore.per_process import PerProcess

log = logging.getLogger(__name__)

_broker: PerProcess[Broker] = PerProcess(get_broker)


def cycle_broker() -> Broker:
    """This process's broker for poll cycles (the configured one: ORM or Redis)."""
    return _broker.get()


def enqueue_cycles(
    bot_ids: Sequence[int], lease_token: str, watched: Mapping[int, dict] | None = None
) -> tuple[list[int], list[int]]:
    """Enqueue the poll cycle of each bot (leased with `lease_token`); returns (enqueued, not enqueued).

    `watched` holds, by bot, what the poller's watch read (botcore.services.polling.watched_batch): it goes
    with the task, so the cycle need not fetch it again. When the broker refuses, the leases of the bots not
    enqueued are released at once: a broker outage must not leave bots waiting out their leases.
    """
    watched = watched or {}
    for position, bot_id in enumerate(bot_ids):
        # `watched` only where there is one: a task without it runs on workers older than 2d0ca66 too.
        handed = {"watched": watched[bot_id]} if watched.get(bot_id) else {}
        try:
            async_task(
                "botcore.tasks.poll_bot", bot_id, lease_token, **handed, task_name=f"poll-{bot_id}",
                q_options={"save": False, "broker": cycle_broker()},
            )  # fmt: skip
        except Exception:
            unsent = list(bot_ids[position:])
            released = Bot.objects.filter(pk__in=unsent, lease_token=lease_token)
            released.update(lease_token="", lease_until=None)
            log.exception("enqueue failed: %s leases released", len(unsent))
            return list(bot_ids[:position]), unsent
    return list(bot_ids), []
