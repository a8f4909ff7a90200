"""Finds the enabled skills (BOTCORE_SKILLS, ordered) and fails the boot on a bad one.

Each BOTCORE_SKILLS item is either a dotted path ("botcore.skills.builtin.echo.EchoSkill") or the name of
an entry point in the "vibeapp.skills" group (BOTCORE_SKILL_ENTRY_POINT_GROUP), which a separately
installed package declares in its pyproject.toml:

    [project.entry-points."vibeapp.skills"]
    weather = "vibe_weather.skill:WeatherSkill"

Installing the package only makes "weather" known; it runs once BOTCORE_SKILLS lists it, at the place
that gives its routing priority. The entry point's name must equal the skill's `name`.
"""

from __future__ import annotations

import contextlib
import re
import traceback
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path

from django.utils.module_loading import import_string

from botcore.conf import read_setting
from botcore.errors import SkillConfigError
from botcore.skills.base import CommandSpec, MessageFilter, Skill
from botcore.skills.cron import CronError, CronExpression
from botcore.skills.events import BackendEventType
from botcore.skills.option_fields import Choice, FieldError, Option, json_value
from botcore.skills.options import OptionsSchema
from botcore.vibe.events import EventType

_COMMAND_NAME = re.compile(r"[a-z0-9_\-]{1,32}")


def entry_point_group() -> str:
    return str(read_setting("BOTCORE_SKILL_ENTRY_POINT_GROUP", "vibeapp.skills"))


def list_installed_skill_entry_points() -> dict[str, str]:
    """Skill names installed packages make known, with the object each points at."""
    return {point.name: point.value for point in entry_points(group=entry_point_group())}


def _import(item: str) -> type:
    if "." not in item and ":" not in item:
        points = {point.name: point for point in entry_points(group=entry_point_group())}
        if item not in points:
            known = ", ".join(sorted(points)) or "none installed"
            raise SkillConfigError(
                f"BOTCORE_SKILLS: {item!r} is neither a dotted path nor a skill entry point "
                f"(group {entry_point_group()!r}: {known})",
                kind="import",
            )
        try:
            return points[item].load()
        except Exception as exc:  # noqa: BLE001 (an installed package that fails to import: say which one)
            raise SkillConfigError(
                f"BOTCORE_SKILLS: entry point {item!r} ({points[item].value}) fails to load:"
                f" {type(exc).__name__}: {exc} ({_where(exc)})",
                kind="import" if isinstance(exc, ImportError) else "broken",
            ) from None
    try:
        return import_string(item.replace(":", "."))
    except ImportError as exc:
        raise SkillConfigError(f"BOTCORE_SKILLS: cannot import {item!r}: {exc}", kind="import") from None
    # A declaration refused as the module declares it (Choice(choices=()), a Secret's default): the skill's
    # own line, and the declaration's fix.
    except SkillConfigError as exc:
        raise SkillConfigError(f"BOTCORE_SKILLS: importing {item!r}: {exc} ({_where(exc)})") from None
    # The module is found but fails while running: name the error and where, not a traceback.
    except Exception as exc:  # noqa: BLE001
        raise SkillConfigError(
            f"BOTCORE_SKILLS: importing {item!r} raised {type(exc).__name__}: {exc} ({_where(exc)})",
            kind="broken",
        ) from None


_SKILLS_PACKAGE = Path(__file__).resolve().parent


def _declares(path: Path) -> bool:
    """Whether a frame in `path` is a skill's code: a file, not one of botcore's skill framework's (a
    built-in skill's is a skill's)."""
    path = path.resolve()
    framework = path.is_relative_to(_SKILLS_PACKAGE) and not path.is_relative_to(_SKILLS_PACKAGE / "builtin")
    return path.is_file() and not framework


def _where(exc: BaseException) -> str:
    """The innermost frame of `exc`'s traceback in a file outside this package (the skill's line, not the
    line of botcore that refused its declaration nor a dataclass's generated __init__), relative to the
    working directory when under it."""
    frames = traceback.extract_tb(exc.__traceback__)
    frame = next((frame for frame in reversed(frames) if _declares(Path(frame.filename))), frames[-1])
    path = Path(frame.filename)
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd())
    return f"at {path}:{frame.lineno}"


