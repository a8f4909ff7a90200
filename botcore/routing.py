"""Picks the skill for an event: the first enabled one, in settings order, that declares and wants it (pure)."""
from __future__ import annotations

from collections.abc import Iterable

from botcore.skills.base import Skill
from botcore.vibe.events import BotEvent, CommandAddEvent


def select_skill(event: BotEvent, skills: Iterable[Skill]) -> Skill | None:
    for skill in skills:
        if event.type not in skill.event_types:
            continue
        if isinstance(event, CommandAddEvent) and skill.commands and not skill.owns_command(event.command.name):
            continue  # a command goes to the skill that owns it
        if skill.wants(event):
            return skill
    return None
