"""Bot events as types: EventType, the objects events carry and one frozen dataclass per event type.

Shapes follow CONTRACT part B §7.2 (the `imbot.v2` event table and object shapes); every field is read
the tolerant way wire.py describes, and each object keeps its payload in `raw`. Reading an event (which
class, what makes one unreadable) is parse.py's job.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, TypeAlias

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasPath,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainValidator,
)

from botcore.vibe.bbcode import unmention
from botcore.vibe.coerce import as_int, as_str, with_slash, without_zone_id
from botcore.vibe.errors import VibeError
from botcore.vibe.wire import WireObject, model_validator, wire_dataclass


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
    """An event envelope that is not an object or has no integer eventId, or lacks what its type needs."""


def event_type_of(value: object) -> EventType | str:
    """An envelope's `type` as an EventType, or upper-cased when this client does not know it."""
    name = as_str(value).strip().upper()
    try:
        return EventType(name)
    except ValueError:
        return name


# A date as the platform writes it, a Java ZonedDateTime's "[Europe/Moscow]" after the offset too.
PlatformDate = Annotated[AwareDatetime, BeforeValidator(without_zone_id)]


def _data(*path: str) -> AliasPath:
    """Where a field sits in the envelope: under `data`."""
    return AliasPath("data", *path)


# --- objects inside events --------------------------------------------------------------------------
@wire_dataclass
class EventBot(WireObject):
    """The bot an event is addressed to (the full bot object in polling mode)."""

    id: int = 0
    code: str = ""
    type: str = ""
    name: str = ""


@wire_dataclass
class EventMessage(WireObject):
    id: int = 0
    chat_id: int = 0
    author_id: int = 0
    text: str = ""
    # A time without its offset is no instant: left out, as coerce.as_datetime leaves it.
    date: PlatformDate | None = None
    is_system: bool = False
    uuid: str = ""
    forward: dict[str, Any] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    viewed_by_others: bool = False

    @property
    def file_ids(self) -> tuple[int, ...]:
        """Ids of the files attached to the message (`params.files[]`), for get_file_download_url()."""
        files = self.params.get("files")
        if not isinstance(files, list):
            return ()
        ids = (as_int(f.get("id") if isinstance(f, dict) else f, -1) for f in files)
        return tuple(i for i in ids if i >= 0)


@wire_dataclass
class EventChat(WireObject):
    id: int = 0
    dialog_id: str = ""
    type: str = ""
    name: str = ""
    entity_type: str = ""
    owner_id: int = Field(default=0, validation_alias="owner")
    avatar: str = ""
    color: str = ""


@wire_dataclass
class EventUser(WireObject):
    """The portal user behind an event (the author, or who added the bot, or who reacted)."""

    id: int = 0
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    active: bool = True
    is_bot: bool = Field(default=False, validation_alias="bot")
    is_extranet: bool = Field(default=False, validation_alias="extranet")
    work_position: str = ""
    gender: str = ""
    avatar: str = ""
    type: str = ""


@wire_dataclass
class EventCommand(WireObject):
    id: int = 0
    # Always with the leading "/": the platform sends "ping" (the reference's example) or "/ping" (imbot.v2,
    # the `command-slash` dialect), and skills see one form. `name` is the form without it.
    command: Annotated[str, AfterValidator(with_slash)] = ""
    params: str = ""  # the text after the command
    context: str = ""  # "textarea" | "keyboard" | "menu"

    @property
    def name(self) -> str:
        """The command without its slash, as it was registered ("help")."""
        return self.command.lstrip("/")


# --- events: each reads the whole envelope {eventId, type, date, data: {...}} ----------------------
@wire_dataclass
class BaseEvent(WireObject):
    event_id: int = Field(validation_alias="eventId")
    # Matched case-insensitively: an EventType, or the upper-cased name of a type this client does not know.
    type: Annotated[EventType | str, PlainValidator(event_type_of)] = ""
    date: PlatformDate | None = None
    bot: EventBot | None = Field(default=None, validation_alias=_data("bot"))

    @property
    def text(self) -> str:
        """The text of the message the event carries, or "" when it carries none."""
        message = getattr(self, "message", None)
        return message.text if isinstance(message, EventMessage) else ""


