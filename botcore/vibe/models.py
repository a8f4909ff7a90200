"""Typed results of VibeClient calls: frozen dataclasses with snake_case fields, parsed from camelCase.

Each result keeps the answer it was read from in `raw`, so a field the platform adds later is reachable
before this module learns it. Parsing is lenient the same way events are (strings for numbers, "Y"/"N"
for booleans, missing fields defaulted); it never raises on an unexpected shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from botcore.vibe.events import (
    BotEvent,
    EventMessage,
    as_bool,
    as_int,
    as_mapping,
    as_str,
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# A message read back through the API has the shape of the `message` object in events.
Message = EventMessage


def _items(value: object) -> Sequence[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _lang_map(value: object) -> Mapping[str, str]:
    if isinstance(value, Mapping):
        return {str(k): as_str(v) for k, v in value.items()}
    if isinstance(value, str) and value:
        return {"": value}
    return _EMPTY


@dataclass(frozen=True, kw_only=True)
class Bot:
    id: int
    code: str
    name: str
    type: str = "bot"
    event_mode: str = "fetch"
    last_name: str = ""
    work_position: str = ""
    color: str = ""
    gender: str = ""
    language: str = ""
    background_id: str | None = None
    is_hidden: bool = False
    is_reactions_enabled: bool = True
    is_support_openline: bool = False
    is_active: bool = True
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Bot:
        # POST answers {bot:{id}}, the 409 and some lists {botId}; accept either (CONTRACT part B §7.1).
        background = data.get("backgroundId")
        return cls(
            id=as_int(data.get("id", data.get("botId"))),
            code=as_str(data.get("code")),
            name=as_str(data.get("name")),
            type=as_str(data.get("type")) or "bot",
            event_mode=as_str(data.get("eventMode")) or "fetch",
            last_name=as_str(data.get("lastName")),
            work_position=as_str(data.get("workPosition")),
            color=as_str(data.get("color")),
            gender=as_str(data.get("gender")),
            language=as_str(data.get("language")),
            background_id=as_str(background) if background else None,
            is_hidden=as_bool(data.get("isHidden")),
            is_reactions_enabled=as_bool(data.get("isReactionsEnabled", True)),
            is_support_openline=as_bool(data.get("isSupportOpenline")),
            is_active=as_bool(data.get("active", True)),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class PortalUser:
    """A portal user as chat member lists and Bot.get show it (a bot is a portal user too)."""

    id: int
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    is_active: bool = True
    is_bot: bool = False
    work_position: str = ""
    language: str = ""  # the user's own interface language, where the platform says it
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> PortalUser:
        return cls(
            id=as_int(data.get("id")),
            name=as_str(data.get("name")),
            first_name=as_str(data.get("firstName")),
            last_name=as_str(data.get("lastName")),
            is_active=as_bool(data.get("active", True)),
            is_bot=as_bool(data.get("bot")),
            work_position=as_str(data.get("workPosition")),
            language=as_str(data.get("language")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class BotDetails:
    """GET /v1/bots/:botId: the bot and the portal user(s) it is."""

    bot: Bot
    users: tuple[PortalUser, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class Revision:
    revision: int
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class EventBatch:
    """One answer of GET /events. Pass `next_offset` back to acknowledge these events."""

    events: tuple[BotEvent, ...]
    next_offset: int
    has_more: bool = False
    stored_offset: int | None = None
    persisted: bool | None = None
    malformed: tuple[Any, ...] = ()  # items that could not be parsed, kept as received
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    def offset_after(self, current: int | None) -> int | None:
        """The offset to send next: never backwards (an empty queue answers nextOffset 0, part A §8)."""
        if current is None:
            return self.next_offset or None
        return max(current, self.next_offset)


@dataclass(frozen=True, kw_only=True)
class SentMessage:
    id: int
    uuid_map: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> SentMessage:
        message_id = data.get("id", data.get("messageId"))
        if message_id is None and isinstance(data.get("message"), Mapping):
            message_id = data["message"].get("id")
        uuid_map = data.get("uuidMap")
        return cls(id=as_int(message_id), uuid_map=as_mapping(uuid_map), raw=data)


@dataclass(frozen=True, kw_only=True)
class MessageContext:
    """Messages around one message (supervisor/personal bots), with paging flags."""

    messages: tuple[Message, ...]
    users: tuple[PortalUser, ...] = ()
    has_prev_page: bool = False
    has_next_page: bool = False
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> MessageContext:
        return cls(
            messages=tuple(Message.from_payload(m) for m in _items(data.get("messages"))),
            users=tuple(PortalUser.from_payload(u) for u in _items(data.get("users"))),
            has_prev_page=as_bool(data.get("hasPrevPage")),
            has_next_page=as_bool(data.get("hasNextPage")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Chat:
    id: int
    dialog_id: str
    type: str = ""
    title: str = ""
    description: str = ""
    owner_id: int = 0
    color: str = ""
    avatar: str = ""
    entity_type: str = ""
    text_field_enabled: bool = True
    manager_ids: tuple[int, ...] = ()
    user_count: int = 0
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Chat:
        chat_id = as_int(data.get("id"))
        managers = data.get("managerList", data.get("managers"))
        return cls(
            id=chat_id,
            dialog_id=as_str(data.get("dialogId")) or (f"chat{chat_id}" if chat_id else ""),
            type=as_str(data.get("type")),
            title=as_str(data.get("name", data.get("title"))),
            description=as_str(data.get("description")),
            owner_id=as_int(data.get("owner", data.get("ownerId"))),
            color=as_str(data.get("color")),
            avatar=as_str(data.get("avatar")),
            entity_type=as_str(data.get("entityType")),
            text_field_enabled=as_bool(data.get("textFieldEnabled", True)),
            manager_ids=tuple(as_int(m) for m in managers) if isinstance(managers, list) else (),
            user_count=as_int(data.get("userCounter", data.get("userCount"))),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Command:
    id: int
    bot_id: int
    command: str  # with the leading "/"
    title: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # language code -> text
    params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    description: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    is_common: bool = False
    is_hidden: bool = False
    extranet_support: bool = False
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.command.lstrip("/")

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Command:
        command = as_str(data.get("command"))
        return cls(
            id=as_int(data.get("id", data.get("commandId"))),
            bot_id=as_int(data.get("botId")),
            command=command if command.startswith("/") or not command else "/" + command,
            title=_lang_map(data.get("title")),
            params=_lang_map(data.get("params")),
            description=_lang_map(data.get("description")),
            is_common=as_bool(data.get("common")),
            is_hidden=as_bool(data.get("hidden")),
            extranet_support=as_bool(data.get("extranetSupport")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class UploadedFile:
    id: int
    name: str
    size: int
    chat_id: int
    message_id: int
    dialog_id: str = ""
    extension: str = ""
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> UploadedFile:
        file = as_mapping(data.get("file"))
        return cls(
            id=as_int(file.get("id")),
            name=as_str(file.get("name")),
            size=as_int(file.get("size")),
            chat_id=as_int(data.get("chatId", file.get("chatId"))),
            message_id=as_int(data.get("messageId")),
            dialog_id=as_str(data.get("dialogId")),
            extension=as_str(file.get("extension")),
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class FileDownload:
    """Where to fetch a file: a one-time URL that carries its own token (send no key to it)."""

    download_url: str
    name: str = ""
    size: int = 0
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> FileDownload:
        return cls(
            download_url=as_str(data.get("downloadUrl")),
            name=as_str(data.get("name")),
            size=as_int(data.get("size")),
            raw=data,
        )

    def __repr__(self) -> str:  # the URL is a bearer credential for the file
        return f"FileDownload(name={self.name!r}, size={self.size}, download_url=<hidden>)"
