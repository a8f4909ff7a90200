"""What a skill may hand the platform or the store, checked the same way by the live context and the test
kit's: a message's text is a str, and a message has text, a keyboard or an attach; a message edited or
deleted has an id (not the 0 of a command's answer); a keyboard button's
command is one the enabled skills declare (the bot registers no other); dialog state and a
deferred job's data are JSON; a deferred job's time is an aware datetime. A mistake fails the skill's own
test with the reason, not the live event with a platform's 400 or the database's TypeError."""

from __future__ import annotations

import difflib
import json
import sys
import warnings
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botcore.vibe.bbcode import MAX_TEXT_CHARS
from botcore.vibe.keyboards import KeyboardError, to_wire

if TYPE_CHECKING:  # base imports state, which imports this module
    from botcore.skills.base import Skill


class TextCutWarning(UserWarning):
    """A message longer than the platform keeps: it cuts the text and appends " (...)"."""


def check_message(text: object, *, keyboard: object = None, attach: object = None, edit: bool = False) -> str:
    """`text` itself, once it is a message the platform takes (its rule: EMPTY_MESSAGE otherwise). An edit
    may leave the text empty: the message keeps what else it had."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__} (make one: str(...) or an f-string)")
    if not edit and not text.strip() and keyboard is None and attach is None:
        raise ValueError("text is empty, and the message has no keyboard or attach to send instead")
    if len(text) > MAX_TEXT_CHARS:
        # Not refused (the platform takes it), but the end is lost, perhaps a closing tag with it; a
        # warning shows in the author's test run (pytest's summary) and in the bot's log.
        warnings.warn(
            f"a text of {len(text)} characters: the platform keeps {MAX_TEXT_CHARS} and appends ' (...)';"
            " fit it with botcore.vibe.bbcode.shorten",
            TextCutWarning,
            stacklevel=_skills_level(),
        )
    return text


def check_message_id(message_id: int) -> int:
    """`message_id` as an int, once it can name a message to edit or delete. 0 names none: it is what
    answer_command returns on the contract's platform ({result: true} says no id) and what a post left in
    doubt returns; the platform refuses it (MESSAGE_NOT_FOUND) and the person sees nothing change."""
    number = int(message_id)
    if number < 1:
        raise ValueError(
            f"message id {number} is no message (answer_command gives 0 where the platform's answer names no"
            " message, and so does a post left in doubt): to edit or delete a message later, post it with"
            " ctx.reply and keep the id that returns (docs/skills.md 4)"
        )
    return number


def check_keyboard(keyboard: object, *, skills: Iterable[Skill]) -> None:
    """Refuse a button whose COMMAND none of `skills` (the portal's enabled skills) declares: the bot
    registers only theirs, and the platform refuses the press of any other (the sandbox: COMMAND_NOT_FOUND),
    so the person presses and nothing happens. Buttons that carry no command (a link, SEND, PUT, COPY, CALL,
    DIALOG, an app) raise no event and are not asked about; nor is `keyboard=False` (an edit removing
    them). A keyboard the platform could not read as buttons is refused as the client would refuse it
    (botcore.vibe.keyboards.to_wire)."""
    skills = tuple(skills)
    declared = list(dict.fromkeys(spec.command for skill in skills for spec in skill.commands))
    for button in to_wire(keyboard):
        if "COMMAND" not in button:
            continue
        command = str(button["COMMAND"]).lstrip("/")  # the platform's reading: the sandbox strips it too
        if command in declared:
            continue
        close = difflib.get_close_matches(command, declared, n=1)
        names = ", ".join(skill.name for skill in skills)
        listed = ", ".join(f"/{name}" for name in declared) or "none"
        text = button.get("TEXT", "")
        raise KeyboardError(
            f"button {text!r} sends the command {command!r}, which no enabled skill declares"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f": the platform refuses the press, and nothing happens for the person. The commands of the"
            f" enabled skills ({names}): {listed}. Another skill's command works where that skill is enabled"
            " (check ctx.enabled_skills; in the kit, pass enabled_skills=[...])"
        )


# The modules between a skill's `ctx.reply(...)` and check_message: the live context and the kit's.
_CONTEXT_MODULES = frozenset({__name__, "botcore.skills.context", "botcore.skills.testing.recording"})


def _skills_level() -> int:
    """The stacklevel of the first frame outside the contexts: the skill's line that sent the text, however
    many of their own calls (reply -> _post, answer_command, edit) lie between."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__") in _CONTEXT_MODULES:
        frame, level = frame.f_back, level + 1
    return level


def check_json(value: Any, *, what: str) -> None:
    """Refuse what the store could not keep as given: only dicts with str keys, lists, str, numbers, bools
    and None; no NaN or infinity; no NUL character (PostgreSQL refuses it in JSON)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{what} must be JSON (dict, list, str, int, float, bool, None): {error}; store a datetime as "
            ".isoformat() text"
        ) from None
    problem = _unkeepable(value)
    if problem:
        raise TypeError(f"{what} must be JSON as stored: {problem}")


def check_state(data: object) -> None:
    """A dialog state: a dict the store keeps as given (check_json)."""
    if not isinstance(data, dict):
        raise TypeError(f"dialog state must be a dict, not {type(data).__name__}")
    check_json(data, what="dialog state")


def _unkeepable(value: Any) -> str:
    """What JSON takes but the database would change or refuse: a non-str key, a NUL character."""
    if isinstance(value, str):
        return "a text holds a NUL character (\\x00)" if "\x00" in value else ""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"the key {key!r} is a {type(key).__name__} (it would come back as a str)"
            problem = _unkeepable(key) or _unkeepable(item)
            if problem:
                return problem
    if isinstance(value, list | tuple):
        for item in value:
            problem = _unkeepable(item)
            if problem:
                return problem
    return ""


def check_due(when: object) -> datetime:
    """A deferred job's time: an aware datetime (a naive one means nothing across portals' time zones)."""
    if not isinstance(when, datetime):
        raise TypeError(f"ctx.defer_at's time must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            "ctx.defer_at's time has no time zone: use timezone.now() + timedelta(...), or a datetime with"
            " a tzinfo"
        )
    return when