@wire_dataclass
class ChatEvent(BaseEvent):
    """An event that happened in a chat: it names the chat, the user and how to answer (dialog_id)."""

    dialog_id: str = Field(default="", validation_alias=_data("dialogId"))
    chat: EventChat | None = Field(default=None, validation_alias=_data("chat"))
    user: EventUser | None = Field(default=None, validation_alias=_data("user"))
    language: str = Field(default="", validation_alias=_data("language"))

    @model_validator(mode="after")
    def _dialog_from_chat(self) -> ChatEvent:
        if not self.dialog_id and self.chat is not None:
            object.__setattr__(self, "dialog_id", self.chat.dialog_id)  # the event omitted it
        return self

    @property
    def is_from_bot(self) -> bool:
        """Whether a bot (this one or another) caused the event; echo loops start here."""
        if self.user is not None and self.user.is_bot:
            return True
        message = getattr(self, "message", None)
        return bool(
            isinstance(message, EventMessage) and self.bot is not None and message.author_id == self.bot.id
        )


@wire_dataclass
class UserMessageEvent(ChatEvent):
    """A message added or edited (MessageUpdateEvent carries the new text)."""

    message: EventMessage = Field(validation_alias=_data("message"))

    @property
    def text_to_bot(self) -> str:
        """The text as said to the bot: each mention as the name it shows, the bot's own left out (a group
        chat delivers a message only when it mentions the bot, so "^roll" matches "@Bot roll")."""
        return unmention(self.message.text, addressee=self.bot.id if self.bot is not None else None)


@wire_dataclass
class MessageAddEvent(UserMessageEvent):
    pass


@wire_dataclass
class MessageUpdateEvent(UserMessageEvent):
    pass


@wire_dataclass
class MessageDeleteEvent(ChatEvent):
    message_id: int = Field(
        default=-1, validation_alias=AliasChoices(_data("messageId"), _data("message", "id"))
    )


@wire_dataclass
class JoinChatEvent(ChatEvent):
    """The bot was added to a chat, or a user opened its 1:1 dialog for the first time (`user` did it)."""


@wire_dataclass
class BotDeleteEvent(BaseEvent):
    """The bot was deleted on the portal: the last event it will ever receive."""


@wire_dataclass
class ContextGetEvent(ChatEvent):
    context: dict[str, Any] = Field(default_factory=dict, validation_alias=_data("context"))


@wire_dataclass
class CommandAddEvent(ChatEvent):
    command: EventCommand = Field(default_factory=EventCommand, validation_alias=_data("command"))
    message: EventMessage | None = Field(default=None, validation_alias=_data("message"))


@wire_dataclass
class ReactionChangeEvent(ChatEvent):
    reaction: str = Field(default="", validation_alias=_data("reaction"))
    action: Annotated[str, AfterValidator(str.lower)] = Field(
        "", validation_alias=_data("action")
    )  # add|delete
    message: EventMessage | None = Field(default=None, validation_alias=_data("message"))


@wire_dataclass
class UnknownEvent(BaseEvent):
    """An event type this client does not know yet; `data` is its payload, untouched."""

    data: dict[str, Any] = Field(default_factory=dict)


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

EVENT_CLASSES: dict[EventType, type[BotEvent]] = {
    EventType.MESSAGE_ADD: MessageAddEvent,
    EventType.MESSAGE_UPDATE: MessageUpdateEvent,
    EventType.MESSAGE_DELETE: MessageDeleteEvent,
    EventType.JOIN_CHAT: JoinChatEvent,
    EventType.BOT_DELETE: BotDeleteEvent,
    EventType.CONTEXT_GET: ContextGetEvent,
    EventType.COMMAND_ADD: CommandAddEvent,
    EventType.REACTION_CHANGE: ReactionChangeEvent,
}
