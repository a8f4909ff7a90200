"""Options schemas: typed fields with defaults; bad values refused with a message that names the field."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from botcore.skills.base import Skill
from botcore.skills.builtin.standup import StandupSkill
from botcore.skills.cron import CronError, CronExpression, daily_cron
from botcore.skills.option_fields import FieldError
from botcore.skills.options import (
    Boolean,
    Choice,
    IdList,
    Integer,
    MissingOptionError,
    OptionsError,
    OptionsSchema,
    Text,
    Time,
    Weekdays,
)
from botcore.skills.testing import RecordingContext, make_message_event, run_skill
from botcore.vibe.events import EventType

SCHEMA = OptionsSchema(
    chat=Text(pattern=r"chat\d+", required=True),
    sides=Integer(default=6, min=2, max=100),
    loud=Boolean(),
    mode=Choice(choices=("short", "long")),
    at=Time(default="09:30"),
    people=IdList(),
    days=Weekdays(),
)


def test_missing_fields_take_their_defaults():
    assert SCHEMA.validate({"chat": "chat5"}) == {
        "chat": "chat5",
        "sides": 6,
        "loud": False,
        "mode": "short",
        "at": "09:30",
        "people": [],
        "days": [1, 2, 3, 4, 5],
    }


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("sides", 1, "at least 2"),
        ("sides", "six", "whole number"),
        ("sides", True, "whole number"),
        ("loud", "maybe", "true or false"),
        ("mode", "medium", "one of short, long"),
        ("at", "25:00", "time of day"),
        ("at", 930, "time of day"),
        ("people", [1, "x"], "'x' is not a user id"),
        ("people", [0], "not a user id"),
        ("days", [0, 8], "1 (Monday) to 7"),
        ("days", "fri-mon", "earlier day"),
        ("chat", "general", "is not in the expected form"),
        ("chat", "", "is required"),
        ("colour", "red", "not an option of this skill"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(field, value, message):
    with pytest.raises(OptionsError) as refused:
        SCHEMA.validate({"chat": "chat1", field: value})
    assert field in refused.value.errors and message in refused.value.errors[field]
    assert field in str(refused.value)


def test_options_that_are_not_an_object_are_refused():
    with pytest.raises(OptionsError) as refused:
        SCHEMA.validate(["chat1"])  # type: ignore[arg-type]
    assert "" in refused.value.errors


def test_form_text_is_parsed_with_the_same_checks():
    values = SCHEMA.parse_form(
        {
            "chat": " chat7 ",
            "sides": "20",
            "loud": "on",
            "at": "7:05",
            "people": "3, 4;4",
            "days": "mon-wed,sun",
        }
    )
    assert values["sides"] == 20 and values["loud"] is True and values["at"] == "07:05"
    assert values["people"] == [3, 4] and values["days"] == [1, 2, 3, 7] and values["chat"] == "chat7"
    with pytest.raises(OptionsError) as refused:
        SCHEMA.parse_form({"chat": "chat7", "sides": "1000"})
    assert set(refused.value.errors) == {"sides"}


def test_stored_values_a_new_schema_refuses_fall_back_to_defaults():
    assert SCHEMA.resolve({"sides": 1000, "mode": "long", "gone": 1})["sides"] == 6
    assert SCHEMA.resolve({"sides": 1000, "mode": "long"})["mode"] == "long"


def test_cron_fires_on_the_portals_clock():
    cron = CronExpression.parse(daily_cron("09:30", [1, 2, 3, 4, 5]))
    moscow = ZoneInfo("Europe/Moscow")
    assert cron.matches(datetime(2030, 3, 4, 9, 30, tzinfo=moscow))  # a Monday
    assert not cron.matches(datetime(2030, 3, 9, 9, 30, tzinfo=moscow))  # a Saturday
    assert not cron.matches(datetime(2030, 3, 4, 9, 31, tzinfo=moscow))


@pytest.mark.parametrize(
    "text, when, fires",
    [
        ("*/15 * * * *", datetime(2030, 1, 1, 10, 45), True),
        ("*/15 * * * *", datetime(2030, 1, 1, 10, 46), False),
        ("0 9 1 * mon", datetime(2030, 1, 7, 9, 0), True),  # either day field fires when both are restricted
        ("0 9 1 * mon", datetime(2030, 1, 1, 9, 0), True),
        ("0 9 1 * mon", datetime(2030, 1, 2, 9, 0), False),
        ("0 18 * * 7", datetime(2030, 1, 6, 18, 0), True),  # 7 is Sunday too
        ("0 8-10/2 * 1-3 *", datetime(2030, 2, 1, 10, 0), True),
        ("0 8-10/2 * 1-3 *", datetime(2030, 2, 1, 9, 0), False),
    ],
)
def test_cron_expressions(text, when, fires):
    assert CronExpression.parse(text).matches(when) is fires


@pytest.mark.parametrize(
    "text", ["* * * *", "60 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *", "a * * * *"]
)
def test_bad_cron_expressions_are_refused(text):
    with pytest.raises(CronError):
        CronExpression.parse(text)


@pytest.mark.parametrize(
    ("typed", "days"),
    [
        ("пн,ср,пт", [1, 3, 5]),  # noqa: RUF001
        ("Пн-Пт", [1, 2, 3, 4, 5]),
        ("суббота, воскресенье", [6, 7]),
        ("вт;чт", [2, 4]),
    ],
)
def test_a_russian_admin_types_the_days_as_the_russian_hint_shows(typed, days):
    """From a portal-admin trial: the Russian form's hint said mon,wed,fri and "пн,вт" was refused."""
    assert Weekdays().clean(typed) == days


