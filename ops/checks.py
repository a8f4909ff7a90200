"""Deploy checks of ops (`check --deploy`): production serves /metrics only to a scraper that knows the token,
answers only its own host names, and counts its rate limits in a cache every process shares; and a
`check --deploy` outside production says that production's own checks did not run."""

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


_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@checks.register(checks.Tags.security, deploy=True)
def check_production_web_settings(app_configs, **kwargs):
    if not getattr(settings, "IS_PRODUCTION", False):
        return [
            checks.Warning(
                "VIBE_ENVIRONMENT is not production: production's own checks (ops.W001-W003, botcore.W011,"
                " W012) did not run, and it starts with development's defaults.",
                hint="Run the deploy check with the environment the service runs with,"
                " VIBE_ENVIRONMENT=production among it.",
                id="ops.W004",
            )
        ]
    found = []
    if "*" in settings.ALLOWED_HOSTS:
        found.append(
            checks.Warning(
                "DJANGO_ALLOWED_HOSTS allows any host: links the app builds (OAuth redirects, reminders)"
                " follow whatever Host a request names.",
                hint="List the host names the app is reached at (docs/operators.md).",
                id="ops.W002",
            )
        )
    if settings.CACHES["default"]["BACKEND"] in _PER_PROCESS_CACHES:
        found.append(
            checks.Warning(
                "The cache is each process's own memory, so the rate limits (admin sign-in, OAuth start,"
                " gateway token checks) count per worker: the real limit is the setting times the workers.",
                hint="Set REDIS_URL (or CACHES) to a cache every process shares.",
                id="ops.W003",
            )
        )
    return found
