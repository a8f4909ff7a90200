"""Discovery: BOTCORE_SKILLS (dotted paths or entry-point names) in order; a bad item stops the boot."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from botcore.errors import SkillConfigError
from botcore.skills.base import CommandSpec, ScheduleSpec, Skill
from botcore.skills.events import BackendEventType
from botcore.skills.registry import check_skill_class, list_installed_skill_entry_points, load_skills
from botcore.vibe.events import EventType

ROOT = Path(__file__).resolve().parents[3]
ECHO = "botcore.skills.builtin.echo.EchoSkill"
BUILTIN_PATHS = [
    "botcore.skills.builtin.help.HelpSkill",
    "botcore.skills.builtin.standup.StandupSkill",
    ECHO,
]


class NoEvents(Skill):
    name = "no_events"
    event_types = frozenset()

    def handle(self, event, ctx): ...


class CommandsWithoutCommandEvents(Skill):
    name = "commands_only"
    event_types = frozenset({EventType.MESSAGE_ADD})
    commands = (CommandSpec("go", title={"en": "Go"}),)

    def handle(self, event, ctx): ...


class BadCron(Skill):
    name = "bad_cron"
    event_types = frozenset({BackendEventType.SCHEDULED_RUN})
    schedules = (ScheduleSpec("nightly", "0 25 * * *"),)

    def handle(self, event, ctx): ...


class SchedulesWithoutScheduledRuns(Skill):
    name = "schedules_only"
    event_types = frozenset({EventType.MESSAGE_ADD})
    schedules = (ScheduleSpec("nightly", "0 3 * * *"),)

    def handle(self, event, ctx): ...


class OptionSchedulesWithoutScheduledRuns(Skill):
    name = "schedules_for_only"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def schedules_for(self, options):
        return [ScheduleSpec("nightly", "0 3 * * *")]

    def handle(self, event, ctx): ...


NO_SCHEDULED_RUN = "has schedules but does not declare BackendEventType.SCHEDULED_RUN"


class BadCommandName(Skill):
    name = "bad_command"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("/Go Now", title={"en": "Go"}),)

    def handle(self, event, ctx): ...


class NoEnglishTitle(Skill):
    name = "no_english"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("go", title={"ru": "Вперёд"}),)

    def handle(self, event, ctx): ...


class EchoTwin(Skill):
    name = "echo"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx): ...


def test_skills_load_in_settings_order():
    skills = load_skills(["botcore.skills.builtin.help.HelpSkill", ECHO])
    assert [s.name for s in skills] == ["help", "echo"]


@pytest.mark.parametrize(
    "items, message",
    [
        (["botcore.skills.builtin.nope.NopeSkill"], "cannot import 'botcore.skills.builtin.nope.NopeSkill'"),
        (["botcore.models.Bot"], "is not a Skill subclass"),
        ([ECHO, f"{__name__}.EchoTwin"], "skill name 'echo' is used by both"),
        ([f"{__name__}.NoEvents"], "declares no event_types"),
        ([f"{__name__}.CommandsWithoutCommandEvents"], "does not declare EventType.COMMAND_ADD"),
        ([f"{__name__}.BadCron"], "schedule 'nightly'"),
        # The sweep would fire them while the test kit, like the table in docs/skills.md §2, refuses them.
        ([f"{__name__}.SchedulesWithoutScheduledRuns"], NO_SCHEDULED_RUN),
        ([f"{__name__}.OptionSchedulesWithoutScheduledRuns"], NO_SCHEDULED_RUN),
        ([f"{__name__}.BadCommandName"], "without the slash"),
        ([f"{__name__}.NoEnglishTitle"], "needs an English title"),
        (["weather"], "neither a dotted path nor a skill entry point"),
    ],
)
def test_a_bad_item_is_refused_with_a_clear_message(items, message):
    with pytest.raises(SkillConfigError) as refused:
        load_skills(items)
    assert message in str(refused.value)


@pytest.mark.slow
def test_a_bad_path_stops_the_boot():
    env = {**os.environ, "BOTCORE_SKILLS": f"{ECHO} botcore.skills.builtin.nope.NopeSkill"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "cannot import 'botcore.skills.builtin.nope.NopeSkill'" in done.stderr


@pytest.fixture
def installed_package(tmp_path, monkeypatch):
    """A separately installed distribution that declares a skill in the "vibeapp.skills" entry-point group."""
    (tmp_path / "vibe_weather.py").write_text(
        textwrap.dedent("""
        from botcore.skills.base import Skill
        from botcore.vibe.events import EventType

        class WeatherSkill(Skill):
            name = "weather"
            event_types = frozenset({EventType.MESSAGE_ADD})
            summary = {"en": "Tells the weather"}

            def handle(self, event, ctx):
                ctx.reply("Sunny")

        class Misnamed(WeatherSkill):
            name = "not_weather"
    """)
    )
    dist = tmp_path / "vibe_weather-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vibe-weather\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[vibeapp.skills]\nweather = vibe_weather:WeatherSkill\nmisnamed = vibe_weather:Misnamed\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_an_installed_package_makes_its_skill_known_but_only_the_setting_enables_it(installed_package):
    assert list_installed_skill_entry_points()["weather"] == "vibe_weather:WeatherSkill"
    assert "weather" not in [s.name for s in load_skills([ECHO])]
    skills = load_skills(["weather", ECHO])
    assert [s.name for s in skills] == ["weather", "echo"]


def test_an_entry_point_must_carry_its_skills_name(installed_package):
    with pytest.raises(SkillConfigError, match="names must match"):
        load_skills(["misnamed"])


def test_the_builtins_are_known_by_name_as_an_installed_packages_skill_is():
    """BOTCORE_SKILLS="help standup vibe_dice.skill.DiceSkill echo" needs no dotted path for the built-ins:
    vibeapp's own pyproject.toml declares them in the entry-point group."""
    skills = load_skills(["help", "standup", "echo"])
    assert [type(skill) for skill in skills] == [type(skill) for skill in load_skills(BUILTIN_PATHS)]


def test_check_skill_class_accepts_the_builtins():
    from botcore.skills.builtin.standup import StandupSkill

    assert check_skill_class(StandupSkill, "standup") is StandupSkill
