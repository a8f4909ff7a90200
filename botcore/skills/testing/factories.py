"""Event factories for skill tests: each builds the platform's wire payload and parses it as the poller does.

event = make_message_event("hello", user_id=7, language="ru")          # a 1:1 dialog ("7")
event = make_message_event("@bot hi", chat_id=12)                      # the group chat "chat12"
event = make_command_event("ping", params="now")
event = make_scheduled_event("ask", local_due_at="2030-03-04T09:30:00+03:00")
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botcore.skills.cron import find_zone
from botcore.skills.events import (
    DeferredJobEvent,
    PortalInstalledEvent,
    PortalUninstalledEvent,
    ScheduledRunEvent,
)
from botcore.vibe.events import (
    BotDeleteEvent,
    BotEvent,
    CommandAddEvent,
    ContextGetEvent,
    JoinChatEvent,
    MessageAddEvent,
    MessageDeleteEvent,
    MessageUpdateEvent,
    ReactionChangeEvent,
)
from botcore.vibe.models import PortalUser
from botcore.vibe.parse import parse_event

BOT_ID = 100
PORTAL = "test-portal"
_event_ids = itertools.count(1)
_message_ids = itertools.count(5001)
_command_ids = itertools.count(1)


def new_message_id() -> int:
    """An id no other message the kit made in this process has (events' messages and the bot's posts share
    the sequence, as they share the platform's)."""
    return next(_message_ids)


def make_user(
    user_id: int, name: str = "", *, is_bot: bool = False, is_active: bool = True, language: str = ""
) -> PortalUser:
    """A chat member as GET …/chats/:dialogId/users gives it (for RecordingContext(chat_users=…))."""
    name = name or f"User {user_id}"
    first, _, last = name.partition(" ")
    return PortalUser(
        id=user_id,
        name=name,
        first_name=first,
        last_name=last,
        is_bot=is_bot,
        is_active=is_active,
        language=language,
    )


def _envelope(
    *,
    user_id: int,
    user_name: str,
    first_name: str | None,
    chat_id: int | None,
    dialog_id: str | None,
    language: str,
    bot_id: int,
    user_is_bot: bool = False,
) -> dict[str, Any]:
    if dialog_id is None:
        dialog_id = f"chat{chat_id}" if chat_id is not None else str(user_id)
    is_group = dialog_id.startswith("chat")
    first, _, last = user_name.partition(" ")
    return {
        "dialogId": dialog_id,
        "bot": {"id": bot_id, "code": "test_bot", "type": "bot", "name": "Test Bot"},
        "chat": {
            "id": chat_id if chat_id is not None else (int(dialog_id[4:]) if is_group else 9000 + user_id),
            "dialogId": dialog_id,
            "type": "chat" if is_group else "private",
        },
        "user": {
            "id": user_id,
            "name": user_name,
            "firstName": first if first_name is None else first_name,
            "lastName": last,
            "bot": user_is_bot,
        },
        "language": language,
    }


def _message(
    text: str,
    *,
    message_id: int | None,
    author_id: int,
    chat_id: int,
    is_system: bool = False,
    files: Sequence[int] = (),
) -> dict[str, Any]:
    params: dict[str, Any] = {"files": [{"id": file_id} for file_id in files]} if files else {}
    return {
        "id": message_id if message_id is not None else next(_message_ids),
        "chatId": chat_id,
        "authorId": author_id,
        "text": text,
        "isSystem": is_system,
        "date": datetime.now(UTC).isoformat(),
        "params": params,
    }


def _event(event_type: str, data: dict[str, Any], event_id: int | None) -> BotEvent:
    payload = {
        "eventId": event_id if event_id is not None else next(_event_ids),
        "type": event_type,
        "date": datetime.now(UTC).isoformat(),
        "data": data,
    }
    return parse_event(payload)


def _chat_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": kwargs.pop("user_id", 1),
        "user_name": kwargs.pop("user_name", "John Smith"),
        "first_name": kwargs.pop("first_name", None),
        "chat_id": kwargs.pop("chat_id", None),
        "dialog_id": kwargs.pop("dialog_id", None),
        "language": kwargs.pop("language", "en"),
        "bot_id": kwargs.pop("bot_id", BOT_ID),
        "user_is_bot": kwargs.pop("user_is_bot", False),
    }


