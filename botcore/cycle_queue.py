"""Handing leased bots to their poll cycles: a django-q2 task each, over one broker per process.

The poller and the pacer both lease bots and enqueue their cycles here. django-q2's `async_task` makes a new
broker for every call unless given one, and on Redis a new broker is a new connection pool, so every
enqueue opened (and dropped) a TCP connection: 1.8 CPU-ms an enqueue, against 0.26 over a connection kept
open (README, "One broker connection, and fewer read-backs"). The broker is kept per process id, as the
platform's HTTP client is (botcore/per_process.py). A Redis connection broken by a restart is replaced by
redis-py at the next call; the call that met it fails, and its lease is released like any failed enqueue.

While the broker is down every round of the poller fails so: that is said in one line a while
(botcore.vibe.outage_log), naming the error and what to check, not in a traceback per round.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from django.db import DatabaseError
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from botcore.models import Bot
from botcore.per_process import PerProcess
from botcore.vibe.outage_log import OutageLog, more_since

log = logging.getLogger(__name__)

_broker_down = OutageLog()


def _report_broker_failure(error: Exception, *, released: int) -> None:
    unsaid = _broker_down.due()
    if unsaid is None:
        return
    # A broker that cannot be reached is an outage, said plainly; anything else may be a bug: traced.
    unreachable = isinstance(error, OSError | RedisConnectionError | RedisTimeoutError | DatabaseError)
    log.error(
        "the broker refused poll cycles (%s: %s): %s leases released, tried again in about a second%s. "
        "Replies wait until it is back (events stay stored on the platform); check Redis (REDIS_URL), or "
        "the database for the ORM broker: /readyz names 'broker' while it is down",
        error.__class__.__name__,
        str(error)[:200],
        released,
        more_since(unsaid),
        exc_info=None if unreachable else error,
    )


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
        except Exception as error:  # noqa: BLE001 - any broker's failure: release, report, retry
            unsent = list(bot_ids[position:])
            released = Bot.objects.filter(pk__in=unsent, lease_token=lease_token)
            released.update(lease_token="", lease_until=None)
            _report_broker_failure(error, released=len(unsent))
            return list(bot_ids[:position]), unsent
    return list(bot_ids), []
