"""Validates and normalises a message's keyboard, as the platform would (CONTRACT part B §7.3.1).

A keyboard is a bare array of buttons, `{BOT_ID?, BUTTONS:[…]}`, or a JSON string of either. Keys are
UPPER-CASE; `{TYPE:"NEWLINE"}` breaks the row; every other button needs TEXT and exactly one action
(LINK, COMMAND, ACTION+ACTION_VALUE, or the legacy APP_ID). "N", "" or [] means "no keyboard".
Mistakes answer 400 KEYBOARD_ERROR naming the button (`keyboard[i]`, counted over BUTTONS) and field.
"""

from __future__ import annotations

import re
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

BUTTON_ACTIONS = ("PUT", "SEND", "COPY", "CALL", "DIALOG")
BUTTON_CONTEXTS = ("MOBILE", "DESKTOP", "ALL")
BUTTON_DISPLAYS = ("LINE", "BLOCK")
_ACTION_KEYS = ("LINK", "COMMAND", "ACTION", "APP_ID")
_BUTTON_KEYS = frozenset({
    "TEXT", "TYPE", "BOT_ID", "LINK", "COMMAND", "COMMAND_PARAMS", "ACTION", "ACTION_VALUE", "APP_ID",
    "APP_PARAMS", "BLOCK", "DISABLED", "CONTEXT", "DISPLAY", "WIDTH", "BG_COLOR", "BG_COLOR_TOKEN",
    "TEXT_COLOR", "OFF_BG_COLOR", "OFF_TEXT_COLOR",
})  # fmt: skip
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")
_DIALOG = re.compile(r"^(?:chat)?[0-9]{1,18}$")


def _keyboard_error(where: str, problem: str) -> ApiError:
    hint = "Buttons have UPPER-CASE keys, a TEXT and exactly one action"
    return ApiError("KEYBOARD_ERROR", f"{where}: {problem}", hint=hint)


def clean_keyboard(value: Any) -> list[dict] | None:
    """The keyboard as a list of normalised button dicts, or None when there is none."""
    if is_cleared(value):
        return None
    value = decode_json_string(value, "KEYBOARD_ERROR", "keyboard")
    if is_cleared(value):
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"BOT_ID", "BUTTONS"})
        if unknown:
            problem = f"unknown key(s) {', '.join(unknown)}; the object form is {{BOT_ID?, BUTTONS:[…]}}"
            raise _keyboard_error("keyboard", problem)
        if "BOT_ID" in value:
            non_negative_int(value["BOT_ID"], "keyboard.BOT_ID", "KEYBOARD_ERROR")
        value = value.get("BUTTONS")
        if not isinstance(value, list):
            raise _keyboard_error("keyboard", "BUTTONS must be an array of buttons")
    if not isinstance(value, list):
        problem = 'must be an array of buttons, {BUTTONS:[…]}, a JSON string of either, or "N"'
        raise _keyboard_error("keyboard", problem)
    buttons = [clean_button(button, f"keyboard[{index}]") for index, button in enumerate(value)]
    return buttons or None


def clean_button(button: Any, where: str) -> dict:
    if not isinstance(button, dict):
        raise _keyboard_error(where, "a button must be an object")
    lowered = sorted(k for k in button if isinstance(k, str) and k != k.upper() and k.upper() in _BUTTON_KEYS)
    if lowered:
        upper = ", ".join(k.upper() for k in lowered)
        raise _keyboard_error(where, f"button keys are UPPER-CASE: use {upper}")
    unknown = sorted(str(k) for k in button if k not in _BUTTON_KEYS)
    if unknown:
        raise _keyboard_error(where, f"unknown key(s) {', '.join(unknown)}")
    if "TYPE" in button:
        if button["TYPE"] != "NEWLINE":
            raise _keyboard_error(where, 'TYPE must be "NEWLINE" (a line break) or left out')
        return {"TYPE": "NEWLINE"}
    text = button.get("TEXT")
    if not isinstance(text, str) or not text.strip():
        raise _keyboard_error(where, "TEXT (the button label) is required")
    actions = [key for key in _ACTION_KEYS if key in button]
    if len(actions) != 1:
        found = ", ".join(actions) or "none"
        problem = f"needs exactly one action (LINK, COMMAND, ACTION+ACTION_VALUE or APP_ID), got {found}"
        raise _keyboard_error(where, problem)
    _check_button_action(button, actions[0], where)
    cleaned = dict(button)
    for key in ("BLOCK", "DISABLED"):
        if key in button:
            cleaned[key] = _yes_no(button[key], f"{where}.{key}")
    for key, choices in (
        ("CONTEXT", BUTTON_CONTEXTS),
        ("DISPLAY", BUTTON_DISPLAYS),
        ("BG_COLOR_TOKEN", COLOR_TOKENS),
    ):
        if key in button and button[key] not in choices:
            raise _keyboard_error(where, f"{key} must be one of {', '.join(choices)}")
    for key in ("BG_COLOR", "TEXT_COLOR", "OFF_BG_COLOR", "OFF_TEXT_COLOR"):
        if key in button and not (is_hex_color(button[key])):
            raise _keyboard_error(where, f"{key} must be a hex color such as #29619b")
    for key in ("WIDTH", "BOT_ID", "APP_ID"):
        if key in button:
            cleaned[key] = non_negative_int(button[key], f"{where}.{key}", "KEYBOARD_ERROR")
    return cleaned


def _check_button_action(button: dict, action: str, where: str) -> None:
    if "COMMAND_PARAMS" in button and action != "COMMAND":
        raise _keyboard_error(where, "COMMAND_PARAMS only goes with COMMAND")
    if "ACTION_VALUE" in button and action != "ACTION":
        raise _keyboard_error(where, "ACTION_VALUE only goes with ACTION")
    if "APP_PARAMS" in button and action != "APP_ID":
        raise _keyboard_error(where, "APP_PARAMS only goes with APP_ID")
    if action == "LINK" and not is_url(button["LINK"]):
        raise _keyboard_error(where, "LINK must be an http(s):// URL or portal-relative /…")
    if action == "COMMAND":
        command = button["COMMAND"]
        if not isinstance(command, str) or not command.strip().lstrip("/"):
            raise _keyboard_error(where, "COMMAND must be a command name")
        if "COMMAND_PARAMS" in button and not isinstance(button["COMMAND_PARAMS"], str):
            raise _keyboard_error(where, "COMMAND_PARAMS must be a string")
    if action == "ACTION":
        kind, value = button["ACTION"], button.get("ACTION_VALUE")
        if kind not in BUTTON_ACTIONS:
            raise _keyboard_error(where, f"ACTION must be one of {', '.join(BUTTON_ACTIONS)}")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise _keyboard_error(where, f"ACTION {kind} needs a non-empty ACTION_VALUE")
        if kind == "CALL" and not _PHONE.match(value.strip()):
            raise _keyboard_error(where, "ACTION CALL needs a phone number in ACTION_VALUE")
        if kind == "DIALOG" and not _DIALOG.match(value.strip()):
            raise _keyboard_error(where, "ACTION DIALOG needs a user id or chatN in ACTION_VALUE")
    if "APP_PARAMS" in button and not isinstance(button["APP_PARAMS"], str):
        raise _keyboard_error(where, "APP_PARAMS must be a string")


def _yes_no(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, str) and value.strip().upper() in ("Y", "N"):
        return value.strip().upper()
    raise ApiError("KEYBOARD_ERROR", f'{where} must be "Y" or "N"')
