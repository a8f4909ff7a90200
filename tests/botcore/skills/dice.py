"""A test skill with whole-number options (both bounds, one bound, none) and choice options, one labelled in
English and Russian and one not (test_portal_admin.py, test_choice_labels.py, the settings page's browser
test)."""

from __future__ import annotations

from botcore.skills.base import Skill
from botcore.skills.options import Choice, Integer, OptionsSchema
from botcore.vibe.events import EventType


class DiceSkill(Skill):
    name = "dice"
    title = {"en": "Dice"}
    event_types = frozenset({EventType.MESSAGE_ADD})
    enabled_by_default = False
    options_schema = OptionsSchema(
        sides=Integer(default=6, min=2, max=100, label={"en": "Sides"}),
        rolls=Integer(default=1, min=1),
        bonus=Integer(default=0),
        delay=Integer(default=60, min=-10, max=86400),
        show=Choice(
            choices={
                "total": {"en": "The total", "ru": "Сумма"},
                "each": {"en": "Each die", "ru": "Каждый кубик"},
            },
            label={"en": "Show", "ru": "Показывать"},
        ),
        colour=Choice(choices=("red", "white")),
    )

    def handle(self, event, ctx) -> None:
        ctx.reply(f"rolled a d{ctx.options['sides']}")
