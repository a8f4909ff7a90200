"""The field kinds of a skill's options (Text, Secret, OutsideUrl, Integer, Boolean, Choice, Time, IdList,
GroupChat, PortalUsers, Weekdays): each cleans a value to its stored JSON form, reads a form's text,
describes itself.

Skills import them from botcore.skills.options, where the schema that holds them lives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from botcore.errors import SkillConfigError
from botcore.skills.i18n import pick
from botcore.skills.outside_addresses import OutsideAddressError, check_outside_url

# ASCII digits only: int() also reads "٣" and refuses "²" and numbers past 4,300 digits with a ValueError.
_NUMBER = re.compile(r"-?[0-9]{1,15}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FieldError(ValueError):
    """One field's value refused; the schema adds the field's name."""


@dataclass(frozen=True, kw_only=True)
class Option:
    """Base of the field kinds: a default, labels and help per language, and whether a value is required."""

    kind: ClassVar[str] = "text"
    # A secret's value is kept encrypted apart from the options and never shown again (Secret, and an
    # OutsideUrl declared secret=True).
    secret: bool = field(default=False, init=False)
    default: Any = None
    required: bool = False
    label: Mapping[str, str] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)

    def clean(self, value: Any) -> Any:
        """The JSON value to store for `value`, or FieldError."""
        raise NotImplementedError

    def parse_text(self, text: str) -> Any:
        """A form field's text to a value (the empty text means the default)."""
        return self.clean(text.strip()) if text.strip() else self.default

    def to_text(self, value: Any) -> str:
        return "" if value is None else str(value)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "secret": self.secret,  # kept apart and never shown again (a Secret, a secret OutsideUrl)
            "default": self.default,
            "required": self.required,
            "label": dict(self.label),
            "help": dict(self.help),
        }


@dataclass(frozen=True, kw_only=True)
class Text(Option):
    default: str = ""
    max_length: int = 500
    pattern: str | None = None  # the whole value must match (re.fullmatch)
    # What a person is told when the pattern refuses a value; a regex means nothing to them. A {lang: text}
    # table (a skill outside the project's catalogues), or a text marked for gettext.
    pattern_error: object = _("is not in the expected form")

    def clean(self, value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError(gettext("must be text"))
        value = value.strip()
        if len(value) > self.max_length:
            message = ngettext(
                "must be at most %(count)d character", "must be at most %(count)d characters", self.max_length
            )
            raise FieldError(message % {"count": self.max_length})
        if _CONTROL.search(value):
            raise FieldError(gettext("must not contain control characters"))
        if value and self.pattern and not re.fullmatch(self.pattern, value):
            said = self.pattern_error
            raise FieldError(pick(said, get_language() or "en") if isinstance(said, Mapping) else str(said))
        return value

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "maxLength": self.max_length, "pattern": self.pattern}


@dataclass(frozen=True, kw_only=True)
class Secret(Text):
    """A credential the portal's admin gives the skill (another service's API token, say): the skill reads it
    as text in its options, while the engine keeps it encrypted apart from them (like the portal's own
    tokens: key rotation re-encrypts it, uninstalling destroys it). No page, API answer or admin view shows it
    again: they say whether it is set. Left empty in the form it stays as it is; it has no default."""

    kind: ClassVar[str] = "secret"
    secret: bool = field(default=True, init=False)
    max_length: int = 2000

    def __post_init__(self) -> None:
        if self.default:
            raise SkillConfigError("a Secret option has no default: the portal's admin gives its value")

    def to_text(self, value: Any) -> str:
        return ""  # never written back into a form


@dataclass(frozen=True, kw_only=True)
class OutsideUrl(Text):
    """The address of another service the skill calls (a tracker's API, a webhook), given by the portal's
    admin: an http(s) address without credentials whose host is no address on a private network or this
    host. Call it with botcore.skills.outbound.outside_client, which checks what its name resolves to at
    each call (a name can lead inward too): this check alone stops only the addresses written out.

    `secret=True` for an address that is itself the credential (a Slack or Bitrix24 incoming webhook, its
    token in the path): kept and shown as a Secret is (encrypted apart, never shown again, no default)."""

    kind: ClassVar[str] = "outside_url"
    secret: bool = False
    max_length: int = 2000

    def __post_init__(self) -> None:
        if self.secret and self.default:
            raise SkillConfigError("a secret OutsideUrl has no default: the portal's admin gives its value")

    def to_text(self, value: Any) -> str:
        return "" if self.secret else super().to_text(value)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value:
            try:
                check_outside_url(value)
            except OutsideAddressError as error:
                raise FieldError(str(error)) from None
        return value


