"""The test kit refuses a skill whose declaration the deployment refuses at boot (botcore.E003), with the
boot's own message: a skill author's kit tests of a skill with a capital command name went green, and the
skill was then refused as BOTCORE_SKILLS loaded it. The kit calls the registry's check, not a copy of it."""

from __future__ import annotations

import pytest

from botcore.errors import SkillConfigError
from botcore.skills.base import CommandSpec, Skill
from botcore.skills.registry import find_skill_problems
from botcore.skills.testing import (
    RecordingContext,
    make_command_event,
    make_message_event,
    route,
    run_skill,
)
from botcore.skills.testing.factories import BOT_ID
from botcore.vibe.events import EventType


class Shouting(Skill):
    """A command whose name the platform refuses (capitals): registry.py's 1-32 of a-z, 0-9, _ and -."""

    name = "shouting"
    title = {"en": "Shouting"}
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("Roll", title={"en": "Roll"}),)

    def handle(self, event, ctx) -> None:
        ctx.answer_command("rolled")


class Deaf(Skill):
    """Owns a command but never hears one: the boot refuses it (no EventType.COMMAND_ADD)."""

    name = "deaf"
    title = {"en": "Deaf"}
    event_types = frozenset({EventType.MESSAGE_ADD})
    commands = (CommandSpec("roll", title={"en": "Roll"}),)

    def handle(self, event, ctx) -> None:
        ctx.reply("heard")


class Plain(Skill):
    name = "plain"
    title = {"en": "Plain"}
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.reply("fine")


def boot_refusal(cls: type) -> str:
    """What loading BOTCORE_SKILLS with the class's dotted path says (the E003 check's text, prefix on)."""
    [problem] = find_skill_problems([f"{cls.__module__}.{cls.__qualname__}"])
    assert problem.kind == "declaration"
    return str(problem)


@pytest.mark.parametrize(
    ("cls", "event"),
    [(Shouting, make_command_event("roll", bot_id=BOT_ID)), (Deaf, make_message_event("hi"))],
    ids=["capital-command", "commands-without-command-add"],
)
def test_run_skill_refuses_a_skill_the_boot_refuses_with_the_boots_message(cls, event):
    says = boot_refusal(cls)
    with pytest.raises(SkillConfigError) as refused:
        run_skill(cls(), event)
    assert str(refused.value) == says
    with pytest.raises(SkillConfigError, match="must be 1-32 of a-z" if cls is Shouting else "COMMAND_ADD"):
        RecordingContext(skill=cls())


def test_route_refuses_any_of_its_skills_the_boot_refuses_before_routing():
    """Even one routing never reaches: the deployment refuses the whole list at boot."""
    with pytest.raises(SkillConfigError) as refused:
        route(make_message_event("hi"), [Plain(), Shouting()])
    assert str(refused.value) == boot_refusal(Shouting)


def test_a_sound_skill_still_runs_in_the_kit():
    assert find_skill_problems([f"{Plain.__module__}.Plain"]) == []
    assert run_skill(Plain(), make_message_event("hi")).replies == ["fine"]
