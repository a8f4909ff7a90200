"""The sandbox platform's state: every record it keeps (`sandbox/records.py`), and the operations on them
that more than one API module needs (create, look up, link).

Everything lives in memory inside one asyncio process, so no locks are needed: handlers never await
between reading and writing state. Ids are drawn from one counter per kind; users and bots share the
user-id space, because on Bitrix24 a bot *is* a user of the portal. Each bot's event queue is
`sandbox/event_queue.py`'s; how the records look on the wire, `sandbox/payloads.py`'s.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sandbox.numbers import is_decimal
from sandbox.records import ApiKey, App, Bot, Chat, Message, Portal, Session, StoredFile, User

IMBOT_SCOPES = frozenset({"imbot", "im"})
DEFAULT_SESSION_TTL = 24 * 3600.0
DEFAULT_RATE_LIMIT = 10.0  # requests per second per key (CONTRACT part A §3)
MAX_BOTS_PER_APP_PER_PORTAL = 100


class IdSequence:
    """The ids of one kind, 1, 2, 3…: a plain counter, so a saved platform (sandbox/persistence.py) loads
    on any Python (itertools.count objects stop pickling in Python 3.14)."""

    def __init__(self) -> None:
        self.next_id = 1

    def __next__(self) -> int:
        value, self.next_id = self.next_id, self.next_id + 1
        return value


class StateError(Exception):
    """A platform-level refusal; the HTTP layer turns `code` into the reference's status."""

    def __init__(self, code: str, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


class Platform:
    """All of the sandbox's state and the operations on it that more than one API module needs."""

    # The alternative readings spoken (sandbox/dialects.py); a class default, so a platform pickled before
    # dialects existed still loads.
    dialects: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.clock_offset = 0.0  # seconds added to real time; the control API moves it
        self.session_ttl = DEFAULT_SESSION_TTL
        self.default_rate_limit = DEFAULT_RATE_LIMIT
        self.portals: dict[str, Portal] = {}
        self.users: dict[int, User] = {}
        self.apps: dict[int, App] = {}
        self.keys: dict[str, ApiKey] = {}
        self.sessions: dict[str, Session] = {}
        self.bots: dict[int, Bot] = {}
        self.chats: dict[int, Chat] = {}
        self.private_chats: dict[tuple[int, int], int] = {}  # (user id, bot id) -> chat id
        self.messages: dict[int, Message] = {}
        self.files: dict[int, StoredFile] = {}
        self.revision = 1
        self._user_ids = IdSequence()
        self._app_ids = IdSequence()
        self._chat_ids = IdSequence()
        self._message_ids = IdSequence()
        self._command_ids = IdSequence()
        self._file_ids = IdSequence()

    def speaks(self, dialect: str) -> bool:
        return dialect in self.dialects

    # --- time ------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    # --- identity --------------------------------------------------------------------------------
    def create_portal(self, *, domain: str | None = None, name: str | None = None) -> Portal:
        portal_id = str(uuid.uuid4())
        member_id = secrets.token_hex(16)
        domain = domain or f"portal-{member_id[:6]}.bitrix24.com"
        if any(p.domain == domain for p in self.portals.values()):
            raise StateError("PORTAL_EXISTS", f"A portal with domain {domain} already exists")
        portal = Portal(id=portal_id, member_id=member_id, domain=domain, name=name or domain.split(".")[0])
        self.portals[portal_id] = portal
        return portal

    def create_user(
        self,
        portal: Portal,
        *,
        name: str,
        is_admin: bool = False,
        work_position: str = "",
        language: str = "en",
    ) -> User:
        first, _, last = name.partition(" ")
        user = User(
            id=next(self._user_ids),
            portal_id=portal.id,
            name=name,
            first_name=first,
            last_name=last,
            is_admin=is_admin,
            work_position=work_position,
            language=language,
        )
        self.users[user.id] = user
        return user

    def create_app(self, *, name: str, scopes: Iterable[str] = IMBOT_SCOPES) -> tuple[App, ApiKey]:
        app = App(id=next(self._app_ids), name=name, scopes=frozenset(scopes))
        self.apps[app.id] = app
        return app, self.issue_app_key(app)

    def issue_app_key(self, app: App) -> ApiKey:
        key = ApiKey(value="vibe_app_" + secrets.token_hex(20), kind="app", scopes=app.scopes, app_id=app.id)
        self.keys[key.value] = key
        return key

    def issue_personal_key(self, user: User, *, scopes: Iterable[str] = IMBOT_SCOPES) -> ApiKey:
        key = ApiKey(
            value="vibe_api_" + secrets.token_hex(20),
            kind="api",
            scopes=frozenset(scopes),
            portal_id=user.portal_id,
            user_id=user.id,
        )
        self.keys[key.value] = key
        return key

    def create_session(self, *, app: App, user: User, ttl: float | None = None) -> Session:
        now = self.now()
        session = Session(
            token="vibe_session_" + secrets.token_urlsafe(32),
            app_id=app.id,
            portal_id=user.portal_id,
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.session_ttl if ttl is None else ttl),
        )
        self.sessions[session.token] = session
        return session

    def get_portal(self, portal_id: str) -> Portal:
        try:
            return self.portals[portal_id]
        except KeyError:
            raise StateError("PORTAL_NOT_FOUND", f"No portal {portal_id}") from None

    def get_user(self, user_id: int, *, portal_id: str | None = None) -> User:
        user = self.users.get(user_id)
        if user is None or (portal_id is not None and user.portal_id != portal_id):
            raise StateError("USER_NOT_FOUND", f"No user {user_id} on this portal")
        return user

    # --- bots --------------------------------------------------------------------------------------
    def bots_of(self, *, owner_key: str, portal_id: str) -> list[Bot]:
        return [b for b in self.bots.values() if b.owner_key == owner_key and b.portal_id == portal_id]

    def bots_on_portal(self, portal_id: str) -> list[Bot]:
        """Every key's bots on the portal."""
        return [b for b in self.bots.values() if b.portal_id == portal_id]

    def add_bot(self, *, owner_key: str, portal_id: str, code: str, name: str, **props: object) -> Bot:
        existing = next(
            (b for b in self.bots_of(owner_key=owner_key, portal_id=portal_id) if b.code == code), None
        )
        if existing is not None:
            raise StateError("BOT_ALREADY_EXISTS", f"A bot with code {code} is already registered")
        if len(self.bots_of(owner_key=owner_key, portal_id=portal_id)) >= MAX_BOTS_PER_APP_PER_PORTAL:
            raise StateError("BOT_LIMIT_REACHED", "At most 100 bots per app per portal")
        bot = Bot(
            id=next(self._user_ids),  # a bot is a portal user
            portal_id=portal_id,
            owner_key=owner_key,
            code=code,
            name=name,
            created_at=self.now(),
            **props,  # type: ignore[arg-type]
        )
        self.bots[bot.id] = bot
        self.revision += 1
        return bot

    def remove_bot(self, bot: Bot) -> None:
        """The owner unregistered it: gone at once, from every chat."""
        self.bots.pop(bot.id, None)
        for chat in self.chats.values():
            if bot.id in chat.member_ids:
                chat.member_ids.remove(bot.id)
            chat.manager_ids.discard(bot.id)
        bot.wake_long_polls()

    # --- chats ---------------------------------------------------------------------------------------
    def private_chat(self, *, user: User, bot: Bot) -> Chat:
        """The 1:1 dialog of a user and a bot, created on first use."""
        chat_id = self.private_chats.get((user.id, bot.id))
        if chat_id is not None:
            return self.chats[chat_id]
        chat = Chat(
            id=next(self._chat_ids),
            portal_id=bot.portal_id,
            type="private",
            owner_id=user.id,
            member_ids=[user.id, bot.id],
            created_at=self.now(),
        )
        self.chats[chat.id] = chat
        self.private_chats[(user.id, bot.id)] = chat.id
        return chat

    def create_group_chat(
        self, *, portal_id: str, owner_id: int, title: str, member_ids: Iterable[int], **fields: object
    ) -> Chat:
        members = [owner_id] + [m for m in member_ids if m != owner_id]
        chat = Chat(
            id=next(self._chat_ids),
            portal_id=portal_id,
            type="chat",
            title=title,
            owner_id=owner_id,
            member_ids=list(dict.fromkeys(members)),
            created_at=self.now(),
            **fields,  # type: ignore[arg-type]
        )
        self.chats[chat.id] = chat
        return chat

    def resolve_dialog(self, bot: Bot, dialog_id: str) -> Chat:
        """A dialogId as a bot uses it: "chatN" for a group, "<userId>" for its 1:1 dialog with that user."""
        dialog_id = str(dialog_id).strip()
        if dialog_id.startswith("chat") and is_decimal(dialog_id[4:]):
            chat = self.chats.get(int(dialog_id[4:]))
            if chat is None or chat.portal_id != bot.portal_id or chat.type == "private":
                raise StateError("CHAT_NOT_FOUND", f"No chat {dialog_id} on this portal")
            return chat
        if is_decimal(dialog_id):
            user = self.users.get(int(dialog_id))
            if user is None or user.portal_id != bot.portal_id:
                raise StateError("USER_NOT_FOUND", f"No user {dialog_id} on this portal")
            return self.private_chat(user=user, bot=bot)
        raise StateError("DIALOG_ID_INVALID", f"dialogId must be a user id or chatN, got {dialog_id!r}")

    def dialog_id_for(self, chat: Chat, *, bot: Bot) -> str:
        """How `bot` addresses `chat`: the other party's id in a 1:1 dialog, chatN in a group."""
        if chat.type == "private":
            return str(next(m for m in chat.member_ids if m != bot.id))
        return chat.group_dialog_id

    def bots_in(self, chat: Chat) -> list[Bot]:
        return [self.bots[m] for m in chat.member_ids if m in self.bots]

    # --- messages ------------------------------------------------------------------------------------
    def add_message(self, *, chat: Chat, author_id: int, text: str, **fields: object) -> Message:
        message = Message(
            id=next(self._message_ids),
            chat_id=chat.id,
            author_id=author_id,
            text=text,
            date=self.now(),
            uuid=str(uuid.uuid4()),
            **fields,  # type: ignore[arg-type]
        )
        self.messages[message.id] = message
        chat.last_message_id = message.id
        return message

    def find_templated(self, chat: Chat, *, author_id: int, template_id: str | None) -> Message | None:
        """The message `author_id` already posted in `chat` under `template_id` (imbot.v2's uuidMap); never
        one under the `no-template-dedupe` dialect, where a repeat posts again."""
        if not template_id or self.speaks("no-template-dedupe"):
            return None
        return next(
            (
                m
                for m in self.messages.values()
                if m.chat_id == chat.id and m.author_id == author_id and m.template_id == template_id
            ),
            None,
        )

    def chat_messages(self, chat: Chat, *, include_deleted: bool = False) -> list[Message]:
        return [
            m for m in self.messages.values() if m.chat_id == chat.id and (include_deleted or not m.deleted)
        ]

    def new_command_id(self) -> int:
        return next(self._command_ids)

    def add_file(self, *, chat: Chat, name: str, content: bytes) -> StoredFile:
        stored = StoredFile(
            id=next(self._file_ids),
            chat_id=chat.id,
            portal_id=chat.portal_id,
            name=name,
            content=content,
            message_id=None,
            download_token=secrets.token_urlsafe(24),
        )
        self.files[stored.id] = stored
        return stored
