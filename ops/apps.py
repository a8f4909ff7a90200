"""The operators' app: health probes, metrics, heartbeats, the fleet dashboard and the operator API."""

import logging

from django.apps import AppConfig
from django.conf import settings


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from ops import checks, receivers, schema  # noqa: F401  (registers checks, signal receivers, schema extensions)

        if getattr(settings, "VIBE_LOG_FORMAT", "text") == "json":
            # Python's warnings as log records (logger py.warnings), so they too are JSON lines, not text.
            logging.captureWarnings(True)