@dataclass(frozen=True, kw_only=True)
class Integer(Option):
    kind: ClassVar[str] = "integer"
    default: int = 0
    min: int | None = None
    max: int | None = None

    def clean(self, value: Any) -> int:
        if isinstance(value, str):
            if not _NUMBER.fullmatch(value.strip()):
                raise FieldError(gettext("must be a whole number"))
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(gettext("must be a whole number"))
        if self.min is not None and value < self.min:
            raise FieldError(gettext("must be at least %(min)s") % {"min": self.min})
        if self.max is not None and value > self.max:
            raise FieldError(gettext("must be at most %(max)s") % {"max": self.max})
        return value

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "min": self.min, "max": self.max}


@dataclass(frozen=True, kw_only=True)
class Boolean(Option):
    kind: ClassVar[str] = "boolean"
    default: bool = False

    def clean(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "true",
            "on",
            "yes",
            "y",
            "1",
            "false",
            "off",
            "no",
            "n",
            "0",
        ):
            return value.lower() in ("true", "on", "yes", "y", "1")
        raise FieldError(gettext("must be true or false"))

    def parse_text(self, text: str) -> bool:
        return self.clean(text.strip()) if text.strip() else False  # an unticked box sends nothing


@dataclass(frozen=True, kw_only=True)
class Choice(Option):
    """One of fixed values, stored as the value; a form shows a select. `choices` is the values,
    `("short", "long")`, or each value with its label per language, which the form shows in the admin's
    language: `{"short": {"en": "Short", "ru": "Коротко"}, "long": {...}}` (a value without labels shows as
    it is)."""

    kind: ClassVar[str] = "choice"
    choices: Sequence[str] | Mapping[str, Mapping[str, str]] = ()
    # Read from `choices`: the values in order, and each one's label table ({} where none is given).
    values: tuple[str, ...] = field(init=False, repr=False, compare=False)
    choice_labels: Mapping[str, Mapping[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, (Sequence, Mapping)):
            raise SkillConfigError(
                "a Choice option's choices must be a tuple of values or a {value: {language: label}} table,"
                f" not {self.choices!r}"
            )
        if not self.choices:
            raise SkillConfigError("a Choice option needs choices")
        values = tuple(self.choices)
        for number, value in enumerate(values):
            if not isinstance(value, str) or not value:
                raise SkillConfigError(f"a Choice: each choice must be a non-empty text, not {value!r}")
            if value in values[:number]:
                raise SkillConfigError(f"a Choice option: choice {value!r} is listed twice")
        labels = self.choices if isinstance(self.choices, Mapping) else {}
        # A label that is no table is kept as given: the boot check names it with its skill and option.
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "choice_labels", {value: labels.get(value, {}) for value in values})
        if self.default is None:
            object.__setattr__(self, "default", values[0])

    def label_of(self, value: str, language: str) -> str:
        """`value`'s label in `language` (else as pick falls back), or the value itself when it has none."""
        table = self.choice_labels.get(value)
        return pick(table, language) if table else value

    def clean(self, value: Any) -> str:
        # The API is given the values, so its refusal names them (labels are the form's).
        if value not in self.values:
            raise FieldError(gettext("must be one of %(choices)s") % {"choices": ", ".join(self.values)})
        return value

    def parse_text(self, text: str) -> Any:
        # The form's select shows the labels: its refusal (a stale form, a hand-made post) names them.
        if text.strip() and text.strip() not in self.values:
            labels = ", ".join(self.label_of(value, get_language() or "") for value in self.values)
            raise FieldError(gettext("must be one of %(choices)s") % {"choices": labels})
        return super().parse_text(text)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "choices": list(self.values),
            "choiceLabels": {value: dict(table) for value, table in self.choice_labels.items()},
        }


_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})", re.ASCII)


@dataclass(frozen=True, kw_only=True)
class Time(Option):
    """A time of day, "HH:MM" (24 h), read in the portal's time zone."""

    kind: ClassVar[str] = "time"
    default: str = "09:00"

    def clean(self, value: Any) -> str:
        match = _TIME.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            raise FieldError(gettext("must be a time of day such as 09:30"))
        return f"{int(match[1]):02d}:{match[2]}"


