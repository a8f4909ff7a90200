"""A test skill keeping another service's token in a Secret option (test_secret_options.py)."""

from __future__ import annotations

from botcore.skills.base import Skill
from botcore.skills.options import OptionsSchema, OutsideUrl, Secret, Text
from botcore.vibe.events import EventType


class TrackerSkill(Skill):
    name = "tracker"
    title = {"en": "Tracker"}
    event_types = frozenset({EventType.MESSAGE_ADD})
    enabled_by_default = False
    options_schema = OptionsSchema(
        project=Text(default="OPS"),
        token=Secret(label={"en": "API token"}),
    )

    def handle(self, event, ctx) -> None:
        ctx.reply(f"{ctx.options['project']}: {'a token' if ctx.options['token'] else 'no token'}")


class WebhookSkill(Skill):
    """A test skill posting to an incoming webhook whose address holds its token (a secret OutsideUrl)."""

    name = "webhook"
    title = {"en": "Webhook"}
    event_types = frozenset({EventType.MESSAGE_ADD})
    enabled_by_default = False
    options_schema = OptionsSchema(hook=OutsideUrl(secret=True, label={"en": "Incoming webhook"}))

    def handle(self, event, ctx) -> None:
        ctx.reply("a webhook" if ctx.options["hook"] else "no webhook")
