"""The Django admin's sign-in, rate-limited per client address (django-ratelimit, over the shared cache):
an operator's account sees every tenant, so guessing its password must cost the guesser time."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.decorators import ratelimit

log = logging.getLogger(__name__)


def _sign_in_rate(group: str, request: HttpRequest) -> str:
    """Read on every request, so a changed setting takes effect at once."""
    return str(settings.OPS_ADMIN_LOGIN_RATE)


# Only attempts (POST) count: showing the form is free. The address is the one tenants.client_address finds
# (RATELIMIT_IP_META_KEY).
@ratelimit(key="ip", rate=_sign_in_rate, method="POST", block=False)
def admin_sign_in(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    if getattr(request, "limited", False):
        log.warning("admin sign-in rate-limited path=%s", request.path)
        return render(request, "admin/ops/sign_in_limited.html", admin.site.each_context(request), status=429)
    return admin.site.login(request, extra_context)