@dataclass(frozen=True, kw_only=True)
class IdList(Option):
    """Numeric ids (portal users), e.g. participants; a form takes them comma-separated."""

    kind: ClassVar[str] = "id_list"
    default: tuple[int, ...] = ()
    max_items: int = 200

    def clean(self, value: Any) -> list[int]:
        if isinstance(value, str):
            value = [piece for piece in re.split(r"[\s,;]+", value) if piece]
        if not isinstance(value, (list, tuple)):
            raise FieldError(gettext("must be a list of user ids"))
        if len(value) > self.max_items:
            message = ngettext(
                "must list at most %(count)d person", "must list at most %(count)d people", self.max_items
            )
            raise FieldError(message % {"count": self.max_items})
        ids: list[int] = []
        for item in value:
            if isinstance(item, str) and _NUMBER.fullmatch(item):
                item = int(item)
            if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 10**15:
                raise FieldError(gettext("%(value)s is not a user id") % {"value": _shorten(item)})
            if item not in ids:
                ids.append(item)
        return ids

    def to_text(self, value: Any) -> str:
        return ", ".join(str(item) for item in value or ())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "default": list(self.default)}


@dataclass(frozen=True, kw_only=True)
class GroupChat(Text):
    """A group chat the bot is in, stored as its dialog id ("chat12"); a form offers the bot's known chats."""

    kind: ClassVar[str] = "group_chat"
    max_length: int = 32
    pattern: str | None = r"chat[0-9]{1,15}"
    pattern_error: object = _("pick one of the group chats the bot is in")

    def clean(self, value: Any) -> str:
        # The chat page names a chat "chat-12" and people type "12": both mean dialog id chat12.
        if isinstance(value, str) and re.fullmatch(r"\s*(chat-?)?[0-9]{1,15}\s*", value, re.ASCII):
            value = "chat" + value.strip().removeprefix("chat").removeprefix("-")
        return super().clean(value)


@dataclass(frozen=True, kw_only=True)
class PortalUsers(IdList):
    """People of the portal, stored as their user ids; a form offers the portal's users by name."""

    kind: ClassVar[str] = "portal_users"


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The days as a Russian-speaking admin types them: the Russian form's hint shows the short names.
_RUSSIAN_SHORT = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")  # noqa: RUF001
_RUSSIAN_NAMES = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
_RUSSIAN_WEEKDAYS = {
    name: number for names in (_RUSSIAN_SHORT, _RUSSIAN_NAMES) for number, name in enumerate(names, start=1)
}


@dataclass(frozen=True, kw_only=True)
class Weekdays(Option):
    """Days of the week as ISO numbers (1 = Monday … 7 = Sunday); a form takes "1-5" or "mon,wed,fri"."""

    kind: ClassVar[str] = "weekdays"
    default: tuple[int, ...] = (1, 2, 3, 4, 5)

    def clean(self, value: Any) -> list[int]:
        if isinstance(value, str):
            value = _parse_weekdays(value)
        if not isinstance(value, (list, tuple)) or not value:
            raise FieldError(gettext("must name at least one day, e.g. 1-5 or mon,wed,fri"))
        for day in value:
            if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
                raise FieldError(gettext("days are numbers 1 (Monday) to 7 (Sunday)"))
        return sorted(set(value))

    def to_text(self, value: Any) -> str:
        # In the page's language: a Russian page's hint names the Russian short days; forms read both.
        names = _RUSSIAN_SHORT if get_language() == "ru" else _WEEKDAYS
        return ",".join(names[day - 1] for day in value or ())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "default": list(self.default)}


def _parse_weekdays(text: str) -> list[int]:
    days: list[int] = []
    for piece in filter(None, re.split(r"[\s,;]+", text.strip().lower())):
        bounds = piece.split("-")
        if len(bounds) > 2:
            raise FieldError(
                gettext("%(value)s is not a day or a range of days") % {"value": _shorten(piece)}
            )
        numbers = [_weekday_number(bound) for bound in bounds]
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            message = gettext("%(value)s: a range runs from the earlier day to the later one")
            raise FieldError(message % {"value": _shorten(piece)})
        days.extend(range(numbers[0], numbers[-1] + 1))
    return days


def _weekday_number(text: str) -> int:
    if text in ("1", "2", "3", "4", "5", "6", "7"):
        return int(text)
    if text[:3] in _WEEKDAYS:
        return _WEEKDAYS.index(text[:3]) + 1
    if text in _RUSSIAN_WEEKDAYS:
        return _RUSSIAN_WEEKDAYS[text]
    raise FieldError(gettext("%(value)s is not a day (1-7 or mon…sun)") % {"value": _shorten(text)})


QUOTED_CHARS = 40


def shortened(text: str) -> str:
    """`text` quoted in a refusal, cut at QUOTED_CHARS: a 5,000-digit number or a megabyte-long option name
    must not fill the page."""
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 3] + "…"


def _shorten(value: Any) -> str:
    """A refused value quoted in a message, cut short (shortened)."""
    return shortened(repr(value))


def json_value(value: Any) -> Any:
    """A value in its stored JSON form: a tuple (a default written as one) becomes a list."""
    return list(value) if isinstance(value, tuple) else value
