"""Bot events: EventType, one frozen dataclass per event type, and parse_event(payload) -> BotEvent.

Shapes follow CONTRACT part B §7.2 (the `imbot.v2` event table and object shapes). Parsing is lenient
by design: an unknown event type becomes an UnknownEvent, fields we do not model stay reachable through
each object's `raw` mapping, and scalars that arrive as strings ("42", "Y") are coerced, so a platform
change never makes the poller drop or choke on an event. Only an envelope without an integer `eventId`
is refused (MalformedEventError): such an event could be neither de-duplicated nor acknowledged; so is
a message event without its message, which no skill could act on. get_events() keeps both aside in
`EventBatch.malformed` rather than dropping them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

from botcore.vibe.errors import VibeError

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EventType(StrEnum):
    MESSAGE_ADD = "ONIMBOTV2MESSAGEADD"
    MESSAGE_UPDATE = "ONIMBOTV2MESSAGEUPDATE"
    MESSAGE_DELETE = "ONIMBOTV2MESSAGEDELETE"
    JOIN_CHAT = "ONIMBOTV2JOINCHAT"
    BOT_DELETE = "ONIMBOTV2DELETE"
    CONTEXT_GET = "ONIMBOTV2CONTEXTGET"
    COMMAND_ADD = "ONIMBOTV2COMMANDADD"
    REACTION_CHANGE = "ONIMBOTV2REACTIONCHANGE"


class MalformedEventError(VibeError, ValueError):
    """An event envelope that is not an object or has no integer eventId."""


# --- scalar coercion (webhook-style payloads carry scalars as strings) ----------------------------
def as_int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return default


def as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("y", "yes", "true", "1")
    return bool(value)


def as_str(value: object) -> str:
    return "" if value is None else str(value)


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def as_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# --- objects inside events --------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class EventBot:
    """The bot an event is addressed to (the full bot object in polling mode)."""

    id: int
    code: str
    type: str
    name: str = ""
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> EventBot:
        return cls(
            id=as_int(data.get("id")),
            code=as_str(data.get("code")),
            type=as_str(data.get("type")),
            name=as_str(data.get("name")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class EventMessage:
    id: int
    chat_id: int
    author_id: int
    text: str
    date: datetime | None = None
    is_system: bool = False
    uuid: str = ""
    forward: Mapping[str, Any] | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    viewed_by_others: bool = False
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @property
    def file_ids(self) -> tuple[int, ...]:
        """Ids of the files attached to the message (`params.files[]`), for get_file_download_url()."""
        files = self.params.get("files")
        if not isinstance(files, list):
            return ()
        ids = (as_int(f.get("id") if isinstance(f, Mapping) else f, -1) for f in files)
        return tuple(i for i in ids if i >= 0)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> EventMessage:
        forward = data.get("forward")
        return cls(
            id=as_int(data.get("id")),
            chat_id=as_int(data.get("chatId")),
            author_id=as_int(data.get("authorId")),
            text=as_str(data.get("text")),
            date=as_datetime(data.get("date")),
            is_system=as_bool(data.get("isSystem")),
            uuid=as_str(data.get("uuid")),
            forward=forward if isinstance(forward, Mapping) else None,
            params=as_mapping(data.get("params")),
            viewed_by_others=as_bool(data.get("viewedByOthers")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class EventChat:
    id: int
    dialog_id: str
    type: str
    name: str = ""
    entity_type: str = ""
    owner_id: int = 0
    avatar: str = ""
    color: str = ""
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> EventChat:
        return cls(
            id=as_int(data.get("id")),
            dialog_id=as_str(data.get("dialogId")),
            type=as_str(data.get("type")),
            name=as_str(data.get("name")),
            entity_type=as_str(data.get("entityType")),
            owner_id=as_int(data.get("owner")),
            avatar=as_str(data.get("avatar")),
            color=as_str(data.get("color")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class EventUser:
    """The portal user behind an event (the author, or who added the bot, or who reacted)."""

    id: int
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    active: bool = True
    is_bot: bool = False
    is_extranet: bool = False
    work_position: str = ""
    gender: str = ""
    avatar: str = ""
    type: str = ""
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> EventUser:
        return cls(
            id=as_int(data.get("id")),
            name=as_str(data.get("name")),
            first_name=as_str(data.get("firstName")),
            last_name=as_str(data.get("lastName")),
            active=as_bool(data.get("active", True)),
            is_bot=as_bool(data.get("bot")),
            is_extranet=as_bool(data.get("extranet")),
            work_position=as_str(data.get("workPosition")),
            gender=as_str(data.get("gender")),
            avatar=as_str(data.get("avatar")),
            type=as_str(data.get("type")),
            raw=data,
        )


def with_slash(command: str) -> str:
    """A command name in the one form skills see: "/ping" from "ping", "/ping" or " /ping "."""
    name = command.strip().lstrip("/")
    return "/" + name if name else ""


@dataclass(frozen=True, kw_only=True)
class EventCommand:
    id: int
    # Always with the leading "/": the platform sends "ping" (the reference's example) or "/ping" (imbot.v2,
    # the `command-slash` dialect), and skills see one form. `name` is the form without it.
    command: str
    params: str = ""  # the text after the command
    context: str = ""  # "textarea" | "keyboard" | "menu"
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The command without its slash, as it was registered ("help")."""
        return self.command.lstrip("/")

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> EventCommand:
        return cls(
            id=as_int(data.get("id")),
            command=with_slash(as_str(data.get("command"))),
            params=as_str(data.get("params")),
            context=as_str(data.get("context")),
            raw=data,
        )


