"""Typed results of VibeClient calls: frozen dataclasses with snake_case fields, read from camelCase.

Each is read the tolerant way wire.py describes (strings for numbers, "Y"/"N" for booleans, missing or
unreadable fields defaulted; never an error for an unexpected shape) and keeps the answer it was read
from in `raw`, so a field the platform adds later is reachable before this module learns it. The aliases
below are the other spellings the platform (or one of its dialects, docs/sandbox.md) uses for a field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, AliasPath, BeforeValidator, Field

from botcore.vibe.coerce import lang_map, with_slash
from botcore.vibe.events import BotEvent, EventMessage
from botcore.vibe.wire import WireObject, model_validator, raw_field, wire_dataclass

# A message read back through the API has the shape of the `message` object in events.
Message = EventMessage

LangText = Annotated[Mapping[str, str], BeforeValidator(lang_map)]  # language code -> text


def _or(default: str) -> AfterValidator:
    """An empty text reads as `default`."""
    return AfterValidator(lambda value: value or default)


@wire_dataclass
class Bot(WireObject):
    # POST answers {bot:{id}}, the 409 and some lists {botId} (dialects flat-bot-id, bare-bot-list).
    id: int = Field(default=0, validation_alias=AliasChoices("id", "botId"))
    code: str = ""
    name: str = ""
    type: Annotated[str, _or("bot")] = "bot"
    event_mode: Annotated[str, _or("fetch")] = "fetch"
    last_name: str = ""
    work_position: str = ""
    color: str = ""
    gender: str = ""
    language: str = ""
    background_id: Annotated[str | None, AfterValidator(lambda value: value or None)] = None
    is_hidden: bool = False
    is_reactions_enabled: bool = True
    is_support_openline: bool = False
    is_active: bool = Field(default=True, validation_alias="active")


@wire_dataclass
class PortalUser(WireObject):
    """A portal user as chat member lists and Bot.get show it (a bot is a portal user too)."""

    id: int = 0
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    is_active: bool = Field(default=True, validation_alias="active")
    is_bot: bool = Field(default=False, validation_alias="bot")
    work_position: str = ""
    language: str = ""  # the user's own interface language, where the platform says it


@dataclass(frozen=True, kw_only=True)
class BotDetails:
    """GET /v1/bots/:botId: the bot and the portal user(s) it is."""

    bot: Bot
    users: tuple[PortalUser, ...] = ()
    raw: Mapping[str, Any] = raw_field()


@dataclass(frozen=True, kw_only=True)
class Revision:
    revision: int
    raw: Mapping[str, Any] = raw_field()


@dataclass(frozen=True, kw_only=True)
class MalformedItem:
    """An item of GET /events that could not be read as an event, as received, and why."""

    item: Any
    reason: str
    event_id: int = -1  # its eventId where it has a readable one (parse.item_event_id)


@dataclass(frozen=True, kw_only=True)
class EventBatch:
    """One answer of GET /events (parse.read_event_batch). Pass `next_offset` back to acknowledge them."""

    events: tuple[BotEvent, ...]
    next_offset: int
    has_more: bool = False
    stored_offset: int | None = None
    persisted: bool | None = None
    malformed: tuple[MalformedItem, ...] = ()  # items that could not be read, kept as received
    raw: Mapping[str, Any] = raw_field()

    @property
    def is_empty(self) -> bool:
        """No item at all (a malformed one counts: it is stored too)."""
        return not self.events and not self.malformed

    def offset_after(self, current: int | None) -> int | None:
        """The offset to send next, having sent `current`: never backwards (an empty queue answers nextOffset
        0, part A §8), and just past a nextOffset naming an event of this batch once the platform has shown it
        counts offsets as "from" (`last-id-next-offset`)."""
        if current is None:
            return self.next_offset or None
        return max(current, self.next_offset, self._past_a_lagging_next_offset(current))

    def _past_a_lagging_next_offset(self, current: int) -> int:
        """The nextOffset + 1 when this batch gave back the event at the offset sent and names one of its own
        events as the next offset; else 0.

        Giving back the event at `current` shows that offset N keeps event N waiting (ids at or above it come
        again, A §8), so a nextOffset naming an event it gave (lastEventId's meaning) would bring that event
        back about once a second for ever. A platform counting offsets as "after" never gives back the event
        at the offset sent, so there the nextOffset it names is kept (moving past it would lose an event).
        Only just past the event the platform named: an id of its own choosing (a mislabelled 2**63 + 7) is
        no offset, and moving to it stalled the bot on the platform's INVALID_OFFSET."""
        ids = {event.event_id for event in self.events} | {item.event_id for item in self.malformed}
        if current in ids and self.next_offset in ids:
            return self.next_offset + 1
        return 0


@wire_dataclass
class SentMessage(WireObject):
    id: int = Field(default=0, validation_alias=AliasChoices("id", "messageId", AliasPath("message", "id")))
    uuid_map: dict[str, Any] = Field(default_factory=dict)


@wire_dataclass
class MessageContext(WireObject):
    """Messages around one message (supervisor/personal bots), with paging flags."""

    messages: tuple[Message, ...] = ()
    users: tuple[PortalUser, ...] = ()
    has_prev_page: bool = False
    has_next_page: bool = False


@wire_dataclass
class Chat(WireObject):
    id: int = 0
    dialog_id: str = ""  # "chat<id>" when the answer leaves it out
    type: str = ""
    title: str = Field(default="", validation_alias=AliasChoices("name", "title"))
    description: str = ""
    owner_id: int = Field(default=0, validation_alias=AliasChoices("owner", "ownerId"))
    color: str = ""
    avatar: str = ""
    entity_type: str = ""
    text_field_enabled: bool = True
    manager_ids: tuple[int, ...] = Field(default=(), validation_alias=AliasChoices("managerList", "managers"))
    user_count: int = Field(default=0, validation_alias=AliasChoices("userCounter", "userCount"))
    last_message_id: int | None = None  # None when the answer does not say (a post's fate is then unread)

    @model_validator(mode="after")
    def _dialog_from_id(self) -> Chat:
        if not self.dialog_id and self.id:
            object.__setattr__(self, "dialog_id", f"chat{self.id}")
        return self


@wire_dataclass
class Command(WireObject):
    id: int = Field(default=0, validation_alias=AliasChoices("id", "commandId"))
    bot_id: int = 0
    command: Annotated[str, AfterValidator(with_slash)] = ""  # with the leading "/"
    title: LangText = Field(default_factory=dict)
    params: LangText = Field(default_factory=dict)
    description: LangText = Field(default_factory=dict)
    is_common: bool = Field(default=False, validation_alias="common")
    is_hidden: bool = Field(default=False, validation_alias="hidden")
    extranet_support: bool = False

    @property
    def name(self) -> str:
        return self.command.lstrip("/")


@wire_dataclass
class UploadedFile(WireObject):
    id: int = Field(default=0, validation_alias=AliasPath("file", "id"))
    name: str = Field(default="", validation_alias=AliasPath("file", "name"))
    size: int = Field(default=0, validation_alias=AliasPath("file", "size"))
    chat_id: int = Field(default=0, validation_alias=AliasChoices("chatId", AliasPath("file", "chatId")))
    message_id: int = 0
    dialog_id: str = ""
    extension: str = Field(default="", validation_alias=AliasPath("file", "extension"))


@wire_dataclass
class FileDownload(WireObject):
    """Where to fetch a file: a one-time URL that carries its own token (send no key to it)."""

    download_url: str = ""
    name: str = ""
    size: int = 0

    def __repr__(self) -> str:  # the URL is a bearer credential for the file
        return f"FileDownload(name={self.name!r}, size={self.size}, download_url=<hidden>)"
