"""Validates a message's attach, as the platform would (CONTRACT part B §7.3.2).

An attach is `{ID?, COLOR_TOKEN?, COLOR?, BLOCKS:[…]}`, a bare array of blocks, an array of full
attaches, or a JSON string of any of them; one kind key per block (USER, LINK, MESSAGE, DELIMITER, GRID,
IMAGE, FILE). URLs are absolute http(s) or portal-relative. Bad structure is 400 ATTACH_ERROR; more than
60 000 serialized characters is 400 ATTACH_OVERSIZE. "N", "" or [] means "no attach".
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.api.values import (
    COLOR_TOKENS,
    decode_json_string,
    is_cleared,
    is_hex_color,
    is_url,
    non_negative_int,
)
from sandbox.http import ApiError

MAX_ATTACH_CHARS = 60_000
GRID_DISPLAYS = ("BLOCK", "LINE", "ROW")

# Per attach block kind: (allowed keys of one item, keys of which at least one is required).
_ATTACH_ITEMS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "USER": (
        frozenset({"NAME", "AVATAR", "AVATAR_TYPE", "LINK", "USER_ID", "NETWORK_ID", "CHAT_ID", "BOT_ID"}),
        ("NAME",),
    ),
    "LINK": (
        frozenset(
            {"LINK", "NAME", "DESC", "HTML", "PREVIEW", "WIDTH", "HEIGHT", "USER_ID", "CHAT_ID", "NETWORK_ID"}
        ),
        ("LINK",),
    ),
    "DELIMITER": (frozenset({"SIZE", "COLOR"}), ()),
    "GRID": (
        frozenset(
            {"NAME", "VALUE", "DISPLAY", "WIDTH", "COLOR", "COLOR_TOKEN", "LINK", "USER_ID", "CHAT_ID"}
        ),
        ("NAME", "VALUE"),
    ),
    "IMAGE": (frozenset({"LINK", "NAME", "PREVIEW", "WIDTH", "HEIGHT"}), ("LINK",)),
    "FILE": (frozenset({"LINK", "NAME", "SIZE"}), ("LINK",)),
}
_URL_KEYS = frozenset({"LINK", "AVATAR", "PREVIEW"})
_NUMBER_KEYS = frozenset({"WIDTH", "HEIGHT", "SIZE", "USER_ID", "CHAT_ID", "BOT_ID"})
_ATTACH_HEADER_KEYS = frozenset({"ID", "COLOR_TOKEN", "COLOR", "BLOCKS"})
_ATTACH_KINDS = ("USER", "LINK", "MESSAGE", "DELIMITER", "GRID", "IMAGE", "FILE")


def _attach_error(where: str, problem: str) -> ApiError:
    hint = "An attach is {ID?, COLOR_TOKEN?, COLOR?, BLOCKS:[…]} or an array of blocks"
    return ApiError("ATTACH_ERROR", f"{where}: {problem}", hint=hint)


def clean_attach(value: Any) -> dict | list | None:
    """The attach as sent (a JSON string decoded), validated; None when there is none."""
    if is_cleared(value):
        return None
    value = decode_json_string(value, "ATTACH_ERROR", "attach")
    if is_cleared(value):
        return None
    if isinstance(value, dict):
        _check_full_attach(value, "attach")
    elif isinstance(value, list) and all(isinstance(item, dict) and "BLOCKS" in item for item in value):
        for index, item in enumerate(value):  # several full attaches in one message
            _check_full_attach(item, f"attach[{index}]")
    elif isinstance(value, list):
        for index, block in enumerate(value):
            _check_block(block, f"attach[{index}]")
    else:
        problem = "must be an object with BLOCKS, an array of blocks, or a JSON string of either"
        raise _attach_error("attach", problem)
    size = len(json.dumps(value, ensure_ascii=False))
    if size > MAX_ATTACH_CHARS:
        raise ApiError(
            "ATTACH_OVERSIZE",
            f"The serialized attach has {size} characters; at most {MAX_ATTACH_CHARS} are allowed",
            hint="Split the content over several messages",
        )
    return value


def _check_full_attach(attach: dict, where: str) -> None:
    unknown = sorted(str(k) for k in attach if k not in _ATTACH_HEADER_KEYS)
    if unknown:
        raise _attach_error(where, f"unknown key(s) {', '.join(unknown)}")
    blocks = attach.get("BLOCKS")
    if not isinstance(blocks, list) or not blocks:
        raise _attach_error(where, "BLOCKS must be a non-empty array of blocks")
    if "COLOR_TOKEN" in attach and attach["COLOR_TOKEN"] not in COLOR_TOKENS:
        raise _attach_error(where, f"COLOR_TOKEN must be one of {', '.join(COLOR_TOKENS)}")
    if "COLOR" in attach and not is_hex_color(attach["COLOR"]):
        raise _attach_error(where, "COLOR must be a hex color such as #29619b")
    if "ID" in attach:
        non_negative_int(attach["ID"], f"{where}.ID", "ATTACH_ERROR")
    for index, block in enumerate(blocks):
        _check_block(block, f"{where}.BLOCKS[{index}]")


def _check_block(block: Any, where: str) -> None:
    if not isinstance(block, dict) or len(block) != 1:
        kinds = ", ".join(_ATTACH_KINDS)
        raise _attach_error(where, f"a block is an object with exactly one kind key: {kinds}")
    kind, content = next(iter(block.items()))
    if kind not in _ATTACH_KINDS:
        raise _attach_error(where, f"unknown block kind {kind!r}; use one of {', '.join(_ATTACH_KINDS)}")
    where = f"{where}.{kind}"
    if kind == "MESSAGE":
        if not isinstance(content, str) or not content.strip():
            raise _attach_error(where, "must be non-empty text (BB codes allowed)")
        return
    if kind in ("USER", "LINK", "DELIMITER"):
        if not isinstance(content, dict):
            raise _attach_error(where, "must be an object")
        _check_item(kind, content, where)
        return
    items = [content] if kind in ("IMAGE", "FILE") and isinstance(content, dict) else content
    if not isinstance(items, list) or not items:
        raise _attach_error(where, "must be a non-empty array of items")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _attach_error(f"{where}[{index}]", "must be an object")
        _check_item(kind, item, f"{where}[{index}]")


def _check_item(kind: str, item: dict, where: str) -> None:
    allowed, required = _ATTACH_ITEMS[kind]
    unknown = sorted(str(k) for k in item if k not in allowed)
    if unknown:
        problem = f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        raise _attach_error(where, problem)
    if required and not any(key in item for key in required):
        raise _attach_error(where, f"{' or '.join(required)} is required")
    for key, value in item.items():
        if key in _URL_KEYS and not is_url(value):
            raise _attach_error(where, f"{key} must be an absolute http(s) URL or portal-relative /…")
        elif key in _NUMBER_KEYS:
            non_negative_int(value, f"{where}.{key}", "ATTACH_ERROR")
        elif key == "COLOR" and not is_hex_color(value):
            raise _attach_error(where, "COLOR must be a hex color such as #29619b")
        elif key == "COLOR_TOKEN" and value not in COLOR_TOKENS:
            raise _attach_error(where, f"COLOR_TOKEN must be one of {', '.join(COLOR_TOKENS)}")
        elif key == "DISPLAY" and value not in GRID_DISPLAYS:
            raise _attach_error(where, f"DISPLAY must be one of {', '.join(GRID_DISPLAYS)}")
        elif key in ("NAME", "DESC", "HTML", "NETWORK_ID", "AVATAR_TYPE") and not isinstance(value, str):
            raise _attach_error(where, f"{key} must be a string")
        elif key == "VALUE" and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            raise _attach_error(where, "VALUE must be a string or a number")
