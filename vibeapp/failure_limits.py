"""Limits on failures (django-ratelimit's counters, over the shared cache): a request is refused once its key
has had the rate's worth of failures in the window. Refused gateway tokens per address and refused personal
keys per portal (tenants.views), and wrong admin passwords per account (ops.admin_sign_in) are so; gateway
sign-ins per person (tenants.views) are limited the same way, a sign-in counting as the "failure"; so are the
provisionings a portal's installs ask for (botcore.services.provisioning), outside any request (take_count).

A check first and a count after the request failed let requests at the same moment all pass the check before
any was counted (8 made-up tokens at once against 3/m were all checked with the platform). So take_slot counts
the request before it is tried, in the same atomic step as the check, and give_back returns the count when the
request turned out not to be a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django_ratelimit import ALL

# The library's own counter key and window (private, pinned in pyproject.toml): a slot is counted where its
# decorators and get_usage count (the groups' names kept, counts carry over), and give_back needs the key.
from django_ratelimit.core import _SIMPLE_KEYS, EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate


def rate_setting(name: str) -> Callable[[str, HttpRequest], str]:
    """django-ratelimit's rate as a callable reading the setting `name` on every request, so a changed
    setting takes effect at once."""

    def rate(group: str, request: HttpRequest) -> str:
        return str(getattr(settings, name))

    return rate


@dataclass(frozen=True)
class Slot:
    """One count taken in a limit's window by take_slot, given back if what it was taken for fails."""

    cache_name: str
    cache_key: str | None  # None: rate limits are off (RATELIMIT_ENABLE), nothing was counted


def take_slot(
    request: HttpRequest,
    *,
    group: str,
    key: str | Callable[[str, HttpRequest], str],
    rate: Callable[[str, HttpRequest], str],
) -> Slot | None:
    """Count one more for `key` in `rate`'s window, checking and counting in one atomic step: the Slot taken,
    or None when the window was already full (and nothing stays counted). `key` is a callable, or one of
    django-ratelimit's simple keys ("ip": the address masked as the library masks it). Raises the cache
    client's errors.

    Each caller gets a count of its own (the cache's add, then incr: each atomic in Redis and in the
    local-memory cache), so no more than the limit get a slot however many ask at once."""
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return Slot(
            getattr(settings, "RATELIMIT_USE_CACHE", "default"), None
        )  # nothing read, nothing counted
    value = key(group, request) if callable(key) else _SIMPLE_KEYS[key](request)
    return take_count(group=group, value=value, rate=rate(group, request))


def take_count(*, group: str, value: str, rate: str) -> Slot | None:
    """take_slot's count of `value` in `rate`'s window ("5/h"), for a limit outside any request: the Slot
    taken, or None when the window was already full. Raises the cache client's errors."""
    cache_name = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return Slot(cache_name, None)
    limit, period = _split_rate(rate)
    slot = Slot(cache_name, _make_cache_key(group, _get_window(value, period), rate, value, ALL))
    cache = caches[cache_name]
    if cache.add(slot.cache_key, 1, period + EXPIRATION_FUDGE):
        count = 1
    else:
        try:
            count = cache.incr(slot.cache_key)
        except ValueError:  # the count expired between the two steps: refused, as django-ratelimit does
            return None
    if count > limit:
        give_back(slot)
        return None
    return slot


def window_ends_at(*, value: str, rate: str) -> float:
    """When the window take_count counts `value` in now ends (a Unix time): a refused caller's next count is
    free from then on. Windows are fixed, each value's offset from the clock's (django-ratelimit's)."""
    _limit, period = _split_rate(rate)
    return float(_get_window(value, period))


def give_back(slot: Slot) -> None:
    """Return a slot's count: what it was taken for did not happen. Raises the cache client's errors."""
    if slot.cache_key is None:
        return
    try:
        caches[slot.cache_name].decr(slot.cache_key)
    except ValueError:
        pass  # the window ended, and its count with it
