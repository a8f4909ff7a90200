"""The skill API: what a skill declares (events, filters, commands, options, schedules) and its context.

A skill is a stateless class; one instance serves every portal. It declares as class data what it
handles, and routing (botcore/skills/routing.py) reads those declarations:

    class DiceSkill(Skill):
        name = "dice"
        event_types = frozenset({EventType.MESSAGE_ADD, EventType.COMMAND_ADD})
        message_filter = MessageFilter(pattern=r"^roll\\b", chats=ChatScope.PRIVATE)
        commands = (CommandSpec("roll", title={"en": "Roll", "ru": "Бросок"}),)
        options_schema = OptionsSchema(sides=Integer(default=6, min=2, max=100))

        def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
            ctx.reply(str(random.randint(1, ctx.options["sides"])))

docs/skills.md is the guide; botcore.skills.testing runs a skill without network or database.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from botcore.skills.events import AnyEventType, SkillEvent
from botcore.skills.options import OptionsSchema
from botcore.skills.state import DialogState
from botcore.vibe import MAX_DOWNLOAD_BYTES
from botcore.vibe.attach import Attach
from botcore.vibe.events import EventChat, EventUser, MessageAddEvent, MessageUpdateEvent
from botcore.vibe.keyboards import Keyboard
from botcore.vibe.models import Chat, PortalUser, UploadedFile

if TYPE_CHECKING:
    from botcore.vibe.client import VibeClient

COMMAND_SOURCES = frozenset({"textarea", "keyboard", "menu"})


def command_key(name: str) -> str:
    """A command's name as the platform and routing compare names: without the slash, in lower case. The
    platform takes /Standup and /standup for one command, and a user may type either; registration,
    routing, /help and the skills card all read names through this one rule."""
    return name.lstrip("/").lower()


@dataclass(frozen=True)
class CommandSpec:
    """A slash command a skill owns; registered on the platform when the portal's bot is provisioned.

    `button_only`: a command only keyboard buttons send (Keyboard().button(..., command="vote")): hidden
    from the command list, and routed only when the event's context is "keyboard".
    """

    command: str  # without the leading "/"
    title: Mapping[str, str]  # language -> title, e.g. {"en": "Ping", "ru": "Пинг"}
    description: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # a hint for what follows the command
    common: bool = False  # usable in every chat of the portal, not only where the bot is a member
    button_only: bool = False

    def accepts(self, context: str) -> bool:
        return not self.button_only or context == "keyboard"

    @property
    def key(self) -> str:
        """The name as the platform and routing compare it (command_key)."""
        return command_key(self.command)


class ChatScope(StrEnum):
    ANY = "any"
    PRIVATE = "private"  # the bot's 1:1 dialogs (dialogId = the user's id)
    GROUP = "group"  # group chats (dialogId = "chatN")


@dataclass(frozen=True)
class MessageFilter:
    """Which user messages (MESSAGE_ADD, MESSAGE_UPDATE) a skill takes; the bot's own and system
    messages never reach a skill, and other bots' only with `include_bots`."""

    pattern: str | None = None  # re.search, case-insensitive, on the text as said to the bot (text_to_bot)
    chats: ChatScope = ChatScope.ANY
    include_bots: bool = False

    def __post_init__(self) -> None:
        if self.pattern is not None:
            re.compile(self.pattern)  # a bad pattern fails at class definition, not at the first message

    def matches(self, event: MessageAddEvent | MessageUpdateEvent) -> bool:
        if event.is_from_bot and not self.include_bots:
            return False
        is_private = not event.dialog_id.startswith("chat")
        if (self.chats is ChatScope.PRIVATE and not is_private) or (
            self.chats is ChatScope.GROUP and is_private
        ):
            return False
        if self.pattern is None:
            return True
        return re.search(self.pattern, event.text_to_bot, re.IGNORECASE) is not None


