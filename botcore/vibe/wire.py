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
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast, dataclass_transform

from pydantic import (
    ConfigDict,
    Field,
    SkipValidation,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
)
from pydantic import model_validator as model_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass as pydantic_dataclass

from botcore.vibe.coerce import EMPTY

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

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        made = handler(data)
        if isinstance(data, Mapping):
            object.__setattr__(made, "raw", data)
        return made

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


def read(cls: type[T], data: Any) -> T:
    """Validate `data` as `cls`, leaving out each value that cannot be read (its field's default stands)."""
    original = data
    validator = adapter(cls)
    for _ in range(MAX_REPAIRS):
        try:
            made: T = validator.validate_python(data)
        except ValidationError as error:
            problems = error.errors(include_url=False, include_context=False, include_input=False)
            if any(p["type"] in _UNREPAIRABLE or not p["loc"] for p in problems):
                raise
            data = _without(data, {tuple(p["loc"]) for p in problems})
            continue
        if data is not original and isinstance(original, Mapping):
            object.__setattr__(made, "raw", original)
        return made
    return validator.validate_python(data)  # raises: still unreadable after MAX_REPAIRS


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
