"""The HTTP APIs' rate per caller (DRF's throttle hook over django-ratelimit's counts in the shared cache, as
the sign-in limits count): past VIBE_API_RATE a caller is answered 429 with Retry-After until the window ends.

A caller is an operator's account (token or admin session), a portal's person (the skills API's session), or
else an address. An operator's runaway script or a member's loop thus slows itself, not the others or the
database. Where the counts cannot be reached the request goes through with a WARNING: the limit guards
against load, and refusing the operator API while Redis is down would take it away when it is needed.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from vibeapp.failure_limits import rate_setting

log = logging.getLogger(__name__)

GROUP = "vibeapp.api_rate"


def _caller(request: Request) -> str:
    user = request.user
    portal = getattr(user, "portal", None)
    viewer = getattr(user, "viewer", None)
    if portal is not None and viewer is not None:  # botcore.web.api.PortalViewer: one person of one portal
        return f"portal:{portal.pk}:{viewer.bitrix_user_id}"
    if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) is not None:
        return f"user:{user.pk}"
    return ""  # nobody known: counted by address


class CallerRate(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view) -> bool:
        if not settings.VIBE_API_RATE:
            return True
        caller = _caller(request)
        try:
            usage = get_usage(
                request._request,
                group=GROUP,
                key=(lambda group, _request: caller) if caller else "ip",
                rate=rate_setting("VIBE_API_RATE"),
                increment=True,
            )
        except Exception as error:  # noqa: BLE001 - the cache client's own family (redis, memcached, …)
            log.warning("API rate not counted (%s): the request goes through", error.__class__.__name__)
            return True
        if usage is None or not usage["should_limit"]:
            return True
        self._wait = max(1, usage["time_left"])
        return False

    def wait(self) -> float | None:
        return self._wait
