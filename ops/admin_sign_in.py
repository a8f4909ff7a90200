"""The Django admin's sign-in, rate-limited (django-ratelimit, over the shared cache) per client address and,
for wrong passwords, per account name whatever address they come from: an operator's account sees every
tenant, so guessing its password must cost the guesser time, however many addresses the guesser has.

While the cache cannot be reached (Redis down) the limits cannot be checked, and no attempt is let through
unchecked: the sign-in answers 503 saying so, and what still works (sessions signed in, the operator API).
"""

from __future__ import annotations

import logging

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from vibeapp.failure_limits import Slot, give_back, rate_setting, take_slot

log = logging.getLogger(__name__)

ACCOUNT_FAILURES_GROUP = "ops.admin_sign_in.account_failures"
# Per address: the name django-ratelimit's decorator gave this group, kept so counts carry over an upgrade.
ADDRESS_GROUP = "ops.admin_sign_in.admin_sign_in"


def _account_name(group: str, request: HttpRequest) -> str:
    """The account a sign-in names, as any spelling of it would find it (no account at all counts the same,
    so a refusal tells nothing of which accounts exist): as the sign-in form reads it (Unicode's compatibility
    form, NFKC: a full-width letter is its plain one), in any case. Counted only case-folded, each full-width
    or plain spelling of a name had the account's whole limit of guesses."""
    name = get_user_model().normalize_username(request.POST.get("username", "").strip())
    return name.casefold()[:150]


def _take_account_attempt(request: HttpRequest) -> Slot | None:
    """One of the account's OPS_ADMIN_LOGIN_ACCOUNT_FAILURES wrong passwords in the window, taken before the
    password is tried (given back unless it is wrong), or None when it has had them all. Counted after the
    try, guesses sent at the same moment each passed a check made before any was counted: 12 at once against
    5/h had all 12 passwords tried."""
    return take_slot(
        request,
        group=ACCOUNT_FAILURES_GROUP,
        key=_account_name,
        rate=rate_setting("OPS_ADMIN_LOGIN_ACCOUNT_FAILURES"),
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


def _limits_unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    log.warning(
        "admin sign-in limits unavailable (%s): sign-in refused (503) until the cache (REDIS_URL) answers",
        error.__class__.__name__,
    )
    context = {**admin.site.each_context(request), "unavailable": True}
    response = render(request, "admin/ops/sign_in_limited.html", context, status=503)
    response["Retry-After"] = "30"
    response._has_been_logged = True  # type: ignore[attr-defined]  # as in _limited
    return response


# Only attempts (POST) count: showing the form is free. The address is the one tenants.client_address finds
# (RATELIMIT_IP_META_KEY). Django's LoginView also takes PUT, as a POST with no form (a 200 page): refused.
@require_http_methods(["GET", "HEAD", "POST"])
def admin_sign_in(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    if request.method == "HEAD" and admin.site.has_permission(request):
        # As Django's admin answers a signed-in operator's GET (to the index): its HEAD got the form.
        return redirect("admin:index")
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    try:
        if is_ratelimited(
            request,
            group=ADDRESS_GROUP,
            key="ip",
            rate=rate_setting("OPS_ADMIN_LOGIN_RATE"),
            method="POST",
            increment=True,
        ):
            return _limited(request, per_account=False)
        slot = _take_account_attempt(request)
    except Exception as error:  # noqa: BLE001 - the cache client's own family (redis, memcached, …)
        return _limits_unavailable(request, error)
    if slot is None:
        return _limited(request, per_account=True)
    wrong = False
    try:
        response = admin.site.login(request, extra_context)
        wrong = response.status_code == 200  # the form again: the password was wrong
    finally:
        if not wrong:
            try:
                give_back(slot)
            except Exception as error:  # noqa: BLE001 - as above; the sign-in went its way all the same
                log.warning("admin sign-in attempt not given back (%s)", error.__class__.__name__)
    return response
