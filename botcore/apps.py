"""The botcore app: wires tenants' signals and registers the system check of the configured skills."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BotcoreConfig(AppConfig):
    name = "botcore"
    verbose_name = _("Bots")

    def ready(self) -> None:
        from botcore import checks, receivers  # noqa: F401  (registers the checks; connects the receivers)

        # The skills are loaded by the system check (every manage.py command runs it), which reports a bad
        # BOTCORE_SKILLS as a message naming the setting and the fix; loading here would print a traceback.
