"""The probes: /healthz (the process answers) and /readyz (every part it depends on answers, as JSON)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops.health import run_readiness_checks

log = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes; else 503, naming what is down."""
    checks = run_readiness_checks()
    down = sorted(name for name, check in checks.items() if not check.ok)
    body = {
        "status": "down" if down else "ok",
        "down": down,
        "checks": {name: {"ok": check.ok, **check.detail} for name, check in checks.items()},
    }
    if down:
        # In place of Django's "Service Unavailable" ERROR, which names nothing (ops/logs.py).
        log.warning("not ready: %s down", ", ".join(down))
    return JsonResponse(body, status=503 if down else 200)