# --- events -----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class BaseEvent:
    event_id: int
    type: EventType | str
    date: datetime | None
    bot: EventBot | None
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The text of the message the event carries, or "" when it carries none."""
        message = getattr(self, "message", None)
        return message.text if isinstance(message, EventMessage) else ""


@dataclass(frozen=True, kw_only=True)
class ChatEvent(BaseEvent):
    """An event that happened in a chat: it names the chat, the user and how to answer (dialog_id)."""

    dialog_id: str
    chat: EventChat | None
    user: EventUser | None
    language: str = ""

    @property
    def is_from_bot(self) -> bool:
        """Whether a bot (this one or another) caused the event; echo loops start here."""
        if self.user is not None and self.user.is_bot:
            return True
        message = getattr(self, "message", None)
        return bool(
            isinstance(message, EventMessage) and self.bot is not None and message.author_id == self.bot.id
        )


@dataclass(frozen=True, kw_only=True)
class MessageAddEvent(ChatEvent):
    message: EventMessage


@dataclass(frozen=True, kw_only=True)
class MessageUpdateEvent(ChatEvent):
    message: EventMessage  # with the new text


@dataclass(frozen=True, kw_only=True)
class MessageDeleteEvent(ChatEvent):
    message_id: int


@dataclass(frozen=True, kw_only=True)
class JoinChatEvent(ChatEvent):
    """The bot was added to a chat, or a user opened its 1:1 dialog for the first time (`user` did it)."""


@dataclass(frozen=True, kw_only=True)
class BotDeleteEvent(BaseEvent):
    """The bot was deleted on the portal: the last event it will ever receive."""


@dataclass(frozen=True, kw_only=True)
class ContextGetEvent(ChatEvent):
    context: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class CommandAddEvent(ChatEvent):
    command: EventCommand
    message: EventMessage | None


@dataclass(frozen=True, kw_only=True)
class ReactionChangeEvent(ChatEvent):
    reaction: str
    action: str  # "add" | "delete"
    message: EventMessage | None


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(BaseEvent):
    """An event type this client does not know yet; `data` is its payload, untouched."""

    data: Mapping[str, Any]


BotEvent: TypeAlias = (
    MessageAddEvent
    | MessageUpdateEvent
    | MessageDeleteEvent
    | JoinChatEvent
    | BotDeleteEvent
    | ContextGetEvent
    | CommandAddEvent
    | ReactionChangeEvent
    | UnknownEvent
)


def _optional(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    return value if isinstance(value, Mapping) else None


def _chat_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    chat_data = _optional(data, "chat")
    user_data = _optional(data, "user")
    chat = EventChat.from_payload(chat_data) if chat_data is not None else None
    dialog_id = as_str(data.get("dialogId")) or (chat.dialog_id if chat is not None else "")
    return {
        "dialog_id": dialog_id,
        "chat": chat,
        "user": EventUser.from_payload(user_data) if user_data is not None else None,
        "language": as_str(data.get("language")),
    }


def _message(data: Mapping[str, Any]) -> EventMessage | None:
    message = _optional(data, "message")
    return EventMessage.from_payload(message) if message is not None else None


def parse_event(payload: Mapping[str, Any]) -> BotEvent:
    """Turn one item of `data.events` into its typed event; unknown types become UnknownEvent."""
    if not isinstance(payload, Mapping):
        raise MalformedEventError(f"an event must be a JSON object, got {type(payload).__name__}")
    raw_id = payload.get("eventId")
    event_id = as_int(raw_id, -1)
    if event_id < 0 or isinstance(raw_id, bool):
        raise MalformedEventError("an event without an integer eventId cannot be acknowledged")
    type_name = as_str(payload.get("type")).strip().upper()
    data = as_mapping(payload.get("data"))
    bot_data = _optional(data, "bot")
    common: dict[str, Any] = {
        "event_id": event_id,
        "date": as_datetime(payload.get("date")),
        "bot": EventBot.from_payload(bot_data) if bot_data is not None else None,
        "raw": payload,
    }
    try:
        event_type = EventType(type_name)
    except ValueError:
        return UnknownEvent(type=type_name, data=data, **common)

    common["type"] = event_type
    if event_type is EventType.BOT_DELETE:
        return BotDeleteEvent(**common)
    common.update(_chat_fields(data))
    message = _message(data)
    if event_type in (EventType.MESSAGE_ADD, EventType.MESSAGE_UPDATE):
        if message is None:
            raise MalformedEventError(f"event {event_id}: {event_type} without its message")
        cls = MessageAddEvent if event_type is EventType.MESSAGE_ADD else MessageUpdateEvent
        return cls(message=message, **common)
    if event_type is EventType.MESSAGE_DELETE:
        message_id = as_int(data.get("messageId"), -1)
        if message_id < 0 and message is not None:
            message_id = message.id
        return MessageDeleteEvent(message_id=message_id, **common)
    if event_type is EventType.JOIN_CHAT:
        return JoinChatEvent(**common)
    if event_type is EventType.CONTEXT_GET:
        return ContextGetEvent(context=as_mapping(data.get("context")), **common)
    if event_type is EventType.COMMAND_ADD:
        command = EventCommand.from_payload(as_mapping(data.get("command")))
        return CommandAddEvent(command=command, message=message, **common)
    return ReactionChangeEvent(
        reaction=as_str(data.get("reaction")),
        action=as_str(data.get("action")).lower(),
        message=message,
        **common,
    )
