"""Validates and normalises a message's `fields` (text, keyboard, attach, flags) as the platform would.

One function, `clean_message_fields`, serves every endpoint that posts or edits a message (send, edit,
command answers). Rules (CONTRACT part A §10, part B §7.3):
- `message`: a string; over 20 000 characters it is cut and " (...)" appended. BB codes, Cyrillic and
  emoji pass through untouched.
- `keyboard`: a bare array of buttons, `{BOT_ID?, BUTTONS:[…]}`, or a JSON string of either. Keys are
  UPPER-CASE; `{TYPE:"NEWLINE"}` breaks the row; every other button needs TEXT and exactly one action
  (LINK, COMMAND, ACTION+ACTION_VALUE, or the legacy APP_ID). "N", "" or [] means "no keyboard".
  Mistakes answer 400 KEYBOARD_ERROR naming the button (`keyboard[i]`, counted over BUTTONS) and field.
- `attach`: `{ID?, COLOR_TOKEN?, COLOR?, BLOCKS:[…]}`, a bare array of blocks, an array of full
  attaches, or a JSON string of any of them; one kind key per block (USER, LINK, MESSAGE, DELIMITER,
  GRID, IMAGE, FILE). URLs are absolute http(s) or portal-relative. Bad structure is 400 ATTACH_ERROR;
  more than 60 000 serialized characters is 400 ATTACH_OVERSIZE. "N", "" or [] means "no attach".
- `system`, `urlPreview`: true/false or "Y"/"N"; `replyId`: a message id; `templateId`: a UUID (a
  repeated send with it answers the first message). A wrong type is 400 INVALID_REQUEST naming the field.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from sandbox.http import ApiError

MAX_TEXT_CHARS = 20_000
CUT_MARK = " (...)"
MAX_ATTACH_CHARS = 60_000

BUTTON_ACTIONS = ("PUT", "SEND", "COPY", "CALL", "DIALOG")
COLOR_TOKENS = ("primary", "secondary", "alert", "base")
BUTTON_CONTEXTS = ("MOBILE", "DESKTOP", "ALL")
BUTTON_DISPLAYS = ("LINE", "BLOCK")
GRID_DISPLAYS = ("BLOCK", "LINE", "ROW")
_ACTION_KEYS = ("LINK", "COMMAND", "ACTION", "APP_ID")
_BUTTON_KEYS = frozenset({
    "TEXT", "TYPE", "BOT_ID", "LINK", "COMMAND", "COMMAND_PARAMS", "ACTION", "ACTION_VALUE", "APP_ID",
    "APP_PARAMS", "BLOCK", "DISABLED", "CONTEXT", "DISPLAY", "WIDTH", "BG_COLOR", "BG_COLOR_TOKEN",
    "TEXT_COLOR", "OFF_BG_COLOR", "OFF_TEXT_COLOR",
})  # fmt: skip
_HEX_COLOR = re.compile(r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")
_DIALOG = re.compile(r"^(?:chat)?[0-9]{1,18}$")
_NO_VALUE = ("N", "")  # how imbot.v2 clears buttons (and an attach) on edit

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


def clean_message_fields(fields: Any) -> dict:
    """The fields validated and normalised: {text, keyboard, attach, is_system, url_preview, reply_id,
    template_id}.

    Every key is always returned; an absent or cleared keyboard/attach is None, absent text is "".
    Callers that edit tell "absent" from "cleared" by looking at the raw `fields` keys themselves.
    Raises ApiError (KEYBOARD_ERROR, ATTACH_ERROR, ATTACH_OVERSIZE, INVALID_REQUEST).
    """
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise ApiError("INVALID_REQUEST", "fields must be an object")
    return {
        "text": clean_text(fields.get("message")),
        "keyboard": clean_keyboard(fields.get("keyboard")),
        "attach": clean_attach(fields.get("attach")),
        "is_system": clean_flag(fields.get("system"), "system", default=False),
        "url_preview": clean_flag(fields.get("urlPreview"), "urlPreview", default=True),
        "reply_id": clean_reply_id(fields.get("replyId")),
        "template_id": clean_template_id(fields.get("templateId")),
    }


def clean_template_id(value: object) -> str | None:
    """`templateId`: the sender's UUID for this message; sending it again answers the first message."""
    if value is None or value == "":
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ApiError("INVALID_REQUEST", "templateId must be a UUID") from None


