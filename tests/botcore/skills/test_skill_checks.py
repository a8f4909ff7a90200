"""A BOTCORE_SKILLS that cannot be loaded is a Django system-check error naming the setting and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from botcore.skills.options import Choice

ROOT = Path(__file__).resolve().parents[3]
ECHO = "botcore.skills.builtin.echo.EchoSkill"


class NoEventTypes:
    """Not even a Skill: a bad declaration."""


@pytest.mark.parametrize(
    "skills, said, fix",
    [
        ([ECHO, "vibe_nowhere.skill.Nope"], "cannot import 'vibe_nowhere.skill.Nope'", "Fix the dotted path"),
        ([ECHO, ECHO], "skill name 'echo' is used by both", "Keep one of them"),
        ([f"{__name__}.NoEventTypes"], "is not a Skill subclass", "Fix the skill class's declarations"),
        (
            ["tests.botcore.skills.broken_on_import.LoudSkill"],
            "raised KeyError: 'level' (at tests/botcore/skills/broken_on_import.py:12)",
            "The module is there but fails while it is imported",
        ),
    ],
    ids=["bad-path", "duplicate-name", "bad-declaration", "module-raises"],
)
def test_a_bad_skill_setting_is_a_check_error_with_the_fix(settings, skills, said, fix):
    settings.BOTCORE_SKILLS = skills
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    message = str(refused.value)
    assert "settings.BOTCORE_SKILLS" in message and said in message and f"HINT: {fix}" in message


def test_the_check_names_every_bad_item_not_only_the_first(settings):
    settings.BOTCORE_SKILLS = [
        "vibe_nowhere.skill.Nope",
        ECHO,
        f"{__name__}.NoEventTypes",
        ECHO,
        "vibe_nowhere.other.Gone",
    ]
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    message = str(refused.value)
    for said in (
        "cannot import 'vibe_nowhere.skill.Nope'",
        "NoEventTypes' is not a Skill subclass",
        "skill name 'echo' is used by both",
        "cannot import 'vibe_nowhere.other.Gone'",
    ):
        assert said in message
    assert "4 issues" in message


@pytest.mark.slow
def test_manage_py_prints_the_check_not_a_traceback():
    env = {**os.environ, "BOTCORE_SKILLS": f"{ECHO} vibe_nowhere.skill.Nope"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "BOTCORE_SKILLS" in done.stderr and "HINT: Fix the dotted path" in done.stderr
    assert len(done.stderr.strip().splitlines()) < 10


def _skill_with_option(option):
    from botcore.skills.base import Skill
    from botcore.skills.options import OptionsSchema
    from botcore.vibe.events import EventType

    class Defaulted(Skill):
        name = "defaulted"
        event_types = frozenset({EventType.MESSAGE_ADD})
        options_schema = OptionsSchema(limit=option)
        enabled_by_default = False  # a required option is given when its admin turns it on

        def handle(self, event, ctx) -> None:
            ctx.reply(str(ctx.options["limit"] + 1))

    return Defaulted


@pytest.mark.parametrize(
    "option, said",
    [
        ("Integer(default='5')", "option 'limit': its default '5' reads as 5: declare default=5"),
        ("Integer(default=100, max=20)", "option 'limit': its default 100 must be at most 20"),
        ("Integer(min=1)", "option 'limit': its default 0 must be at least 1"),
        ("Boolean(default='yes')", "option 'limit': its default 'yes' reads as True: declare default=True"),
        ("Boolean(default=None)", "option 'limit': its default None must be true or false"),
        ("Choice(choices=('a', 'b'), default='c')", "option 'limit': its default 'c' must be one of a, b"),
        ("Time(default='9')", "option 'limit': its default '9' must be a time of day"),
        ("Text(default=5)", "option 'limit': its default 5 must be text"),
    ],
)
def test_an_option_whose_default_its_own_field_refuses_stops_the_boot(option, said):
    """From a skill author's trial: `Integer(default="5")` booted, the settings page showed 5, the skill read
    the text "5" and every event failed on `"5" + 1`; `Integer(min=1)` showed 0, which saving refused."""
    from botcore.errors import SkillConfigError
    from botcore.skills import options
    from botcore.skills.registry import check_skill_class

    with pytest.raises(SkillConfigError) as refused:
        check_skill_class(_skill_with_option(eval(option, vars(options))), "the skill")
    assert said in str(refused.value)


@pytest.mark.parametrize(
    "option, said",
    [
        (
            "Choice(choices={'a': 'A', 'b': {'en': 'B'}})",
            "option 'limit': choice 'a': label must be a {language: text} table such as {'en': 'A'}",
        ),
        (
            "Choice(choices={'a': {'en': 5}, 'b': {}})",
            "option 'limit': choice 'a': label must be a {language: text} table",
        ),
        (
            "Choice(choices={'a': {'en': 'A'}}, default='b')",
            "option 'limit': its default 'b' must be one of a",
        ),
        (
            "Choice(choices=('a', 'b'), label={'a': {'en': 'A'}, 'b': {'en': 'B'}})",
            "option 'limit': label must be a {language: text} table (each choice's label goes in"
            " choices={'a': {'en': ...}, ...})",
        ),
    ],
    ids=["plain-string-label", "non-text-label", "default-not-a-choice", "choice-labels-as-the-option-label"],
)
def test_a_choice_label_that_is_no_language_table_stops_the_boot(option, said):
    """A choice's label is a {language: text} table, as every text of a skill is: a plain string booted, then
    every settings page showing it would have read it as a table."""
    from botcore.errors import SkillConfigError
    from botcore.skills import options
    from botcore.skills.registry import check_skill_class

    with pytest.raises(SkillConfigError) as refused:
        check_skill_class(_skill_with_option(eval(option, vars(options))), "the skill")
    assert said in str(refused.value)
    assert refused.value.kind == "declaration"  # botcore.E003: fix the skill class's declarations


@pytest.mark.parametrize(
    "choices, said",
    [
        ("()", "a Choice option needs choices"),
        ("{}", "a Choice option needs choices"),
        ("'short'", "choices must be a tuple of values or a {value: {language: label}} table, not 'short'"),
        ("(1, 2)", "each choice must be a non-empty text, not 1"),
        ("{'': {'en': 'None'}}", "each choice must be a non-empty text, not ''"),
        ("('a', 'b', 'a')", "choice 'a' is listed twice"),
    ],
)
def test_choices_that_cannot_be_offered_are_refused_where_they_are_declared(choices, said):
    from botcore.errors import SkillConfigError
    from botcore.skills import options

    with pytest.raises(SkillConfigError) as refused:
        eval(f"Choice(choices={choices})", vars(options))
    assert said in str(refused.value)


# A skill whose choice is labelled with a plain string, for the boot check to find in BOTCORE_SKILLS.
BadChoiceLabel = _skill_with_option(Choice(choices={"short": "Short", "long": {"en": "Long"}}))


def test_a_bad_choice_label_is_the_boot_check_s_declaration_error(settings):
    settings.BOTCORE_SKILLS = [ECHO, f"{__name__}.BadChoiceLabel"]
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    message = str(refused.value)
    assert "botcore.E003" in message and "choice 'short': label must be a {language: text} table" in message


def test_choices_refused_where_declared_are_a_declaration_error_naming_the_skill_s_line(settings):
    """Refused while its module was imported, an empty Choice was botcore.E004 ("the module fails while it is
    imported") at the line of botcore's option_fields.py that refused it, not at the skill's own."""
    settings.BOTCORE_SKILLS = [ECHO, "tests.botcore.skills.empty_choices.SizeSkill"]
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    message = str(refused.value)
    assert "botcore.E003" in message and "a Choice option needs choices" in message
    assert "tests/botcore/skills/empty_choices.py:12" in message and "option_fields.py" not in message
    assert "HINT: Fix the skill class's declarations" in message


def test_defaults_their_fields_take_pass_the_check():
    from botcore.skills import options
    from botcore.skills.registry import check_skill_class

    for option in (
        "Integer(default=6, min=2, max=100)", "Text(pattern=r'chat\\d+')", "GroupChat(required=True)",
        "Choice(choices=('a', 'b'))", "Choice(choices={'a': {'en': 'Yes', 'ru': 'Да'}, 'b': {}})",
        "IdList()", "PortalUsers()", "Weekdays()", "Time()", "Secret()",
        "Boolean()",
    ):  # fmt: skip
        check_skill_class(_skill_with_option(eval(option, vars(options))), option)


@pytest.mark.parametrize(
    "declared, said",
    [
        ({"title": "Reminders"}, "title must be a {language: text} table such as {'en': 'Reminders'}"),
        ({"summary": "Sends reminders"}, "summary must be a {language: text} table"),
        ({"command_title": "Remind"}, "command /remind: title must be a {language: text} table"),
        ({"description": "Remind me later"}, "command /remind: description must be a {language: text} table"),
        ({"params": "minutes text"}, "command /remind: params must be a {language: text} table"),
        ({"label": "Longest delay"}, "option 'limit': label must be a {language: text} table"),
        ({"help": "In minutes"}, "option 'limit': help must be a {language: text} table"),
        ({"summary": {"en": 5}}, "summary must be a {language: text} table"),
    ],
)
def test_a_text_given_as_a_plain_string_where_a_language_table_goes_stops_the_boot(declared, said):
    """From a skill author's trial: `summary = "Reminds you"` booted, then every /help on the portal failed
    (the help skill, not this one: AttributeError: 'str' object has no attribute 'values', read as a
    table); `CommandSpec(title="Remind")` stopped the boot with AttributeError: 'str' object has no
    attribute 'get'."""
    from botcore.errors import SkillConfigError
    from botcore.skills.base import CommandSpec, Skill
    from botcore.skills.options import Integer, OptionsSchema
    from botcore.skills.registry import check_skill_class
    from botcore.vibe.events import EventType

    command = {"title": {"en": "Remind"}, "description": {}, "params": {}}
    command.update({k: v for k, v in declared.items() if k in ("description", "params")})
    if "command_title" in declared:
        command["title"] = declared["command_title"]
    option = {k: v for k, v in declared.items() if k in ("label", "help")}

    class Texts(Skill):
        name = "texts"
        event_types = frozenset({EventType.COMMAND_ADD})
        commands = (CommandSpec("remind", **command),)
        options_schema = OptionsSchema(limit=Integer(**option))
        title = declared.get("title", {"en": "Reminders"})
        summary = declared.get("summary", {"en": "Reminds you"})

        def handle(self, event, ctx) -> None: ...

    with pytest.raises(SkillConfigError) as refused:
        check_skill_class(Texts, "the skill")
    assert said in str(refused.value)


def test_a_skill_on_by_default_with_a_required_option_left_empty_stops_the_boot():
    """From a skill author's trial: `report_to=GroupChat(required=True)` with `enabled_by_default` left at
    its True booted, and the skill ran on every new portal with report_to "": turning a skill on is what
    checks its required options, and a skill on by default is never turned on."""
    from botcore.errors import SkillConfigError
    from botcore.skills.base import Skill
    from botcore.skills.options import GroupChat, OptionsSchema, Text
    from botcore.skills.registry import check_skill_class
    from botcore.vibe.events import EventType

    class Reporter(Skill):
        name = "reporter"
        event_types = frozenset({EventType.MESSAGE_ADD})
        options_schema = OptionsSchema(
            report_to=GroupChat(required=True), note=Text(required=True, default="hi")
        )

        def handle(self, event, ctx) -> None:
            ctx.send(ctx.options["report_to"], "a report")

    with pytest.raises(SkillConfigError) as refused:
        check_skill_class(Reporter, "the skill")
    assert "option 'report_to' is required and has no default" in str(refused.value)
    assert "enabled_by_default = False" in str(refused.value)

    Reporter.enabled_by_default = False  # its admin turns it on, giving the chat then
    check_skill_class(Reporter, "the skill")
