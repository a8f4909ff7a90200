"""The probes: /healthz (the process answers) and /readyz (every part it depends on answers, as JSON); the 400
handler."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ops.health import run_readiness_checks
from ops.logs import BODY_LIMITS
from tenants.framing import frameable_by_portal, is_frameable

log = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes; else 503, naming what is down."""
    checks = run_readiness_checks()
    down = sorted(name for name, check in checks.items() if not check.ok and check.known)
    body = {
        "status": "down" if down else "ok",
        "down": down,
        # "ok": null where a check could not be made because another part is down (it says which)
        "checks": {
            name: {"ok": check.ok if check.known else None, **check.detail} for name, check in checks.items()
        },
    }
    if down:
        # In place of Django's "Service Unavailable" ERROR, which names nothing (ops/logs.py).
        log.warning("not ready: %s down", ", ".join(down))
    return JsonResponse(body, status=503 if down else 200)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    """Django's 400 page, but a 413 naming the limit for a body over one of Django's upload limits: the client
    can tell its request was too big, not malformed. ops.logs.BodyLimitFilter logs it as a WARNING (Django
    calls no handler400 with DEBUG on, and answers its own 400 page)."""
    setting = next((name for error, name in BODY_LIMITS.items() if isinstance(exception, error)), None)
    if setting is None:
        return defaults.bad_request(request, exception)
    if is_frameable(request.path_info):
        # A portal page's form, shown in the portal's Bitrix24 frame: its error page, framed as the page was
        # (plain text under the default DENY was a blank frame). The limit's name is in the WARNING.
        return frameable_by_portal(_portal_form_too_large)(request)
    text = gettext("The request is too large: the limit is %(setting)s = %(limit)s.") % {
        "setting": setting,
        "limit": getattr(settings, setting),
    }
    return HttpResponse(text, status=413, content_type="text/plain; charset=utf-8")


def _portal_form_too_large(request: HttpRequest) -> HttpResponse:
    message = gettext(
        "This form sent more than the app takes at once (too large, or too many choices). Please send less"
        " and try again."
    )
    return render(request, "tenants/error.html", {"message": message}, status=413)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 page, but JSON under /api/ as every other answer there (DRF's `detail`): a path no
    route takes (a non-numeric id, a typo) answered an HTML page to a client parsing JSON (a trial's)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": gettext("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page, but JSON under /api/ as every other answer there (DRF's `detail`): a client of the
    operator or skills API parsing the answer met an HTML page. The error itself is logged by Django."""
    if request.path.startswith("/api/"):
        body = {"detail": gettext("A server error occurred. It is logged; try again later.")}
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
