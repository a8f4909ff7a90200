"""The client-side request budget per API key, shared by every process of the deployment.

The platform limits each key (about 10 requests/s, CONTRACT part A §3) and answers 429 past it. Every
web, qcluster and pacer process calls with the same app key, so each call first takes one unit from a
budget they all share, and the platform's 429 stays the exception rather than the pacing mechanism.

The budget is pyrate-limiter's GCRA (a leaky bucket kept as one timestamp per key) behind its blocking
Limiter: a call waits for its turn, up to `max_wait` seconds, then fails with VibeBudgetTimeoutError.
Where the state lives:
- Redis, when Django's REDIS_URL is set: pyrate-limiter's RedisStateStore, one small hash per key,
  updated atomically by a Lua script;
- the database otherwise (SQLite or PostgreSQL): budget_store.DatabaseStateStore, the same GCRA step
  inside a short write transaction. pyrate-limiter's own SQLite and Postgres buckets are not used: they bypass Django's
  DATABASES (the Postgres one needs psycopg_pool), the SQLite one is only safe across processes with the
  optional filelock package, and the Postgres one refuses instead of waiting whenever two writers meet
  (LOCK TABLE … NOWAIT) while keeping one row per request;
- in this process only ("local"), for benchmarks and scripts.
Keys are never stored: a budget is named by a digest of its key.

If the shared store fails (Redis down, database locked past its timeout) the call goes ahead unbudgeted,
a warning is logged, and the store is left alone for OUTAGE_PAUSE seconds so that every call does not pay
for the outage again: the platform's own limit and the client's Retry-After handling still hold, and a
budget outage must not stop every bot.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import Any, Protocol

from pyrate_limiter import GCRA, Limiter, Rate, SingleBucketFactory, StateBucket, WallClock
from pyrate_limiter.abstracts.store import StateStore
from pyrate_limiter.buckets import InMemoryStateStore, RedisStateStore

from botcore import conf
from botcore.vibe.budget_store import DatabaseStateStore
from botcore.vibe.errors import VibeBudgetTimeoutError

log = logging.getLogger(__name__)

# Rates are integers in pyrate-limiter: express r requests/s as round(r*1000) per 1000 s, which keeps
# fractional budgets (9.5/s) exact to a thousandth.
_RATE_SCALE = 1000
OUTAGE_PAUSE = 30.0


class RequestBudget(Protocol):
    def acquire(self) -> None:
        """Block until one request may be sent; raise VibeBudgetTimeoutError past the wait bound."""


class NoBudget:
    """No client-side pacing (budget turned off, or a caller that paces itself)."""

    def acquire(self) -> None:
        return None

    def __repr__(self) -> str:
        return "NoBudget()"


def key_digest(api_key: str) -> str:
    """A stable, non-reversible name for a key's budget."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:24]


def budget_rate(per_second: float, burst: int) -> Rate:
    return Rate(max(1, round(per_second * _RATE_SCALE)), 1000 * _RATE_SCALE, burst=max(1, burst))


class SharedBudget:
    """A GCRA budget over a StateStore; every holder of an equal store shares the same requests/s."""

    def __init__(
        self, *, name: str, per_second: float, burst: int, max_wait: float, store: StateStore
    ) -> None:
        if per_second <= 0:
            raise ValueError("a budget needs a positive rate; use NoBudget to turn it off")
        self.name = name
        self.per_second = per_second
        self.max_wait = max_wait
        self._store = store
        bucket = StateBucket(
            [budget_rate(per_second, burst)], algorithm=GCRA(), store=store, clock=WallClock()
        )
        # buffer_ms: how much later than the computed instant a waiter wakes; GCRA's wait is exact to the
        # millisecond, so a large buffer (the default 50 ms) would only waste budget.
        self._limiter = Limiter(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=2)
        self._outage_until = 0.0

    def acquire(self) -> None:
        if self._outage_until and time.monotonic() < self._outage_until:
            return
        try:
            admitted = self._limiter.try_acquire(self.name, weight=1, blocking=True, timeout=self.max_wait)
        except Exception as exc:  # noqa: BLE001 - the store's own errors (redis, database); see module doc
            self._log_outage(exc)
            return
        if not admitted:
            raise VibeBudgetTimeoutError(
                status=429,
                code="CLIENT_BUDGET_EXHAUSTED",
                message=f"the client's request budget for this key stayed spent for {self.max_wait:g} s",
                hint="Raise VIBE_BUDGET_MAX_WAIT, or spread the work over more time",
                retry_after=1.0 / self.per_second,
            )

    def _log_outage(self, exc: Exception) -> None:
        self._outage_until = time.monotonic() + OUTAGE_PAUSE
        log.warning(
            "request budget %s unavailable (%s); calling without it for %gs",
            self.name,
            type(exc).__name__,
            OUTAGE_PAUSE,
        )

    def __repr__(self) -> str:
        return f"SharedBudget(name={self.name!r}, per_second={self.per_second}, store={type(self._store).__name__})"


_redis_clients: dict[str, Any] = {}
_budgets: dict[tuple[Any, ...], RequestBudget] = {}
_budgets_lock = threading.Lock()


def _redis(url: str) -> Any:
    import redis

    client = _redis_clients.get(url)
    if client is None:
        # redis-py's pool notices a fork and reconnects in the child, so one client per URL is enough.
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One quick retry at most: a budget that waits on a sick Redis would slow every call down.
        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 1)
        )
    return client


def resolve_backend(backend: str | None = None) -> str:
    """The store the settings ask for: "auto" becomes "redis" with REDIS_URL, else "database"."""
    backend = (backend or conf.vibe_budget_backend()).lower()
    if backend == "auto":
        from django.conf import settings

        if conf.redis_url():
            return "redis"
        return "database" if settings.configured else "local"
    if backend not in ("redis", "database", "local", "off"):
        raise ValueError(f"unknown VIBE_BUDGET_BACKEND {backend!r}")
    return backend


def budget_for_key(
    api_key: str,
    *,
    per_second: float | None = None,
    burst: int | None = None,
    max_wait: float | None = None,
    backend: str | None = None,
) -> RequestBudget:
    """The budget every process shares for `api_key`; arguments left out come from the settings.

    One budget object per key and configuration per process (so the Limiter's in-process lock is shared
    by its threads); a changed setting yields a new one.
    """
    per_second = conf.vibe_budget_per_second() if per_second is None else per_second
    burst = conf.vibe_budget_burst() if burst is None else burst
    max_wait = conf.vibe_budget_max_wait() if max_wait is None else max_wait
    backend = resolve_backend(backend)
    if backend == "off" or per_second <= 0:
        return NoBudget()
    digest = key_digest(api_key)
    redis_url = conf.redis_url() if backend == "redis" else ""
    cache_key = (backend, redis_url, digest, per_second, burst, max_wait, os.getpid())
    with _budgets_lock:
        budget = _budgets.get(cache_key)
        if budget is None:
            budget = _budgets[cache_key] = SharedBudget(
                name=f"vibe-budget:{digest}",
                per_second=per_second,
                burst=burst,
                max_wait=max_wait,
                store=_make_store(backend, digest, redis_url),
            )
    return budget


def _make_store(backend: str, digest: str, redis_url: str) -> StateStore:
    if backend == "redis":
        if not redis_url:
            raise ValueError("VIBE_BUDGET_BACKEND=redis needs REDIS_URL")
        return RedisStateStore(_redis(redis_url), key=f"vibe:budget:{digest}")
    if backend == "database":
        return DatabaseStateStore(digest)
    return InMemoryStateStore()