@dataclass(frozen=True)
class ScheduleSpec:
    """A recurring run of the skill on each portal where it is enabled, on the portal's clock.

    `late_after_change`: when the portal's admin changes the skill's options or the portal's time zone so
    that today's firing moves to a time already past, it still fires once, at once (a standup's summary moved
    to 11:00 at noon, after the question went out, was never posted that day). Only for a run whose handler
    tells for itself whether it is still wanted: an unchanged firing that already ran is not run again, but
    a time moved from 08:00 to 07:00 at noon fires the 07:00 one too."""

    name: str  # stable: it keys the runs already made
    cron: str  # five fields, e.g. "30 9 * * 1-5" (botcore/skills/cron.py)
    late_after_change: bool = False


class SkillContext(Protocol):
    """What a skill can do while handling one event; bound to that event's portal, bot and chat.

    Posts carry templateIds derived from the event (or run) and their order, so handling the same event
    again never posts twice; file uploads and chat creation are remembered in the database for the same
    reason. Every method raises the VibeError family on a platform refusal.
    """

    portal_member_id: str
    options: Mapping[str, Any]  # this portal's options for this skill, validated, with defaults
    language: str  # "en", "ru", …: the event's user's language, else the portal's
    portal_language: str  # the portal's (PortalSettings): for a message many people read, a group's poll
    timezone: str  # the portal's time zone name (PortalSettings.timezone)
    event: SkillEvent
    enabled_skills: Sequence[Skill]  # the portal's enabled skills in routing order (for help)

    @property
    def dialog_id(self) -> str:
        """Where the event happened: "42" = the 1:1 dialog with user 42, "chat7" a group; else TypeError."""

    @property
    def sender(self) -> EventUser | None: ...

    @property
    def chat(self) -> EventChat | None: ...

    @property
    def state(self) -> DialogState:
        """Conversation state of this skill in the event's dialog, kept in the database."""

    @property
    def client(self) -> VibeClient | None:
        """The platform client itself, for a call the context has no method for (each takes `bot_id`):
        `ctx.client.mark_read(ctx.bot_id, dialog_id=ctx.dialog_id)`. None where the bot cannot reach the
        platform (an uninstall; the test kit without `client=`; bot_shell offline). Refused inside a state
        block, as the context's own calls are. Its posts, command answers, new chats and uploads are made once
        per handling, as the context's own are (docs/skills.md 6); its other calls are sent again when the
        handling runs again."""

    @property
    def bot_id(self) -> int | None:
        """The platform's id of the bot the context's own calls act as: the one to pass to `client`."""

    def state_for(self, dialog_id: str) -> DialogState:
        """Conversation state of this skill in another dialog of the same portal."""

    def on_our_clock(self, platform_time: datetime) -> datetime:
        """A time the platform stamped (an event's or a message's date) on the backend's clock, the one
        timezone.now() and the schedules read: the portal's clock may run minutes ahead of ours or behind,
        estimated from the bot's recent events (their dates against when they were received)."""

    def reply(
        self,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        attach: Attach | None = None,
        system: bool = False,
        reply_to: int | None = None,
    ) -> int:
        """Post in the event's chat; returns the new message id."""

    def send(
        self,
        dialog_id: str,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        attach: Attach | None = None,
        system: bool = False,
    ) -> int:
        """Post in another dialog of the portal (a user's id for their 1:1 dialog, or "chatN")."""

    def answer_command(
        self, text: str, *, keyboard: Keyboard | None = None, attach: Attach | None = None
    ) -> int:
        """Answer the command the event carries, in its chat."""

    def typing(self, status: str | None = None, *, duration: int | None = None) -> None:
        """Show the typing indicator (or an IMBOT_AGENT_ACTION_* status) in the event's chat; best effort:
        left out when the request budget has no room for it now (after the reply it would say nothing)."""

    def react(self, reaction: str, *, message_id: int | None = None) -> bool:
        """Put a reaction on the event's message (or `message_id`), best effort: True when it is on the
        message (set now, before, or by an earlier attempt at this event) or on its way (the request budget
        had no room now: it goes once the replies are out, docs/skills.md), False when it could not be set."""

    def unreact(self, reaction: str, *, message_id: int | None = None) -> bool: ...

    def edit(
        self,
        message_id: int,
        *,
        text: str | None = None,
        keyboard: Keyboard | bool | None = None,
        attach: Attach | bool | None = None,
    ) -> None:
        """Edit a message the bot sent; keyboard=False / attach=False remove them."""

    def delete(self, message_id: int) -> None: ...

    def upload_file(
        self, name: str, content: bytes, *, message: str | None = None, dialog_id: str | None = None
    ) -> UploadedFile: ...

    def download_file(self, file_id: int, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes: ...

    def get_chat(self, dialog_id: str | None = None) -> Chat: ...

    def list_chat_users(self, dialog_id: str | None = None) -> list[PortalUser]: ...

    def list_portal_users(self) -> list[PortalUser]:
        """The portal's people as its directory lists them (GET /v1/users, scope `user`): unlike a chat's
        members, each with their own language."""
        ...

    def create_chat(
        self,
        title: str,
        *,
        user_ids: Sequence[int],
        description: str | None = None,
        message: str | None = None,
    ) -> Chat: ...

    def add_chat_users(self, user_ids: Sequence[int], *, dialog_id: str | None = None) -> None: ...

    def remove_chat_user(self, user_id: int, *, dialog_id: str | None = None) -> None: ...

    def update_chat(
        self, *, dialog_id: str | None = None, title: str | None = None, description: str | None = None
    ) -> None: ...

    def leave_chat(self, dialog_id: str | None = None) -> None: ...

    def set_text_field(self, enabled: bool, *, dialog_id: str | None = None) -> None: ...

    def idempotency_key(self, call: str) -> str:
        """The key to send with an outside call that makes something (`call`: what it makes, "tickets:file"),
        the same on every attempt of the deferred job or scheduled run under way and on no other; TypeError
        while a platform event is handled (docs/skills.md §17.1)."""
        ...

    def defer(self, job: str, **data: Any) -> None:
        """Hand slow work to a task queue worker: handle() is called later with DeferredJobEvent(job, data),
        bound to this event's chat. `data` must be JSON. Deferring again on a re-handled event does
        nothing."""

    def defer_at(self, when: datetime, job: str, /, **data: Any) -> None:
        """As defer, but not before `when` (an aware datetime; run by the minute sweep, so up to a minute
        late, and late by the outage if the cluster was down): a reminder, a follow-up, a timeout."""


class Skill(abc.ABC):
    """One unit of bot behaviour; a single instance serves every portal, so it keeps no state of its own."""

    name: ClassVar[str]  # stable key stored in SkillConfig rows
    event_types: ClassVar[frozenset[AnyEventType]]
    commands: ClassVar[tuple[CommandSpec, ...]] = ()
    message_filter: ClassVar[MessageFilter] = MessageFilter()
    options_schema: ClassVar[OptionsSchema] = OptionsSchema()
    schedules: ClassVar[tuple[ScheduleSpec, ...]] = ()
    title: ClassVar[Mapping[str, str]] = {}  # the skill's name for people, per language
    summary: ClassVar[Mapping[str, str]] = {}  # one line on what it does, per language
    enabled_by_default: ClassVar[bool] = True  # on for a portal until its admin turns it off

    def wants(self, event: SkillEvent, ctx: SkillContext) -> bool:
        """A finer filter after the declarations; routing tries the next skill when this is False.

        It may read `ctx` (options, state) but must not act: no posts here.
        """
        return True

    @abc.abstractmethod
    def handle(self, event: SkillEvent, ctx: SkillContext) -> None: ...

    def check_options(self, values: Mapping[str, Any]) -> None:  # noqa: B027 (optional: no checks by default)
        """Checks across fields, after each field passed; raise OptionsError({"field": "why"})."""

    def schedules_for(self, options: Mapping[str, Any]) -> Sequence[ScheduleSpec]:
        """This portal's schedules; override when they follow the options (a time the admin sets)."""
        return self.schedules

    @classmethod
    def has_schedules(cls) -> bool:
        """Whether the minute sweep fires this skill: it declares `schedules` or overrides `schedules_for`."""
        return bool(cls.schedules) or cls.schedules_for is not Skill.schedules_for

    def command_spec(self, name: str) -> CommandSpec | None:
        wanted = command_key(name)
        return next((spec for spec in self.commands if spec.key == wanted), None)

    def owns_command(self, name: str) -> bool:
        return self.command_spec(name) is not None