def _check_texts(where: str, /, *, hint: str = "", **tables: object) -> None:
    """Each `{language: text}` table is one: a plain string there boots, then fails whatever shows it (the
    help skill's /help for every skill's users, the portal page), read as a table."""
    for what, table in tables.items():
        if not isinstance(table, Mapping) or not all(
            isinstance(key, str) and isinstance(text, str) for key, text in table.items()
        ):
            example = {"en": table} if isinstance(table, str) else {"en": "..."}
            raise SkillConfigError(
                f"{where}: {what} must be a {{language: text}} table{hint} such as {example!r}, not {table!r}"
            )


def _check_option_texts(where: str, option: Option) -> None:
    """An option's label and help, and a Choice's label of each choice."""
    hint = ""
    # Labels per choice given as the option's own label ({"short": {"en": "Short"}}): say where they go.
    table = option.label
    if isinstance(option, Choice) and isinstance(table, Mapping) and set(table) & set(option.values):
        first = option.values[0]
        hint = f" (each choice's label goes in choices={{{first!r}: {{'en': ...}}, ...}})"
    _check_texts(where, hint=hint, label=option.label, help=option.help)
    if isinstance(option, Choice):
        for value, labels in option.choice_labels.items():
            _check_texts(f"{where}: choice {value!r}", label=labels)


def _check_commands(label: str, commands: tuple[CommandSpec, ...]) -> None:
    seen: set[str] = set()
    for spec in commands:
        if not isinstance(spec, CommandSpec):
            raise SkillConfigError(f"{label}: commands must be CommandSpec items")
        _check_texts(
            f"{label}: command /{spec.command}",
            title=spec.title,
            description=spec.description,
            params=spec.params,
        )
        if not _COMMAND_NAME.fullmatch(spec.command):
            raise SkillConfigError(
                f"{label}: command {spec.command!r} must be 1-32 of a-z, 0-9, _ and -, without the slash"
            )
        if not spec.title.get("en"):
            raise SkillConfigError(
                f"{label}: command /{spec.command} needs an English title (the fallback language)"
            )
        if spec.key in seen:
            raise SkillConfigError(f"{label}: command /{spec.command} is declared twice")
        seen.add(spec.key)


def _check_option_defaults(label: str, schema: OptionsSchema) -> None:
    """Each default is a value its own field stores as it is: the skill reads a default as declared, so
    `Integer(default="5")` would hand it the text "5", and `Integer(min=1)` a 0 that the settings page shows
    and then refuses to save."""
    for name, option in schema.fields.items():
        _check_option_texts(f"{label}: option {name!r}", option)
        declared = json_value(option.default)
        try:
            cleaned = json_value(option.clean(option.default))
        except FieldError as error:
            raise SkillConfigError(f"{label}: option {name!r}: its default {declared!r} {error}") from None
        if cleaned != declared or type(cleaned) is not type(declared):
            raise SkillConfigError(
                f"{label}: option {name!r}: its default {option.default!r} reads as {cleaned!r}: "
                f"declare default={cleaned!r}"
            )


