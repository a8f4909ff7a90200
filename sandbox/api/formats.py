"""Validates and normalises a message's `fields` (text, keyboard, attach, flags) as the platform would.

One function, `clean_message_fields`, serves every endpoint that posts or edits a message (send, edit,
command answers). Rules (CONTRACT part A §10, part B §7.3):
- `message`: a string; over 20 000 characters it is cut and " (...)" appended. BB codes, Cyrillic and
  emoji pass through untouched.
- `keyboard`: `sandbox/api/keyboards.py` (400 KEYBOARD_ERROR naming the button and field).
- `attach`: `sandbox/api/attachments.py` (400 ATTACH_ERROR, or ATTACH_OVERSIZE over 60 000 characters).
- `system`, `urlPreview`: true/false or "Y"/"N"; `replyId`: a message id; `templateId`: a UUID (a
  repeated send with it answers the first message). A wrong type is 400 INVALID_REQUEST naming the field.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.api.attachments import clean_attach
from sandbox.api.keyboards import clean_keyboard
from sandbox.http import ApiError
from sandbox.numbers import is_decimal

MAX_TEXT_CHARS = 20_000
CUT_MARK = " (...)"


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
    if isinstance(value, str) and is_decimal(value.strip()) and len(value.strip()) < 19:
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ApiError("INVALID_REQUEST", "replyId must be a message id (a positive integer)")
