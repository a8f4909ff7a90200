"""The sandbox as a Django app, installed only on developer machines and in tests, so that its
management command (runsandbox) is found."""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "VibeCode sandbox"
