"""How a platform payload becomes a typed object: pydantic v2 validation, made tolerant and keeping `raw`.

Every typed result and event (models.py, events.py) is a frozen pydantic dataclass built on WireObject:
fields are snake_case read from camelCase (or an explicit alias), unknown fields are ignored, scalars
sent as strings are converted by pydantic's lax mode ("42" -> 42, "Y"/"N" -> True/False, 42 -> "42").
`read()` adds the one rule that keeps a platform change from breaking the client: a value that cannot be
read as its field's type is left out and the field takes its default, so only a field with no default
(an event's id, a message event's message) can make a payload unreadable. The object keeps the mapping
it was read from in `raw`, so a field this package does not model yet stays reachable. (Where a value was
left out, a nested object's `raw` is the mapping without it; the outermost object's is always the
payload as received.)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast, dataclass_transform, get_args

from pydantic import AliasChoices, AliasPath, ConfigDict, Field, SkipValidation, TypeAdapter, ValidationError
from pydantic import model_validator as model_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.fields import FieldInfo

from botcore.vibe.coerce import EMPTY, controls_escaped, replace_lone_surrogates

T = TypeVar("T")

WIRE_CONFIG = ConfigDict(
    alias_generator=to_camel,
    validate_by_name=True,  # keyword construction in code and tests uses the field names
    validate_by_alias=True,
    coerce_numbers_to_str=True,
    extra="ignore",
    arbitrary_types_allowed=True,
)

# A value that cannot be left out: the field is required, so the payload is unreadable without it.
_UNREPAIRABLE = frozenset({"missing", "missing_keyword_only_argument", "missing_argument"})
# Each repair drops at least one value, so this bounds a payload that is wrong at many depths.
MAX_REPAIRS = 8
# A key pydantic cannot read as text: one holding a lone surrogate (JSON's "\ud800" alone). It refused the
# whole object the key was in, not one field: the client's read raised ValidationError, and a message event
# lost its message (kept as MALFORMED, never answered).
_KEY_NOT_TEXT = "string_unicode"


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(dataclasses.field, Field))
def wire_dataclass(cls: type[T]) -> type[T]:
    """A frozen, keyword-only pydantic dataclass read with WIRE_CONFIG."""
    return cast("type[T]", pydantic_dataclass(frozen=True, kw_only=True, config=WIRE_CONFIG)(cls))


def raw_field() -> Any:
    return dataclasses.field(default_factory=lambda: EMPTY, repr=False, compare=False)


@wire_dataclass
class WireObject:
    """Base of every typed object read from the platform: `raw` is the mapping it was read from."""

    raw: SkipValidation[Mapping[str, Any]] = raw_field()

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Self:
        """The object `data` describes (see read()); raises pydantic's ValidationError only when a
        required field is missing or unreadable."""
        return read(cls, data)


_adapters: dict[type[Any], TypeAdapter[Any]] = {}


def adapter(cls: type[T]) -> TypeAdapter[T]:
    """The class's validator, built once (a dict read after that: no lock needed, a race builds it twice)."""
    found = _adapters.get(cls)
    if found is None:
        found = _adapters[cls] = TypeAdapter(cls)
    return found


log = logging.getLogger(__name__)

# (class, field's place, problem) already said in this process's log: a platform that writes a field in a form
# this client cannot read writes it so in every event, and one line says it.
_said_unreadable: set[tuple[str, str, str]] = set()
_SAID_AT_MOST = 1000  # keys of a platform's own making (a mapping's) could otherwise grow it without end


def forget_unreadable() -> None:
    """Say each unreadable field again (tests)."""
    _said_unreadable.clear()


def _say_left_out(cls: type[Any], problems: list[Any], data: Any) -> None:
    """Log, once per process, each field of `cls` left out as unreadable: its place and its problem, never its
    value (a platform's text may hold anything). Left out without a word, a date in a form this client did not
    read went unnoticed, and what rested on it (the standup's answer times) quietly went wrong."""
    for problem in problems:
        if problem["type"] == "dict_type" and _value_at(data, problem["loc"]) == []:
            continue  # PHP's empty array for an empty mapping (imbot.v2's `uuidMap: []`): nothing is lost
        # A list's items are one place ("items.*.date"): the set stays as small as the classes' fields.
        # A mapping's keys are the platform's words: escaped and cut, as its error text is.
        place = ".".join("*" if isinstance(part, int) else str(part) for part in problem["loc"])
        said = (cls.__name__, controls_escaped(place)[:200], str(problem["type"]))
        if said not in _said_unreadable and len(_said_unreadable) < _SAID_AT_MOST:
            _said_unreadable.add(said)
            log.warning("%s: %s left out, this client cannot read it (%s)", *said)


