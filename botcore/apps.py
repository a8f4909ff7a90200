"""The botcore app: wires tenants' signals and checks the configured skills at boot."""
from django.apps import AppConfig


class BotcoreConfig(AppConfig):
    name = "botcore"
    verbose_name = "Bots"

    def ready(self) -> None:
        from botcore import checks, receivers  # noqa: F401  (registers the checks, connects the receivers)
        from botcore.skills.registry import configured_skills

        configured_skills()  # a bad dotted path or a duplicate name stops the boot here, clearly