def make_message_event(
    text: str = "Hi, bot!",
    *,
    message_id: int | None = None,
    event_id: int | None = None,
    is_system: bool = False,
    author_id: int | None = None,
    files: Sequence[int] = (),
    **chat: Any,
) -> MessageAddEvent:
    """ONIMBOTV2MESSAGEADD. Chat keywords: user_id, user_name, first_name, chat_id or dialog_id, language,
    bot_id, user_is_bot."""
    data = _envelope(**_chat_kwargs(chat))
    data["message"] = _message(
        text,
        message_id=message_id,
        author_id=data["user"]["id"] if author_id is None else author_id,
        chat_id=data["chat"]["id"],
        is_system=is_system,
        files=files,
    )
    return _event("ONIMBOTV2MESSAGEADD", data, event_id)  # type: ignore[return-value]


def make_message_update_event(
    text: str = "edited", *, message_id: int | None = None, event_id: int | None = None, **chat: Any
) -> MessageUpdateEvent:
    data = _envelope(**_chat_kwargs(chat))
    data["message"] = _message(
        text, message_id=message_id, author_id=data["user"]["id"], chat_id=data["chat"]["id"]
    )
    return _event("ONIMBOTV2MESSAGEUPDATE", data, event_id)  # type: ignore[return-value]


def make_message_delete_event(
    message_id: int = 5000, *, event_id: int | None = None, **chat: Any
) -> MessageDeleteEvent:
    data = _envelope(**_chat_kwargs(chat))
    data["messageId"] = message_id
    return _event("ONIMBOTV2MESSAGEDELETE", data, event_id)  # type: ignore[return-value]


def make_command_event(
    command: str = "help",
    *,
    params: str = "",
    context: str = "textarea",
    command_id: int | None = None,
    message_id: int | None = None,
    event_id: int | None = None,
    slash_in_name: bool = False,
    **chat: Any,
) -> CommandAddEvent:
    """ONIMBOTV2COMMANDADD for "/command params"; context "keyboard" is a button press. The command's name
    comes bare, as the platform sends it (CONTRACT A §12); `slash_in_name` gives imbot.v2's "/command", the
    sandbox's `command-slash` dialect (skills see the same name either way)."""
    data = _envelope(**_chat_kwargs(chat))
    name = command.lstrip("/")
    data["command"] = {
        "id": command_id if command_id is not None else next(_command_ids),
        "command": "/" + name if slash_in_name else name,
        "params": params,
        "context": context,
    }
    text = f"/{name} {params}".strip()
    data["message"] = _message(
        text, message_id=message_id, author_id=data["user"]["id"], chat_id=data["chat"]["id"]
    )
    return _event("ONIMBOTV2COMMANDADD", data, event_id)  # type: ignore[return-value]


def make_button_command_event(
    command: str,
    *,
    params: str = "",
    message_id: int | None = None,
    message_text: str = "",
    command_id: int | None = None,
    event_id: int | None = None,
    **chat: Any,
) -> CommandAddEvent:
    """A keyboard button with `command` pressed (CommandSpec(button_only=True) commands arrive this way).

    Its `message` is the bot's message that holds the keyboard (`message_id`, `message_text`), as the
    platform sends a press: nobody wrote "/command" in the chat."""
    data = _envelope(**_chat_kwargs(chat))
    data["command"] = {
        "id": command_id if command_id is not None else next(_command_ids),
        "command": command.lstrip("/"),
        "params": params,
        "context": "keyboard",
    }
    data["message"] = _message(
        message_text, message_id=message_id, author_id=data["bot"]["id"], chat_id=data["chat"]["id"]
    )
    return _event("ONIMBOTV2COMMANDADD", data, event_id)  # type: ignore[return-value]