def _value_at(data: Any, place: tuple[Any, ...]) -> Any:
    """The value at `place` (dict keys and list indexes) in `data`; None where there is none."""
    for part in place:
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def read(cls: type[T], data: Any) -> T:
    """Validate `data` as `cls`, leaving out each value that cannot be read (its field's default stands, and
    the log says so once per process)."""
    original = data
    validator = adapter(cls)
    for _ in range(MAX_REPAIRS):
        try:
            made: T = validator.validate_python(data)
        except ValidationError as error:
            problems = error.errors(include_url=False, include_context=False, include_input=False)
            if any(p["type"] == _KEY_NOT_TEXT for p in problems) and data is original:
                data = _with_text_keys(data)  # once: the payload's own keys, as text
                continue
            if any(p["type"] in _UNREPAIRABLE or not p["loc"] for p in problems):
                raise
            _say_left_out(cls, problems, data)
            data = _without(data, {tuple(p["loc"]) for p in problems})
            continue
        if isinstance(made, WireObject) and isinstance(data, Mapping):
            _keep_raw(made, data)
            if data is not original:
                object.__setattr__(made, "raw", original)
        return made
    return validator.validate_python(data)  # raises: still unreadable after MAX_REPAIRS


# --- raw: each object gets the mapping it was read from -------------------------------------------
# Set after validation by one walk rather than by a validator on every class, which costs pydantic a
# Python call per object (about half the cost of reading an event, benchmarks/event_parse.py).
Path = tuple[str | int, ...]
_MISSING = object()
_nested_cache: dict[type[Any], tuple[tuple[str, tuple[Path, ...]], ...]] = {}


def _keep_raw(made: WireObject, data: Mapping[str, Any]) -> None:
    object.__setattr__(made, "raw", data)
    for name, paths in _nested(type(made)):
        value = getattr(made, name)
        if value is None:
            continue
        source: Any = _MISSING
        for path in paths:
            source = _lookup(data, path)
            if source is not _MISSING:
                break
        if isinstance(value, WireObject):
            if _is_mapping(source):
                _keep_raw(value, source)
        elif isinstance(value, tuple) and type(source) is list and len(value) == len(source):
            for item, item_source in zip(value, source, strict=True):
                if isinstance(item, WireObject) and _is_mapping(item_source):
                    _keep_raw(item, item_source)


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # JSON gives dicts: skip the ABC check


def _nested(cls: type[Any]) -> tuple[tuple[str, tuple[Path, ...]], ...]:
    """The fields of `cls` that hold typed objects, each with the input paths it is read from."""
    found = _nested_cache.get(cls)
    if found is None:
        fields: dict[str, FieldInfo] = cls.__pydantic_fields__
        found = _nested_cache[cls] = tuple(
            (name, _paths(info.validation_alias or info.alias or name))
            for name, info in fields.items()
            if _holds_wire_object(info.annotation)
        )
    return found


def _holds_wire_object(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, WireObject):
        return True
    return any(_holds_wire_object(arg) for arg in get_args(annotation))


def _paths(alias: str | AliasPath | AliasChoices) -> tuple[Path, ...]:
    if isinstance(alias, AliasChoices):
        return tuple(path for choice in alias.choices for path in _paths(choice))
    if isinstance(alias, AliasPath):
        return (tuple(alias.path),)
    return ((alias,),)


def _lookup(data: Any, path: Path) -> Any:
    for key in path:
        if isinstance(key, str) and _is_mapping(data):
            data = data.get(key, _MISSING)
        elif isinstance(key, int) and type(data) is list and -len(data) <= key < len(data):
            data = data[key]
        else:
            return _MISSING
    return data


def _with_text_keys(value: Any) -> Any:
    """A copy of `value` whose keys have each lone surrogate as U+FFFD (values are left: pydantic reads them);
    `value` itself when it is nested too deep to copy (the validation then fails as before)."""

    def fix(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {
                (replace_lone_surrogates(k) if isinstance(k, str) else k): fix(v) for k, v in node.items()
            }
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    try:
        return fix(value)
    except RecursionError:
        return value


def _without(value: Any, paths: set[tuple[int | str, ...]]) -> Any:
    """A copy of `value` without the values at `paths` (dict keys and list indexes), sharing the rest."""
    prefixes = {path[:n] for path in paths for n in range(len(path))}

    def prune(node: Any, at: tuple[int | str, ...]) -> Any:
        if at not in prefixes:
            return node
        if isinstance(node, Mapping):
            return {k: prune(v, (*at, k)) for k, v in node.items() if (*at, k) not in paths}
        if isinstance(node, list):
            return [prune(v, (*at, i)) for i, v in enumerate(node) if (*at, i) not in paths]
        return node

    return prune(value, ())
