"""The Django admin's sign-in, rate-limited (django-ratelimit, over the shared cache) per client address and,
for wrong passwords, per account name whatever address they come from: an operator's account sees every
tenant, so guessing its password must cost the guesser time, however many addresses the guesser has."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.decorators import ratelimit

from vibeapp.failure_limits import failures_reached

log = logging.getLogger(__name__)

ACCOUNT_FAILURES_GROUP = "ops.admin_sign_in.account_failures"


def _sign_in_rate(group: str, request: HttpRequest) -> str:
    """Read on every request, so a changed setting takes effect at once."""
    return str(settings.OPS_ADMIN_LOGIN_RATE)


def _account_failures_rate(group: str, request: HttpRequest) -> str:
    return str(settings.OPS_ADMIN_LOGIN_ACCOUNT_FAILURES)


def _account_name(group: str, request: HttpRequest) -> str:
    """The account a sign-in names, as any spelling of it would find it (no account at all counts the same,
    so a refusal tells nothing of which accounts exist)."""
    return request.POST.get("username", "").strip().casefold()[:150]


def _account_failures_reached(request: HttpRequest, *, count_one: bool = False) -> bool:
    """Whether the account has had OPS_ADMIN_LOGIN_ACCOUNT_FAILURES wrong passwords in the window;
    `count_one`: count this request's first (its password was wrong)."""
    return failures_reached(
        request,
        group=ACCOUNT_FAILURES_GROUP,
        key=_account_name,
        rate=_account_failures_rate,
        count_one=count_one,
    )


def _limited(request: HttpRequest, *, per_account: bool) -> HttpResponse:
    # The account's name is not logged: an operator mistyping a password into the name field would leak it.
    log.warning(
        "admin sign-in rate-limited per=%s path=%s", "account" if per_account else "address", request.path
    )
    context = {**admin.site.each_context(request), "per_account": per_account}
    response = render(request, "admin/ops/sign_in_limited.html", context, status=429)
    # The line above is the request's: Django's own ("Too Many Requests: /admin/login/") repeated it.
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log.log_response's mark
    return response


# Only attempts (POST) count: showing the form is free. The address is the one tenants.client_address finds
# (RATELIMIT_IP_META_KEY).
@ratelimit(key="ip", rate=_sign_in_rate, method="POST", block=False)
def admin_sign_in(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    if getattr(request, "limited", False):
        return _limited(request, per_account=False)
    if request.method == "POST" and _account_failures_reached(request):
        return _limited(request, per_account=True)
    response = admin.site.login(request, extra_context)
    if request.method == "POST" and response.status_code == 200:  # the form again: the password was wrong
        _account_failures_reached(request, count_one=True)
    return response
