"""/metrics: Prometheus text from every process of this host (multiprocess mode), plus the fleet read at
scrape time."""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ops import metrics  # noqa: F401  (defines the series in this process too)
from ops.collectors import FleetCollector


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    registry.register(FleetCollector())
    return registry


class _Forward:
    """This process's own series, when there is no multiprocess directory (development, tests)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self):
        return self.source.collect()


def _authorized(request: HttpRequest) -> bool:
    expected = settings.OPS_METRICS_TOKEN
    if not expected:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return HttpResponse("a bearer token is required\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
