from django.apps import AppConfig


class BotcoreConfig(AppConfig):
    name = "botcore"
    verbose_name = "Bots"
