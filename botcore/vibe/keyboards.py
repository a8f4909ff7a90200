"""Keyboard: builds a message's button keyboard so no skill hand-writes TEXT/ACTION/BG_COLOR_TOKEN dicts.

    Keyboard().button("Repeat", send="ping", color="primary", block=True).newline().button("Docs", link=url)

The wire form is the bare array of UPPER-CASE button objects the reference's echo bot sends (CONTRACT
part B §7.3.1); a line break is `{"TYPE": "NEWLINE"}`. Each button takes exactly one action: `send`,
`put`, `copy`, `call`, `dialog` (ACTION + ACTION_VALUE, handled by the user's client, no event),
`link`, or `command` (a registered command: the only button that raises an event, COMMANDADD with
context "keyboard"). `to_wire(keyboard)` reads a Keyboard or bare button objects into that form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

ButtonColor = Literal["primary", "secondary", "alert", "base"]
ButtonDisplay = Literal["LINE", "BLOCK"]
ButtonContext = Literal["MOBILE", "DESKTOP", "ALL"]

BUTTON_COLORS: frozenset[str] = frozenset({"primary", "secondary", "alert", "base"})
NEWLINE: dict[str, str] = {"TYPE": "NEWLINE"}


class KeyboardError(ValueError):
    """A button that the platform would refuse (no action, two actions, a bad link or color), or whose press
    it would (a command no enabled skill declares: botcore.skills.values.check_keyboard)."""


class Keyboard:
    """An ordered list of buttons and line breaks; `to_wire()` gives what `fields.keyboard` carries."""

    def __init__(self) -> None:
        self._items: list[dict[str, str | int]] = []

    def button(
        self,
        text: str,
        *,
        send: str | None = None,
        put: str | None = None,
        copy: str | None = None,
        call: str | None = None,
        dialog: str | int | None = None,
        link: str | None = None,
        command: str | None = None,
        command_params: str | None = None,
        color: ButtonColor | None = None,
        block: bool = False,
        display: ButtonDisplay | None = None,
        disabled: bool = False,
        context: ButtonContext | None = None,
        width: int | None = None,
        bg_color: str | None = None,
        text_color: str | None = None,
    ) -> Keyboard:
        """Append one button; exactly one of send/put/copy/call/dialog/link/command is required."""
        if not text:
            raise KeyboardError("a button needs a text")
        actions = {
            "SEND": send,
            "PUT": put,
            "COPY": copy,
            "CALL": call,
            "DIALOG": None if dialog is None else str(dialog),
        }
        chosen = [name for name, value in actions.items() if value is not None]
        chosen += ["LINK"] if link is not None else []
        chosen += ["COMMAND"] if command is not None else []
        if len(chosen) != 1:
            raise KeyboardError(
                f"button {text!r} needs exactly one action (send, put, copy, call, dialog, link, command); "
                f"got {', '.join(chosen) or 'none'}"
            )
        item: dict[str, str | int] = {"TEXT": text}
        if link is not None:
            if not (link.startswith(("http://", "https://", "/"))):
                raise KeyboardError(f"button {text!r}: a link must be http(s):// or portal-relative /…")
            item["LINK"] = link
        elif command is not None:
            item["COMMAND"] = command.lstrip("/")
            if command_params:
                item["COMMAND_PARAMS"] = command_params
        else:
            action = chosen[0]
            item["ACTION"] = action
            item["ACTION_VALUE"] = str(actions[action])
        if command_params is not None and command is None:
            raise KeyboardError(f"button {text!r}: command_params only go with command")
        if color is not None:
            if color not in BUTTON_COLORS:
                raise KeyboardError(f"button {text!r}: color must be one of {sorted(BUTTON_COLORS)}")
            item["BG_COLOR_TOKEN"] = color
        if block:
            item["BLOCK"] = "Y"
        if display is not None:
            item["DISPLAY"] = display
        if disabled:
            item["DISABLED"] = "Y"
        if context is not None:
            item["CONTEXT"] = context
        if width is not None:
            item["WIDTH"] = int(width)
        if bg_color is not None:
            item["BG_COLOR"] = bg_color
        if text_color is not None:
            item["TEXT_COLOR"] = text_color
        self._items.append(item)
        return self

    def newline(self) -> Keyboard:
        """Start a new row of buttons."""
        self._items.append(dict(NEWLINE))
        return self

    def to_wire(self) -> list[dict[str, str | int]]:
        """The keyboard as JSON-ready button objects (copies: the builder may keep growing)."""
        items = [dict(item) for item in self._items]
        while items and items[-1] == NEWLINE:  # a trailing line break renders as an empty row
            items.pop()
        return items

    def __len__(self) -> int:
        """How many real buttons (line breaks not counted)."""
        return sum(1 for item in self._items if item != NEWLINE)

    def __iter__(self) -> Iterator[dict[str, str | int]]:
        return iter(self.to_wire())

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return f"Keyboard({[item.get('TEXT', '⏎') for item in self._items]!r})"


def to_wire(keyboard: object) -> list[dict[str, Any]]:
    """The button objects of `keyboard` as `fields.keyboard` carries them: the one reading of a keyboard, for
    the client that sends it (endpoints.base.message_fields) and the skills' check of its commands
    (botcore.skills.values.check_keyboard, given what a skill passed, unchecked), so what is checked is what
    is sent. A Keyboard's, or copies of bare button objects; none for None or a bool (no keyboard, or an
    edit's False, which the client sends as "N"). Raises KeyboardError for what the platform could not read
    as buttons: a keyboard that is no list (one button object alone, a text), an item that is no button
    object, or a button object the platform refuses (a lower-case key, no TEXT, not exactly one action)."""
    if isinstance(keyboard, Keyboard):
        return keyboard.to_wire()
    if keyboard is None or isinstance(keyboard, bool):
        return []
    if not isinstance(keyboard, Sequence) or isinstance(keyboard, str | bytes):
        raise KeyboardError(
            f"a keyboard is a Keyboard or a list of button objects, not a {type(keyboard).__name__}"
            " (build one with Keyboard().button(...))"
        )
    for index, button in enumerate(keyboard):
        if not isinstance(button, Mapping):
            raise KeyboardError(
                f"button {index} of the keyboard is a {type(button).__name__}, not a button object such as"
                " {'TEXT': ..., 'COMMAND': ...} (build one with Keyboard().button(...))"
            )
        _check_button_object(index, button)
    return [dict(button) for button in keyboard]


# What a bare button object must hold for the platform to take it (CONTRACT part B §7.3.1): its keys
# UPPER-CASE, a TEXT, and exactly one action. The rest (colours, a link's form) is the platform's to judge.
_ACTION_KEYS = ("LINK", "COMMAND", "ACTION", "APP_ID")
_KNOWN_KEYS = frozenset(
    {"TEXT", "TYPE", "BOT_ID", "COMMAND_PARAMS", "ACTION_VALUE", "APP_PARAMS", "BLOCK", "DISABLED", "CONTEXT"}
    | {"DISPLAY", "WIDTH", "BG_COLOR", "BG_COLOR_TOKEN", "TEXT_COLOR", "OFF_BG_COLOR", "OFF_TEXT_COLOR"}
    | set(_ACTION_KEYS)
)


def _check_button_object(index: int, button: Mapping[Any, Any]) -> None:
    lowered = sorted(
        key.upper()
        for key in button
        if isinstance(key, str) and key != key.upper() and key.upper() in _KNOWN_KEYS
    )
    if lowered:
        raise KeyboardError(
            f"button {index} of the keyboard: its keys are UPPER-CASE: {', '.join(lowered)}"
            " (build one with Keyboard().button(...))"
        )
    if button.get("TYPE") == "NEWLINE":
        return
    text = button.get("TEXT")
    if not isinstance(text, str) or not text.strip():
        raise KeyboardError(f"button {index} of the keyboard has no TEXT, the label the person sees")
    actions = [key for key in _ACTION_KEYS if key in button]
    if len(actions) != 1:
        raise KeyboardError(
            f"button {text!r} needs exactly one action (LINK, COMMAND, ACTION with ACTION_VALUE, APP_ID); "
            f"got {', '.join(actions) or 'none'}"
        )