def test_a_form_says_every_error_at_once_a_required_field_left_empty_too():
    """From a portal-admin trial: "chat is required" showed only once the time and the days were fixed."""
    with pytest.raises(OptionsError) as refused:
        SCHEMA.parse_form({"chat": "", "at": "25:99", "days": "someday"})
    assert {"chat", "at", "days"} <= set(refused.value.errors)
    assert "required" in refused.value.errors["chat"]


def test_the_test_kit_refuses_options_across_fields_as_saving_does():
    """From a skill-author trial: RecordingContext(options=…) ran the fields' checks but not the skill's
    check_options, so a test passed on options that configure_skill refuses."""
    with pytest.raises(OptionsError) as refused:
        RecordingContext(skill=StandupSkill(), options={"chat": "chat5", "ask_at": "18:00"})
    assert set(refused.value.errors) == {"report_at"}


class MisreadingSkill(Skill):
    """Reads an option it never declared (a typo: `side` for `sides`)."""

    name = "misreading"
    event_types = frozenset({EventType.MESSAGE_ADD})
    options_schema = OptionsSchema(sides=Integer(default=6, min=2, max=100), loud=Boolean())

    def handle(self, event, ctx) -> None:
        ctx.reply(str(ctx.options["side"]))


def test_an_option_the_skill_never_declared_is_an_error_naming_the_skill_the_option_and_its_options():
    """ctx.options["side"] raised a bare KeyError('side'): the event log's error read `KeyError: 'side'`,
    naming neither the skill nor what it has."""
    with pytest.raises(MissingOptionError) as missing:
        run_skill(MisreadingSkill(), make_message_event("roll"))
    assert isinstance(missing.value, KeyError)
    assert (missing.value.skill_name, missing.value.option) == ("misreading", "side")
    assert str(missing.value) == "the misreading skill has no option 'side' (its options: sides, loud)"


def test_a_missing_option_keeps_a_mappings_in_and_get():
    ctx = RecordingContext(skill=MisreadingSkill(), options={"sides": 3})
    assert "side" not in ctx.options and ctx.options.get("side", 7) == 7
    assert ctx.options["sides"] == 3 and dict(ctx.options) == {"sides": 3, "loud": False}
    with pytest.raises(KeyError, match="the misreading skill has no option 'side'"):
        ctx.options["side"]
    # Handed on as it is (a deferred job's context, the shell's), it still names the skill.
    again = RecordingContext(skill=MisreadingSkill())
    again.options = ctx.options
    with pytest.raises(MissingOptionError, match="its options: sides, loud"):
        again.options["side"]


def test_a_skill_without_options_says_it_has_none():
    class Bare(Skill):
        name = "bare"
        event_types = frozenset({EventType.MESSAGE_ADD})

        def handle(self, event, ctx) -> None:
            pass

    with pytest.raises(MissingOptionError) as missing:
        RecordingContext(skill=Bare()).options["chat"]
    assert str(missing.value) == "the bare skill has no option 'chat' (it declares none)"


def test_a_skills_options_are_still_json_to_defer_or_keep():
    """A skill may hand its options on (defer data, dialog state): they stay a dict."""
    import json

    ctx = RecordingContext(skill=MisreadingSkill(), options={"sides": 3})
    assert json.loads(json.dumps(ctx.options)) == {"sides": 3, "loud": False}


def test_a_patterns_error_given_per_language_is_said_in_the_readers():
    """From a skill author's trial: labels and help take {lang: text} tables, and pattern_error printed one as
    a dict, so a skill outside the project's catalogues could tell the admin in one language only."""
    said = {"en": "must start with https://", "ru": "начните с https://"}  # noqa: RUF001
    url = Text(pattern=r"https://\S+", pattern_error=said)
    for language in ("en", "ru"):
        with translation.override(language), pytest.raises(FieldError) as refused:
            url.clean("ftp://x")
        assert str(refused.value) == said[language]