def make_reaction_event(
    reaction: str = "like",
    *,
    action: str = "add",
    message_id: int | None = None,
    message_text: str = "",
    message_author_id: int | None = None,
    event_id: int | None = None,
    **chat: Any,
) -> ReactionChangeEvent:
    """ONIMBOTV2REACTIONCHANGE on a message (by default one the bot wrote)."""
    kwargs = _chat_kwargs(chat)
    data = _envelope(**kwargs)
    author = kwargs["bot_id"] if message_author_id is None else message_author_id
    data.update(
        reaction=reaction,
        action=action,
        message=_message(message_text, message_id=message_id, author_id=author, chat_id=data["chat"]["id"]),
    )
    return _event("ONIMBOTV2REACTIONCHANGE", data, event_id)  # type: ignore[return-value]


def make_join_event(*, event_id: int | None = None, **chat: Any) -> JoinChatEvent:
    """ONIMBOTV2JOINCHAT: the bot added to a group (chat_id=…) or its 1:1 dialog opened the first time."""
    data = _envelope(**_chat_kwargs(chat))
    return _event("ONIMBOTV2JOINCHAT", data, event_id)  # type: ignore[return-value]


def make_context_event(
    context: Mapping[str, Any] | None = None, *, event_id: int | None = None, **chat: Any
) -> ContextGetEvent:
    data = _envelope(**_chat_kwargs(chat))
    data["context"] = dict(context or {})
    return _event("ONIMBOTV2CONTEXTGET", data, event_id)  # type: ignore[return-value]


def make_bot_delete_event(*, bot_id: int = BOT_ID, event_id: int | None = None) -> BotDeleteEvent:
    data = {"bot": {"id": bot_id, "code": "test_bot", "type": "bot"}}
    return _event("ONIMBOTV2DELETE", data, event_id)  # type: ignore[return-value]


def make_portal_installed_event(*, portal: str = PORTAL, language: str = "en") -> PortalInstalledEvent:
    return PortalInstalledEvent(portal_member_id=portal, run_key="installed:test", language=language)


def make_portal_uninstalled_event(
    *, reason: str = "admin", portal: str = PORTAL, language: str = "en"
) -> PortalUninstalledEvent:
    return PortalUninstalledEvent(
        portal_member_id=portal, run_key="uninstalled:test", reason=reason, language=language
    )


def make_scheduled_event(
    schedule: str,
    *,
    local_due_at: datetime | str,
    zone: str = "",
    portal: str = PORTAL,
    language: str = "en",
) -> ScheduledRunEvent:
    """A firing of `schedule` at `local_due_at` (a datetime or its ISO text). With `zone` (the portal's, e.g.
    "Europe/Berlin") it is on that zone's clock, as a live firing is: a wall time without an offset is read
    there, one with an offset is converted, and later times of the day follow the zone's daylight-saving
    rules. Without `zone` it needs its offset, which it keeps (a fixed offset, no rules)."""
    local = datetime.fromisoformat(local_due_at) if isinstance(local_due_at, str) else local_due_at
    if zone:
        clock = find_zone(zone)
        if clock is None:
            raise ValueError(f"zone {zone!r} is not in the zone database")
        local = local.replace(tzinfo=clock) if local.tzinfo is None else local.astimezone(clock)
    elif local.tzinfo is None:
        raise ValueError(
            "local_due_at needs its UTC offset, e.g. 2030-03-04T09:30:00+03:00, or zone= the portal's zone"
        )
    due = local.astimezone(UTC)
    return ScheduledRunEvent(
        portal_member_id=portal,
        run_key=f"schedule:{schedule}:{due.isoformat()}",
        language=language,
        schedule=schedule,
        due_at=due,
        local_due_at=local,
    )


def make_deferred_event(
    job: str,
    data: Mapping[str, Any] | None = None,
    *,
    origin: BotEvent | None = None,
    portal: str = PORTAL,
    language: str = "en",
) -> DeferredJobEvent:
    return DeferredJobEvent(
        portal_member_id=portal,
        run_key=f"defer:test:{job}",
        language=language,
        job=job,
        data=dict(data or {}),
        origin=origin,
    )