def clean_text(value: Any, name: str = "message") -> str:
    """A message text: a string, cut at 20 000 characters with " (...)" appended (CONTRACT A §10)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError("INVALID_REQUEST", f"{name} must be a string")
    if len(value) > MAX_TEXT_CHARS:
        return value[:MAX_TEXT_CHARS] + CUT_MARK
    return value


def clean_flag(value: Any, name: str, *, default: bool) -> bool:
    """A boolean as JSON true/false or Bitrix24's "Y"/"N"."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().upper() in ("Y", "N"):
        return value.strip().upper() == "Y"
    raise ApiError("INVALID_REQUEST", f'{name} must be true/false (or "Y"/"N")')


def clean_reply_id(value: Any) -> int | None:
    if isinstance(value, bool):
        raise ApiError("INVALID_REQUEST", "replyId must be a message id (a positive integer)")
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ApiError("INVALID_REQUEST", "replyId must be a message id (a positive integer)")


def is_cleared(value: Any) -> bool:
    """Whether a keyboard/attach value asks for "none": null, "N", "" or an empty list."""
    return value is None or value == [] or (isinstance(value, str) and value.strip().upper() in _NO_VALUE)


def _decode_json_string(value: Any, code: str, name: str) -> Any:
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


# --- keyboard (CONTRACT part B §7.3.1) ------------------------------------------------------------


def _keyboard_error(where: str, problem: str) -> ApiError:
    hint = "Buttons have UPPER-CASE keys, a TEXT and exactly one action"
    return ApiError("KEYBOARD_ERROR", f"{where}: {problem}", hint=hint)


def clean_keyboard(value: Any) -> list[dict] | None:
    """The keyboard as a list of normalised button dicts, or None when there is none."""
    if is_cleared(value):
        return None
    value = _decode_json_string(value, "KEYBOARD_ERROR", "keyboard")
    if is_cleared(value):
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"BOT_ID", "BUTTONS"})
        if unknown:
            problem = f"unknown key(s) {', '.join(unknown)}; the object form is {{BOT_ID?, BUTTONS:[…]}}"
            raise _keyboard_error("keyboard", problem)
        if "BOT_ID" in value:
            _number(value["BOT_ID"], "keyboard.BOT_ID", "KEYBOARD_ERROR")
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
        if key in button and not (isinstance(button[key], str) and _HEX_COLOR.match(button[key])):
            raise _keyboard_error(where, f"{key} must be a hex color such as #29619b")
    for key in ("WIDTH", "BOT_ID", "APP_ID"):
        if key in button:
            cleaned[key] = _number(button[key], f"{where}.{key}", "KEYBOARD_ERROR")
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


def _number(value: Any, where: str, code: str) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ApiError(code, f"{where} must be a non-negative integer")


# --- attach (CONTRACT part B §7.3.2) --------------------------------------------------------------


def _attach_error(where: str, problem: str) -> ApiError:
    hint = "An attach is {ID?, COLOR_TOKEN?, COLOR?, BLOCKS:[…]} or an array of blocks"
    return ApiError("ATTACH_ERROR", f"{where}: {problem}", hint=hint)


def clean_attach(value: Any) -> dict | list | None:
    """The attach as sent (a JSON string decoded), validated; None when there is none."""
    if is_cleared(value):
        return None
    value = _decode_json_string(value, "ATTACH_ERROR", "attach")
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
    if "COLOR" in attach and not (isinstance(attach["COLOR"], str) and _HEX_COLOR.match(attach["COLOR"])):
        raise _attach_error(where, "COLOR must be a hex color such as #29619b")
    if "ID" in attach:
        _number(attach["ID"], f"{where}.ID", "ATTACH_ERROR")
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
            _number(value, f"{where}.{key}", "ATTACH_ERROR")
        elif key == "COLOR" and not (isinstance(value, str) and _HEX_COLOR.match(value)):
            raise _attach_error(where, "COLOR must be a hex color such as #29619b")
        elif key == "COLOR_TOKEN" and value not in COLOR_TOKENS:
            raise _attach_error(where, f"COLOR_TOKEN must be one of {', '.join(COLOR_TOKENS)}")
        elif key == "DISPLAY" and value not in GRID_DISPLAYS:
            raise _attach_error(where, f"DISPLAY must be one of {', '.join(GRID_DISPLAYS)}")
        elif key in ("NAME", "DESC", "HTML", "NETWORK_ID", "AVATAR_TYPE") and not isinstance(value, str):
            raise _attach_error(where, f"{key} must be a string")
        elif key == "VALUE" and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            raise _attach_error(where, "VALUE must be a string or a number")
