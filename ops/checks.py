"""Deploy checks of ops: production serves /metrics only to a scraper that knows the token."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_metrics_token(app_configs, **kwargs):
    if getattr(settings, "IS_PRODUCTION", False) and not settings.OPS_METRICS_TOKEN:
        return [
            checks.Warning(
                "/metrics is open to anyone who reaches the app.",
                hint="Set OPS_METRICS_TOKEN and have the scraper send it as a bearer token"
                " (docs/operators.md).",
                id="ops.W001",
            )
        ]
    return []
