"""The options a skill declares for each portal: typed fields with defaults, checked before they are stored.

    options_schema = OptionsSchema(
        chat=Text(default="", pattern=r"chat\\d+", label={"en": "Group chat", "ru": "Групповой чат"}),
        ask_at=Time(default="09:30"),
        participants=IdList(),
        mode=Choice(choices={"short": {"en": "Short", "ru": "Коротко"}, "long": {"en": "Long"}}),
    )
    values = schema.validate({"chat": "chat5", "ask_at": "9:05"})   # {..., "ask_at": "09:05", ...}
    # a refused value raises OptionsError, whose `errors` name each bad field

Stored values are the validated JSON form (`validate`), read back leniently (`resolve`: a value the schema
no longer accepts falls back to its default, so a skill upgrade never breaks a portal). Form posts are
strings; `parse_text` turns each field's text into its value with the same checks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from itertools import islice
from typing import Any

from django.utils.translation import gettext

from botcore.errors import SkillConfigError
from botcore.skills.option_fields import (
    Boolean,
    Choice,
    FieldError,
    GroupChat,
    IdList,
    Integer,
    Option,
    OutsideUrl,
    PortalUsers,
    Secret,
    Text,
    Time,
    Weekdays,
    json_value,
    shortened,
)


class OptionsError(SkillConfigError):
    """Options refused: `errors` maps each bad field to a message (the key "" for the whole set)."""

    def __init__(self, errors: Mapping[str, str], *, skill_name: str | None = None) -> None:
        self.errors = dict(errors)
        said = "; ".join(f"{name or 'options'}: {message}" for name, message in self.errors.items())
        # Named where several skills' options meet (the test kit's route()): "this skill" alone is no help.
        super().__init__(f"the {skill_name} skill's options: {said}" if skill_name else said)


class MissingOptionError(KeyError):
    """A skill read an option it does not declare (`ctx.options["colour"]`): names the skill, the option and
    the options it has. A KeyError still (`args` holds the option), so `in` and `.get` read as a dict's."""

    def __init__(self, option: object, *, skill_name: str, declared: Collection[str]) -> None:
        super().__init__(option)
        self.option = option
        self.skill_name = skill_name
        self.declared = tuple(declared)

    def __str__(self) -> str:  # KeyError's own is the repr of the key alone
        has = f"its options: {', '.join(self.declared)}" if self.declared else "it declares none"
        return f"the {self.skill_name} skill has no option {shortened(repr(self.option))} ({has})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _missing_option, (self.option, self.skill_name, self.declared)


def _missing_option(option: object, skill_name: str, declared: Collection[str]) -> MissingOptionError:
    return MissingOptionError(option, skill_name=skill_name, declared=declared)


class SkillOptions(dict[str, Any]):
    """One portal's options for one skill as the skill reads them (ctx.options): a dict, JSON as before (a
    skill may defer or store them), whose missing key raises MissingOptionError naming the skill; `in` and
    `.get` never raise, as a dict's."""

    def __init__(self, values: Mapping[str, Any], *, skill_name: str, declared: Collection[str]) -> None:
        super().__init__(values)
        self.skill_name = skill_name
        self.declared = tuple(declared)

    def __missing__(self, name: str) -> Any:
        raise MissingOptionError(name, skill_name=self.skill_name, declared=self.declared)


UNKNOWN_NAMED = 5


def name_unknown_keys(raw: Mapping[str, Any], known: Collection[str]) -> tuple[list[str], int]:
    """The first UNKNOWN_NAMED keys of `raw` that are not in `known`, each by its beginning (shortened), and
    how many there are in all.

    Counted from the known names, so a body of 150,000 unknown keys is not walked key by key and its refusal
    names a few of them, not every one (which took seconds and answered megabytes); a name a megabyte long
    was echoed whole.
    """
    count = len(raw) - sum(1 for name in known if name in raw)
    first = islice((name for name in raw if name not in known), min(count, UNKNOWN_NAMED))
    return [shortened(str(name)) for name in first], count


class OptionsSchema:
    """A skill's option fields by name, in declaration order."""

    def __init__(self, **fields: Option) -> None:
        for name, option in fields.items():
            if not name.isidentifier() or not isinstance(option, Option):
                raise SkillConfigError(f"option {name!r} must be an identifier declared with an Option kind")
        self.fields: dict[str, Option] = dict(fields)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def defaults(self) -> dict[str, Any]:
        return {name: json_value(option.default) for name, option in self.fields.items()}

    def validate(self, raw: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Every field's stored form: given values checked, missing ones defaulted (or kept, with `partial`).

        Raises OptionsError naming each refused field, an unknown field, or a required one left empty.
        """
        if not isinstance(raw, Mapping):
            raise OptionsError({"": gettext("options must be an object of field names to values")})
        unknown, unknown_count = name_unknown_keys(raw, self.fields)
        errors = {name: gettext("is not an option of this skill") for name in unknown}
        if unknown_count > len(unknown):
            errors[""] = gettext("unknown options in all: %(count)d") % {"count": unknown_count}
        values: dict[str, Any] = {}
        for name, option in self.fields.items():
            if name not in raw:
                if not partial:
                    values[name] = json_value(option.default)
                continue
            try:
                values[name] = json_value(option.default if raw[name] is None else option.clean(raw[name]))
            except FieldError as error:
                errors[name] = str(error)
        self._check_required(values, errors)
        if errors:
            raise OptionsError(errors)
        return values

    def _check_required(self, values: Mapping[str, Any], errors: dict[str, str]) -> None:
        """Add "is required" for each required field left empty that has no error of its own."""
        for name, option in self.fields.items():
            if option.required and name in values and values[name] in ("", [], None) and name not in errors:
                errors[name] = gettext("is required")

    def parse_form(self, texts: Mapping[str, str]) -> dict[str, Any]:
        """Values from a form's strings (one per field; a missing checkbox reads as off). A secret left empty
        is left out: the form never shows it, so empty means "keep it" (configure_skill merges)."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, option in self.fields.items():
            if option.secret and not str(texts.get(name, "")).strip():
                continue
            try:
                values[name] = option.parse_text(str(texts.get(name, "")))
            except FieldError as error:
                errors[name] = str(error)
        if errors:  # every error at once: a required field left empty too, not only after the rest is fixed
            self._check_required(values, errors)
            raise OptionsError(errors)
        return self.validate(values, partial=True)

    def secret_names(self) -> list[str]:
        return [name for name, option in self.fields.items() if option.secret]

    def shown(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` as a page or an API answer may show them: each secret "" (secrets_set: which are set)."""
        return {name: "" if name in self.fields and self.fields[name].secret else value
                for name, value in values.items()}  # fmt: skip

    def secrets_set(self, values: Mapping[str, Any]) -> list[str]:
        return [name for name in self.secret_names() if values.get(name)]

    def resolve(self, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        """What a skill sees: stored values that still pass, the default for the rest (never raises)."""
        values = self.defaults()
        for name, value in (stored or {}).items():
            option = self.fields.get(name)
            if option is None:
                continue
            try:
                values[name] = json_value(option.clean(value))
            except FieldError:
                pass  # the schema changed since it was stored: the default holds until the admin saves
        return values

    def describe(self) -> dict[str, dict[str, Any]]:
        return {name: option.describe() for name, option in self.fields.items()}


__all__ = [
    "Boolean", "Choice", "FieldError", "GroupChat", "IdList", "Integer", "MissingOptionError", "Option",
    "OptionsError", "OptionsSchema", "OutsideUrl", "PortalUsers", "Secret", "SkillOptions", "Text", "Time",
    "Weekdays",
]  # fmt: skip
