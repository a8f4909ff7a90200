"""The project package as an app, so that its management commands (runstack) are found."""

from django.apps import AppConfig


class VibeappConfig(AppConfig):
    name = "vibeapp"
    verbose_name = "vibeapp"
