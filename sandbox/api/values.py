"""Checks of single values that keyboards and attaches share: the spellings of "none", JSON sent as a
string, URLs, hex colours, colour tokens and non-negative integers (CONTRACT part B §7.3).

The checks that refuse take the error code from their caller (KEYBOARD_ERROR, ATTACH_ERROR), so a mistake
is reported in the terms of the structure it was found in.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox.http import ApiError
from sandbox.numbers import is_decimal

COLOR_TOKENS = ("primary", "secondary", "alert", "base")
_HEX_COLOR = re.compile(r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$")
_NO_VALUE = ("N", "")  # how imbot.v2 clears buttons (and an attach) on edit


def is_cleared(value: Any) -> bool:
    """Whether a keyboard/attach value asks for "none": null, "N", "" or an empty list."""
    return value is None or value == [] or (isinstance(value, str) and value.strip().upper() in _NO_VALUE)


def decode_json_string(value: Any, code: str, name: str) -> Any:
    """A structure sent as a JSON string, decoded; anything else as it came."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        hint = f"Send {name} as a JSON array or object"
        raise ApiError(code, f"{name} is a string but not valid JSON", hint=hint) from None


def is_url(value: Any) -> bool:
    """Absolute http(s) with a host, or portal-relative ("/path", not "//host")."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    if value.startswith("/"):
        return not value.startswith("//")
    return bool(re.match(r"^https?://[^/\s?#]+", value, re.IGNORECASE))


def is_hex_color(value: Any) -> bool:
    return isinstance(value, str) and bool(_HEX_COLOR.match(value))


def non_negative_int(value: Any, where: str, code: str) -> int:
    if isinstance(value, str) and is_decimal(value.strip()) and len(value.strip()) < 19:
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ApiError(code, f"{where} must be a non-negative integer")
