"""The operators' app: health probes, metrics, heartbeats, the fleet dashboard and the operator API."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from ops import checks, receivers, schema  # noqa: F401  (registers checks, signal receivers, schema extensions)
