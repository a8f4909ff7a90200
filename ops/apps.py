"""The operators' app: health probes, metrics, heartbeats, the fleet dashboard and the operator API."""

import logging

from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Not ops.schema: the schema's generator loads it (SPECTACULAR_SETTINGS), and the processes that never
        # build a schema do not pay its imports.
        from ops import checks, receivers  # noqa: F401  (registers checks, signal receivers)
        from ops.operators import withdraw_ungranted_rights

        post_migrate.connect(withdraw_ungranted_rights, sender=self, dispatch_uid="ops.operator_rights")

        if getattr(settings, "VIBE_LOG_FORMAT", "text") == "json":
            # Python's warnings as log records (logger py.warnings), so they too are JSON lines, not text.
            logging.captureWarnings(True)
