"""The records the sandbox platform keeps: one dataclass per thing (portal, user, app, key, session, bot,
command, event, chat, message, file), with only the facts derived from a record's own fields.

Plain data with no behaviour across records: `sandbox/state.py` (Platform) creates, links and queries
them; `sandbox/payloads.py` shows them on the wire. Users and bots share the user-id space, because on
Bitrix24 a bot *is* a user of the portal (a bot's messages carry its id as `authorId`).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Portal:
    id: str  # the portal UUID the gateway sends as X-Vibe-Portal-Id
    member_id: str  # Bitrix24's member_id
    domain: str
    name: str
    timezone: str = "Europe/Moscow"


@dataclass
class User:
    id: int
    portal_id: str
    name: str
    first_name: str
    last_name: str
    is_admin: bool = False
    work_position: str = ""
    active: bool = True
    language: str = "en"


@dataclass
class App:
    id: int
    name: str
    scopes: frozenset[str]


@dataclass
class ApiKey:
    value: str
    kind: str  # "app" (vibe_app_) or "api" (vibe_api_)
    scopes: frozenset[str]
    app_id: int | None = None  # for app keys
    portal_id: str | None = None  # for personal keys: the one portal
    user_id: int | None = None  # for personal keys: the owner
    revoked: bool = False
    rate_limit: float | None = None  # per-key override of the platform default

    @property
    def prefix(self) -> str:
        return self.value[: self.value.index("_", 5) + 1]

    @property
    def digest(self) -> str:
        """Which key this is, for the call log and the bot listing, without showing it: the first 16 hex
        digits of its SHA-256."""
        return hashlib.sha256(self.value.encode()).hexdigest()[:16]


@dataclass
class Session:
    token: str
    app_id: int
    portal_id: str
    user_id: int
    created_at: datetime
    expires_at: datetime


@dataclass
class Command:
    id: int
    bot_id: int
    command: str  # without the leading "/"
    title: dict[str, str]
    params: dict[str, str]
    common: bool = False
    hidden: bool = False
    extranet_support: bool = False
    description: dict[str, str] = field(default_factory=dict)  # the reference's echo example sends one


@dataclass
class Event:
    event_id: int
    type: str
    date: datetime
    data: dict
    # The eventId shown on the wire when it is not event_id: a platform bug a test injects (an id beyond
    # bigint); the queue's order and nextOffset still follow event_id.
    wire_id: int | None = None

    @property
    def shown_id(self) -> int:
        return self.event_id if self.wire_id is None else self.wire_id


@dataclass
class Bot:
    id: int
    portal_id: str
    owner_key: str  # the key value that registered it; with app keys, the (key, portal) pair owns it
    code: str
    name: str
    type: str = "bot"
    event_mode: str = "fetch"
    webhook_url: str = ""  # eventMode "webhook" only; the sandbox keeps queueing events for polling
    last_name: str = ""
    work_position: str = ""
    color: str = ""
    gender: str = ""
    avatar: str = ""
    background_id: str | None = None
    is_hidden: bool = False
    is_reactions_enabled: bool = True
    is_support_openline: bool = False
    language: str = "en"
    created_at: datetime | None = None
    commands: dict[int, Command] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # unacknowledged, ascending by event_id
    next_event_id: int = 1
    stored_offset: int = 0  # every event below this is acknowledged
    # A poll has named an offset (0 too), so one is stored: until then `unstored-offset` answers
    # storedOffset null. A class default, so a platform saved before it loads as "none named yet".
    offset_named: bool = False
    deleting: bool = False  # the portal deleted it: ONIMBOTV2DELETE is queued, nothing else arrives
    waiters: set[asyncio.Event] = field(default_factory=set, repr=False)

    def __getstate__(self) -> dict:
        # Long-polls waiting on this bot belong to the running server, not to the saved platform.
        return {**self.__dict__, "waiters": set()}

    def wake_long_polls(self) -> None:
        """Something changed for this bot (an event, its removal): every waiting long-poll looks again."""
        for waiter in self.waiters:
            waiter.set()


@dataclass
class TypingStatus:
    """A bot's typing indicator in one chat: plain "typing…" when the code is None, shown until `until`."""

    status_message_code: str | None
    until: datetime


@dataclass
class Chat:
    id: int
    portal_id: str
    type: str  # "private" (a user and a bot) or "chat" (group)
    title: str = ""
    description: str = ""
    color: str = ""
    avatar: str = ""
    owner_id: int = 0
    member_ids: list[int] = field(default_factory=list)
    manager_ids: set[int] = field(default_factory=set)
    text_field_enabled: bool = True
    entity_type: str = ""
    created_at: datetime | None = None
    last_message_id: int = 0
    typing: dict[int, TypingStatus] = field(default_factory=dict)  # bot id -> its indicator (POST /typing)
    read_marks: dict[int, int] = field(default_factory=dict)  # member id -> last message id it has read

    @property
    def group_dialog_id(self) -> str:
        return f"chat{self.id}"

    def role_of(self, member_id: int) -> str:
        """What `member_id` is here: "owner", "manager", "member" or "none"."""
        if self.owner_id == member_id:
            return "owner"
        if member_id in self.manager_ids:
            return "manager"
        return "member" if member_id in self.member_ids else "none"


@dataclass
class Message:
    id: int
    chat_id: int
    author_id: int
    text: str
    date: datetime
    is_system: bool = False
    keyboard: list[dict] | None = None
    attach: list | dict | None = None
    params: dict = field(default_factory=dict)
    reactions: dict[str, set[int]] = field(default_factory=dict)  # code -> user ids
    uuid: str = ""
    reply_id: int | None = None
    url_preview: bool = True
    deleted: bool = False
    edited_at: datetime | None = None
    # for command answers: the command message it answers
    answer_to: int | None = None
    # the sender's templateId (a UUID): a repeated send with it answers this message instead of posting again
    template_id: str | None = None


@dataclass
class StoredFile:
    id: int
    chat_id: int
    portal_id: str
    name: str
    content: bytes
    message_id: int | None
    download_token: str

    @property
    def extension(self) -> str:
        return self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""
