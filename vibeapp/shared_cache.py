"""The shared cache (Redis where REDIS_URL is set) where it is only a help: a page keeps working while the
cache cannot be reached, with a WARNING naming what went without it.

Where the cache holds a limit's counts instead (rate limits, sign-in failures), nothing may go through
unchecked: those callers catch the failure themselves and refuse (tenants.views, ops.admin_sign_in).
"""

from __future__ import annotations

import logging

from django.core.cache import cache

log = logging.getLogger(__name__)

# What read() answers when the cache cannot be reached (None is its answer for a key it does not hold).
UNREACHABLE = object()


def read(key: str, *, what: str) -> object:
    """The cache's value for `key`, None when it holds none, UNREACHABLE when it cannot be reached."""
    try:
        return cache.get(key)
    except Exception as error:  # noqa: BLE001 - the cache client's own family (redis, memcached, …)
        log.warning("cache unreachable (%s): %s without it", error.__class__.__name__, what)
        return UNREACHABLE


def keep(key: str, value: object, seconds: int, *, what: str) -> None:
    """Keep `value` under `key` for `seconds`, or say it could not be kept (the caller goes on without)."""
    try:
        cache.set(key, value, seconds)
    except Exception as error:  # noqa: BLE001 - as in read()
        log.warning("cache unreachable (%s): %s not kept", error.__class__.__name__, what)