def check_skill_class(cls: object, label: str) -> type[Skill]:
    """Everything routing and provisioning rely on, checked once at boot instead of at the first event."""
    if not (isinstance(cls, type) and issubclass(cls, Skill)):
        raise SkillConfigError(f"{label} is not a Skill subclass")
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name.isidentifier():
        raise SkillConfigError(f"{label} needs a `name` that is an identifier")
    event_types = getattr(cls, "event_types", None)
    if not event_types:
        raise SkillConfigError(f"{label} declares no event_types")
    unknown = [t for t in event_types if not isinstance(t, (EventType, BackendEventType))]
    if unknown:
        raise SkillConfigError(
            f"{label}: event_types must be EventType or BackendEventType members, not {unknown!r}"
        )
    if cls.commands and EventType.COMMAND_ADD not in event_types:
        raise SkillConfigError(f"{label} owns commands but does not declare EventType.COMMAND_ADD")
    if cls.has_schedules() and BackendEventType.SCHEDULED_RUN not in event_types:
        raise SkillConfigError(f"{label} has schedules but does not declare BackendEventType.SCHEDULED_RUN")
    _check_commands(label, cls.commands)
    _check_texts(label, title=cls.title, summary=cls.summary)
    if not isinstance(cls.message_filter, MessageFilter):
        raise SkillConfigError(f"{label}: message_filter must be a MessageFilter")
    if not isinstance(cls.options_schema, OptionsSchema):
        raise SkillConfigError(f"{label}: options_schema must be an OptionsSchema")
    _check_option_defaults(label, cls.options_schema)
    if cls.enabled_by_default:
        # Turning a skill on checks its required options; one on by default is never turned on.
        for name, option in cls.options_schema.fields.items():
            if option.required and json_value(option.default) in ("", [], None):
                raise SkillConfigError(
                    f"{label}: option {name!r} is required and has no default, so the skill cannot run on a "
                    "portal until its admin gives it: declare enabled_by_default = False (the admin turns "
                    "it on with the value), or give the option a default"
                )
    names = [spec.name for spec in cls.schedules]
    if len(names) != len(set(names)):
        raise SkillConfigError(f"{label}: schedule names must be unique")
    for spec in cls.schedules:
        try:
            CronExpression.parse(spec.cron)
        except CronError as error:
            raise SkillConfigError(f"{label}: schedule {spec.name!r}: {error}") from None
    return cls


def check_skill_declaration(cls: object) -> type[Skill]:
    """check_skill_class as the boot runs it on BOTCORE_SKILLS naming the class by its dotted path: what the
    test kit runs on every skill it is given, so a skill the deployment refuses (botcore.E003) fails its
    tests with the boot's own message instead of passing them."""
    path = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"
    return check_skill_class(cls, _label(path))


def _label(item: str) -> str:
    return f"BOTCORE_SKILLS: {item!r}"


def load_skills(paths: list[str] | tuple[str, ...] | None = None) -> list[Skill]:
    """Instantiate the skills at `paths` (default: BOTCORE_SKILLS) in order, checking each declaration;
    the first item refused raises its SkillConfigError."""
    skills, problems = _load(paths)
    if problems:
        raise problems[0]
    return skills


def find_skill_problems(paths: list[str] | tuple[str, ...] | None = None) -> list[SkillConfigError]:
    """Every item of `paths` (default: BOTCORE_SKILLS) that load_skills would refuse, in order: a check
    names them all, where a boot stops at the first."""
    return _load(paths)[1]


def _load(paths: list[str] | tuple[str, ...] | None) -> tuple[list[Skill], list[SkillConfigError]]:
    items = list(read_setting("BOTCORE_SKILLS", []) if paths is None else paths)
    skills: list[Skill] = []
    problems: list[SkillConfigError] = []
    seen: dict[str, str] = {}
    for item in items:
        try:
            cls = _check_item(item, seen)
        except SkillConfigError as problem:
            problems.append(problem)
            continue
        seen[cls.name] = item
        skills.append(cls())
    return skills, problems


def _check_item(item: str, seen: Mapping[str, str]) -> type[Skill]:
    """The skill class of one BOTCORE_SKILLS item, given the names the items before it took."""
    cls = check_skill_class(_import(item), _label(item))
    if "." not in item and ":" not in item and cls.name != item:
        raise SkillConfigError(
            f"BOTCORE_SKILLS: entry point {item!r} loads a skill named {cls.name!r}; the names must match",
            kind="entry_point",
        )
    if cls.name in seen:
        raise SkillConfigError(
            f"BOTCORE_SKILLS: skill name {cls.name!r} is used by both {seen[cls.name]!r} and {item!r}",
            kind="duplicate",
        )
    return cls


@lru_cache(maxsize=4)
def _configured(paths: tuple[str, ...]) -> tuple[Skill, ...]:
    return tuple(load_skills(paths))


def configured_skills() -> tuple[Skill, ...]:
    """The skills of BOTCORE_SKILLS, loaded once per process (per distinct setting)."""
    return _configured(tuple(read_setting("BOTCORE_SKILLS", [])))


def find_skill(name: str) -> Skill | None:
    return next((skill for skill in configured_skills() if skill.name == name), None)


def get_skill(name: str) -> Skill:
    skill = find_skill(name)
    if skill is None:
        raise SkillConfigError(f"no configured skill named {name!r}")
    return skill
