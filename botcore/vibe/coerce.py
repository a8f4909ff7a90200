"""Scalar coercion: how one loose value of a platform payload reads as an int, a bool, a text or a mapping.

Webhook-style payloads carry scalars as strings ("42", "Y"), and a platform change may send null or the
wrong kind of value: each reading here turns such a value into the type asked for, or a default, and
never raises. Typed objects (wire.py) use pydantic's own lax conversions for their fields; these are for
the few readings made by hand (offsets, file ids) and the tolerant readings pydantic lacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


# A lone UTF-16 surrogate (JSON's "\ud83d" alone): half an emoji, where a platform cut a text at a length in
# UTF-16 units. UTF-8 cannot encode it, PostgreSQL cannot store it, pydantic cannot read a key holding it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD, the replacement character."""
    return _LONE_SURROGATE.sub("\ufffd", text)


# What ends or rewrites a line on a terminal or in a log file: C0 and C1 controls, DEL, the Unicode line and
# paragraph separators.
_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def controls_escaped(text: str) -> str:
    """`text` someone else wrote (the platform's error message) with its controls written as escapes ("\\n"),
    its other characters, Cyrillic included, as they are: put in a log line, it cannot end the line and start
    one that reads as the app's."""
    return _LINE_CONTROLS.sub(lambda control: control.group().encode("unicode_escape").decode("ascii"), text)


def is_digits(text: str) -> bool:
    """Whether `text` is ASCII digits only: str.isdigit() takes "²" (which int() refuses) and "٣" (which
    int() reads as 3), and a value from the wire is a number only as the platform writes one."""
    return text.isascii() and text.isdigit()


def as_int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if is_digits(text.removeprefix("-")):
            return int(text)
    return default


def as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("y", "yes", "true", "1")
    return bool(value)


def as_str(value: object) -> str:
    return "" if value is None else str(value)


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else EMPTY


# "[Europe/Moscow]" or "[UTC]" closing a date: RFC 9557's time zone suffix, as Java writes a ZonedDateTime.
_ZONE_ID_AFTER_OFFSET = re.compile(r"\[[A-Za-z0-9_+\-/]+\]\Z")


def without_zone_id(value: Any) -> Any:
    """A date's text without the zone's id a Java ZonedDateTime writes after its offset; anything else as it
    is. Where events' dates are validated as AwareDatetime (botcore.vibe.events), pydantic took such a
    date for no date."""
    return _ZONE_ID_AFTER_OFFSET.sub("", value) if isinstance(value, str) else value


def as_datetime(value: object) -> datetime | None:
    """An ISO-8601 instant ("Z", an offset, fractional seconds or not, nanoseconds too); None for anything
    else, a time without its offset included: on whose clock it is nobody can say, and compared with an
    instant it raises. A zone's id after the offset, as Java's ZonedDateTime writes it
    ("…+03:00[Europe/Moscow]", docs/sandbox.md `zoned-dates`), is dropped: the offset already fixes the
    instant. Read as no date, a session's end became the assumed life, and the bot stopped answering when
    that ran out, its token good."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(without_zone_id(value))
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def with_slash(command: str) -> str:
    """A command name in the one form skills see: "/ping" from "ping", "/ping" or " /ping "."""
    name = command.strip().lstrip("/")
    return "/" + name if name else ""


def lang_map(value: object) -> Mapping[str, str]:
    """A text per language: {"en": "Help"} as sent, or one string (for the bot's language) under ""."""
    if isinstance(value, Mapping):
        return {str(k): as_str(v) for k, v in value.items()}
    if isinstance(value, str) and value:
        return {"": value}
    return EMPTY
