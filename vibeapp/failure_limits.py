"""Limits on failures only (django-ratelimit, over the shared cache): a request is refused once its key has
had the rate's worth of failures in the window, and only a failure is counted, after it failed. Refused
gateway tokens per address (tenants.views) and wrong admin passwords per account (ops.admin_sign_in) are so.

django-ratelimit's own test (count > limit) counts the request being asked about first; here that request is
counted only if it fails, so the limit is reached at count >= limit.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage


def rate_setting(name: str) -> Callable[[str, HttpRequest], str]:
    """django-ratelimit's rate as a callable reading the setting `name` on every request, so a changed
    setting takes effect at once."""

    def rate(group: str, request: HttpRequest) -> str:
        return str(getattr(settings, name))

    return rate


def failures_reached(
    request: HttpRequest,
    *,
    group: str,
    key: str | Callable[[str, HttpRequest], str],
    rate: Callable[[str, HttpRequest], str],
    count_one: bool = False,
) -> bool:
    """Whether `key` has had `rate`'s worth of failures in the window; `count_one`: count one more first (a
    request that just failed). False where rate limits are off (RATELIMIT_ENABLE)."""
    usage = get_usage(request, group=group, key=key, rate=rate, increment=count_one)
    return usage is not None and usage["count"] >= usage["limit"]
