"""The tenants Django app: its models, admin, templates and management commands."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")

    def ready(self) -> None:
        from tenants import checks  # noqa: F401  (registers the system checks)
