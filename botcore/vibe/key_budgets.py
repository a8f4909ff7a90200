"""Which budget a key's calls share: the store the settings choose, one budget object per key, portal and
process (budget_for_key), and where the learned rates live (learned_store).

Where a budget's state lives:
- Redis, when Django's REDIS_URL is set: pyrate-limiter's RedisStateStore, one small hash per key,
  updated atomically by a Lua script;
- the database otherwise (SQLite or PostgreSQL): budget_store.DatabaseStateStore, the same GCRA step
  inside a short write transaction. pyrate-limiter's own SQLite and Postgres buckets are not used: they
  bypass Django's DATABASES (the Postgres one needs psycopg_pool), the SQLite one is only safe across
  processes with the optional filelock package, and the Postgres one refuses instead of waiting whenever
  two writers meet (LOCK TABLE … NOWAIT) while keeping one row per request;
- in this process only ("local"), for benchmarks and scripts.
Keys are never stored: a budget is named by a digest of its key.

A process keeps the budgets it uses and drops those idle for IDLE_SECONDS: a worker that has run a cycle
for every portal would otherwise hold a budget for each of them for good.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from pyrate_limiter.abstracts.store import StateStore
from pyrate_limiter.buckets import InMemoryStateStore, RedisStateStore

from botcore import conf
from botcore.vibe.budget import NoBudget, RequestBudget, key_digest
from botcore.vibe.budget_store import DatabaseStateStore

if TYPE_CHECKING:
    from botcore.vibe.learned_budget import LearnedBudget

_redis_clients: dict[str, Any] = {}
_budgets: dict[tuple[Any, ...], LearnedBudget] = {}
_budgets_lock = threading.Lock()
# A budget is dropped from this process once nothing has used it this long; its next call builds it
# afresh. Nothing is lost: the learned rates and the slots live in the shared store (the "local" store's
# slots are free again long before: at learning.FLOOR a slot lasts 5 s), its calls not yet reported are
# flushed as it goes, and a call in flight outlives no call deadline, far shorter than this.
IDLE_SECONDS = 300.0
SWEEP_SECONDS = 60.0  # how often budget_for_key looks for idle budgets
_swept_at = time.monotonic()


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


APP_KEY_PREFIX = "vibe_app_"
PERSONAL_KEY_PREFIX = "vibe_api_"


def budget_for_key(
    api_key: str,
    *,
    portal: str | None = None,
    per_second: float | None = None,
    burst: int | None = None,
    max_wait: float | None = None,
    backend: str | None = None,
) -> RequestBudget:
    """The budget every process shares for `api_key` (and, given, the `portal` the calls act in).

    `per_second` is the ceiling; the pace is the rate learned from the platform's 429s (learned_budget).
    Arguments left out come from the settings. One budget object per key, portal and configuration
    per process; a changed setting yields a new one. A personal key acts in its own portal only, so its
    limit per key and its limit per key and portal are one: it is learned as a key alone, whatever
    `portal` says (every caller, the client and the poller alike, gets the same budget for it).
    """
    if api_key.startswith(PERSONAL_KEY_PREFIX):
        portal = None
    from botcore.vibe.learned_budget import LearnedBudget

    per_second = conf.vibe_budget_per_second() if per_second is None else per_second
    burst = conf.vibe_budget_burst() if burst is None else burst
    max_wait = conf.vibe_budget_max_wait() if max_wait is None else max_wait
    backend = resolve_backend(backend)
    if backend == "off" or per_second <= 0:
        return NoBudget()
    digest = key_digest(api_key)
    portal_digest = key_digest(f"{api_key}:portal:{portal}")[:12] if portal else None
    redis_url = conf.redis_url() if backend == "redis" else ""
    cache_key = (backend, redis_url, digest, portal_digest, per_second, burst, max_wait, os.getpid())
    now = time.monotonic()
    with _budgets_lock:
        budget = _budgets.get(cache_key)
        if budget is None:
            budget = _budgets[cache_key] = LearnedBudget(
                name=digest,
                portal=portal_digest,
                ceiling=per_second,
                burst=burst,
                max_wait=max_wait,
                make_store=lambda name: state_store(backend, name, redis_url),
                learned=learned_store(backend, redis_url),
            )
        budget.used_at = max(budget.used_at, now)  # handed out now: not idle, whatever it did before
        idle = _take_idle(now) if now - _swept_at >= SWEEP_SECONDS else []
    for gone in idle:
        gone.flush()  # outside the lock: it writes to the shared store
    return budget


def _take_idle(now: float) -> list[LearnedBudget]:
    """The budgets unused for IDLE_SECONDS, removed from the cache (called with _budgets_lock held)."""
    global _swept_at
    _swept_at = now
    idle = [key for key, budget in _budgets.items() if now - budget.used_at >= IDLE_SECONDS]
    return [_budgets.pop(key) for key in idle]


_memory_learned: dict[str, Any] = {}


def learned_store(backend: str, redis_url: str) -> Any:
    """Where the learned rates of `backend` live (learning.py)."""
    from botcore.vibe.learning import DatabaseLearnedStore, MemoryLearnedStore, RedisLearnedStore

    if backend == "redis":
        return RedisLearnedStore(_redis(redis_url))
    if backend == "database":
        return DatabaseLearnedStore()
    return _memory_learned.setdefault(str(os.getpid()), MemoryLearnedStore())


def state_store(backend: str, digest: str, redis_url: str) -> StateStore:
    if backend == "redis":
        if not redis_url:
            raise ValueError("VIBE_BUDGET_BACKEND=redis needs REDIS_URL")
        return RedisStateStore(_redis(redis_url), key=f"vibe:budget:{digest}")
    if backend == "database":
        return DatabaseStateStore(digest)
    return InMemoryStateStore()
