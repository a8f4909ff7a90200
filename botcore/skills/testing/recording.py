"""RecordingContext: a SkillContext that records what the skill did, with no network and no database.

    ctx = RecordingContext(skill=EchoSkill())
    EchoSkill().handle(make_message_event("ping"), ctx)
    assert ctx.replies == ["John, you wrote: [I]ping[/I]"]
    assert ctx.reactions == ["like"] and ctx.typing_statuses == ["IMBOT_AGENT_ACTION_THINKING"]

State lives in memory (MemoryStateStore) unless the test passes a DatabaseStateStore; chat members, the
portal's people, chats and files the skill will ask for are given up front (`chat_users=`, `portal_users=`,
`files=`). Everything done is also in `ctx.actions`, in order, and goes to `on_action` as it happens
(bot_shell prints it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botcore.skills.actions import as_made_once, post_as_made
from botcore.skills.base import Skill
from botcore.skills.event_facts import EventFacts
from botcore.skills.events import DeferredJobEvent, SkillEvent
from botcore.skills.handling_keys import post_key_for, template_id_of
from botcore.skills.i18n import normalize_language
from botcore.skills.options import OptionsError
from botcore.skills.registry import check_skill_declaration
from botcore.skills.state import (
    BlockGuardedClient,
    MemoryStateStore,
    StateStore,
    refuse_platform_call_in_block,
)
from botcore.skills.testing.factories import BOT_ID, new_message_id
from botcore.skills.values import check_message, check_message_id
from botcore.vibe import MAX_DOWNLOAD_BYTES, check_upload_content
from botcore.vibe.errors import VibeFileTooLargeError
from botcore.vibe.events import CommandAddEvent
from botcore.vibe.models import Chat, PortalUser, SentMessage, UploadedFile

# The skill's call behind each kind of recorded action whose name is not the call's own (for refusals).
_CALLS = {
    "post": "ctx.reply() or ctx.send()",
    "answer": "ctx.answer_command()",
    "upload": "ctx.upload_file()",
    "download": "ctx.download_file()",
    "text_field": "ctx.set_text_field()",
}


@dataclass(frozen=True)
class Action:
    """One thing the skill did: kind ("post", "answer", "typing", "react", …) and its details."""

    kind: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Post:
    dialog_id: str
    text: str
    message_id: int
    keyboard: list[dict[str, Any]] | None = None
    attach: Any = None
    system: bool = False
    reply_to: int | None = None


def _wire(value: Any) -> Any:
    return value.to_wire() if hasattr(value, "to_wire") else value


class _KitClient(BlockGuardedClient):
    """`ctx.client` in the kit: the test's stand-in, used as live uses the platform client
    (OnceOnlyClient): refused inside a state block; a post or command answer carries the handling's
    next templateId (numbered with the context's own posts and actions; one the skill names is its key
    instead) and is one of the context's (ctx.posts, ctx.answers); what the four calls that make something
    give back is shaped as live gives it (post_as_made: a post's SentMessage holds only its id;
    as_made_once: a chat only its id, dialog_id and title), so a skill reading a field live never gives it
    fails here too."""

    def __init__(self, client: Any, context: RecordingContext) -> None:
        super().__init__(client, context.state_store)
        self._context = context

    def send_message(
        self, bot_id: int, *, dialog_id: str | int, template_id: str | None = None, **message: Any
    ) -> SentMessage:
        refuse_platform_call_in_block(self._store, "ctx.client.send_message()")
        key = template_id or self._context._next_template_id()
        made = self._client.send_message(bot_id, dialog_id=dialog_id, template_id=key, **message)
        return self._context._client_post("post", str(dialog_id), message, made)

    def answer_command(
        self,
        bot_id: int,
        command_id: int,
        *,
        dialog_id: str | int | None = None,
        template_id: str | None = None,
        **answer: Any,
    ) -> SentMessage:
        refuse_platform_call_in_block(self._store, "ctx.client.answer_command()")
        key = template_id or self._context._next_template_id()
        made = self._client.answer_command(bot_id, command_id, dialog_id=dialog_id, template_id=key, **answer)
        target = str(dialog_id) if dialog_id is not None else self._context.dialog_id
        return self._context._client_post("answer", target, answer, made)

    def create_chat(self, *args: Any, **kwargs: Any) -> Any:
        refuse_platform_call_in_block(self._store, "ctx.client.create_chat()")
        self._context._next_template_id()  # live, each is one of the handling's actions, keyed in order
        return as_made_once(self._client.create_chat(*args, **kwargs))

    def upload_file(self, bot_id: int, *, content: bytes, **fields: Any) -> Any:
        refuse_platform_call_in_block(self._store, "ctx.client.upload_file()")
        check_upload_content(content)  # as the live client refuses it, before the stand-in is called
        self._context._next_template_id()
        return as_made_once(self._client.upload_file(bot_id, content=content, **fields))


class RecordingContext(EventFacts):
    def __init__(
        self,
        *,
        skill: Skill | None = None,
        event: SkillEvent | None = None,
        options: Mapping[str, Any] | None = None,
        language: str | None = None,
        portal_language: str = "en",
        timezone: str = "UTC",
        portal_member_id: str = "test-portal",
        enabled_skills: Sequence[Skill] = (),
        state: Mapping[str, Mapping[str, Any]] | None = None,
        state_store: StateStore | None = None,
        chat_users: Mapping[str, Sequence[PortalUser]] | None = None,
        portal_users: Sequence[PortalUser] | None = None,
        files: Mapping[int, bytes] | None = None,
        on_action: Callable[[Action], None] | None = None,
        platform_clock_lead: timedelta = timedelta(0),
        client: Any = None,
    ) -> None:
        """`options`: validated against the skill's schema over its defaults, and across fields (a bad one
        raises OptionsError naming the skill, as saving would); without them, the defaults, checked so too: a
        required option with no default refuses the skill, as enabling it on a portal would. `state`: initial
        states by dialog id. `platform_clock_lead`: how far the platform's clock runs ahead of ours (negative:
        behind), as ctx.on_our_clock reads it.
        `client`: what `ctx.client` gives a skill that calls the platform client itself (a stand-in of the
        test's), refused inside a state block as live, its posts', chats' and uploads' results shaped as live
        (_KitClient); None without one."""
        self._platform_clock_lead = platform_clock_lead
        for declared in {type(each) for each in (skill, *enabled_skills) if each is not None}:
            # The boot's own check (botcore.E003): a declaration the deployment refuses fails the test too,
            # as does a list of enabled skills holding one (the boot refuses the whole list).
            check_skill_declaration(declared)
        self.skill = skill
        self.event = event
        if skill is not None:
            schema = skill.options_schema
            try:
                # As enabling the skill live does (validate_options): a required option left empty refuses it.
                self.options = schema.validate({**schema.defaults(), **(options or {})})
                skill.check_options(self.options)
            except OptionsError as refused:
                raise OptionsError(refused.errors, skill_name=skill.name) from None
        else:
            self.options = dict(options or {})
        self._language = language
        self.portal_language = normalize_language(portal_language) or "en"
        self.timezone = timezone
        self.portal_member_id = portal_member_id
        self.enabled_skills = tuple(enabled_skills) or ((skill,) if skill is not None else ())
        self.state_store = state_store or MemoryStateStore({k: dict(v) for k, v in (state or {}).items()})
        self.client = None if client is None else _KitClient(client, self)
        self._made = 0  # the handling's posts and actions so far, numbered as live numbers their templateIds
        self.chat_users = {str(k): list(v) for k, v in (chat_users or {}).items()}
        self.portal_users = list(portal_users or [])
        self.files = dict(files or {})
        self.on_action = on_action
        self.actions: list[Action] = []
        self.posts: list[Post] = []
        self.deferred: list[DeferredJobEvent] = []

    def platform_clock_lead(self) -> timedelta:
        return self._platform_clock_lead

    @property
    def bot_id(self) -> int:
        """The event's bot (a deferred job's: its origin's), as live; the factories' BOT_ID without one."""
        bot = getattr(self.origin, "bot", None)
        return bot.id if bot is not None and bot.id else BOT_ID

    # --- what the assertions read -----------------------------------------------------------------
    @property
    def replies(self) -> list[str]:
        """Texts posted in the event's chat (reply) or anywhere (send), in order."""
        return [post.text for post in self.posts]

    def posts_to(self, dialog_id: str) -> list[Post]:
        return [post for post in self.posts if post.dialog_id == str(dialog_id)]

    def _of(self, kind: str, key: str) -> list[Any]:
        return [action.details[key] for action in self.actions if action.kind == kind]

    @property
    def answers(self) -> list[str]:
        return self._of("answer", "text")

    @property
    def typing_statuses(self) -> list[str | None]:
        return self._of("typing", "status")

    @property
    def reactions(self) -> list[str]:
        return self._of("react", "reaction")

    @property
    def edits(self) -> list[Mapping[str, Any]]:
        return [a.details for a in self.actions if a.kind == "edit"]

    @property
    def deletions(self) -> list[int]:
        return self._of("delete", "message_id")

    def state_of(self, dialog_id: str) -> dict[str, Any]:
        return self.state_store.load(str(dialog_id))[0]

    def _post_key(self) -> str:
        """The handling's key as live derives it (context.post_key_for): its posts' and its defers' base."""
        if self.event is None:
            return f"{self.bot_id}:kit"
        skill_name = self.skill.name if self.skill is not None else ""
        return post_key_for(vibe_bot_id=self.bot_id, event=self.event, skill_name=skill_name)

    def _next_template_id(self) -> str:
        """The templateId live gives the handling's next post or action (handling_keys.template_id_of)."""
        self._made += 1
        return template_id_of(self._post_key(), self._made)

    def _client_post(self, kind: str, dialog_id: str, message: Mapping[str, Any], made: Any) -> SentMessage:
        """A post (`kind` "post") or command answer ("answer") the skill made through ctx.client, recorded as
        the context's own; given back as live gives it (post_as_made), its id the stand-in's answer's if it
        has one."""
        made_id = getattr(made, "id", None)
        message_id = made_id if isinstance(made_id, int) else new_message_id()
        text, keyboard, attach = str(message.get("text", "")), message.get("keyboard"), message.get("attach")
        if kind == "answer":
            self._record("answer", text=text, keyboard=_wire(keyboard), attach=_wire(attach),
                         message_id=message_id, command=None)  # fmt: skip
            return post_as_made(message_id)
        system, reply_to = bool(message.get("system")), message.get("reply_id")
        return post_as_made(
            self._keep_post(
                Post(dialog_id, text, message_id, _wire(keyboard), _wire(attach), system, reply_to)
            )
        )

    def _keep_post(self, post: Post) -> int:
        """`post` as one of the handling's (ctx.posts) and its recorded action; its message id."""
        self.posts.append(post)
        self._record(
            "post",
            dialog_id=post.dialog_id,
            text=post.text,
            message_id=post.message_id,
            keyboard=post.keyboard,
            attach=post.attach,
            system=post.system,
        )
        return post.message_id

    def _record(self, kind: str, **details: Any) -> None:
        if kind != "defer":  # a deferred job is a database write: it commits with the block, as live
            refuse_platform_call_in_block(self.state_store, _CALLS.get(kind, f"ctx.{kind}()"))
        action = Action(kind, details)
        self.actions.append(action)
        if self.on_action is not None:
            self.on_action(action)

    # --- the SkillContext surface -----------------------------------------------------------------
    @property
    def language(self) -> str:
        if self._language is not None:
            return normalize_language(self._language) or "en"
        return (
            normalize_language(getattr(self.origin, "language", "") or getattr(self.event, "language", ""))
            or self.portal_language
        )

    def _post(
        self, dialog_id: str, text: str, *, keyboard=None, attach=None, system=False, reply_to=None
    ) -> int:
        check_message(text, keyboard=keyboard, attach=attach)  # as the live context does
        self._check_keyboard(keyboard)
        self._next_template_id()
        return self._keep_post(
            Post(str(dialog_id), text, new_message_id(), _wire(keyboard), _wire(attach), system, reply_to)
        )

    def reply(
        self, text: str, *, keyboard=None, attach=None, system: bool = False, reply_to: int | None = None
    ) -> int:
        return self._post(
            self.dialog_id, text, keyboard=keyboard, attach=attach, system=system, reply_to=reply_to
        )

    def send(self, dialog_id: str, text: str, *, keyboard=None, attach=None, system: bool = False) -> int:
        return self._post(dialog_id, text, keyboard=keyboard, attach=attach, system=system)

    def answer_command(self, text: str, *, keyboard=None, attach=None) -> int:
        if not isinstance(self.origin, CommandAddEvent):
            raise TypeError("answer_command needs a command event")
        check_message(text, keyboard=keyboard, attach=attach)
        self._check_keyboard(keyboard)
        self._next_template_id()
        message_id = new_message_id()
        self._record(
            "answer",
            text=text,
            keyboard=_wire(keyboard),
            attach=_wire(attach),
            message_id=message_id,
            command=self.origin.command.name,
        )
        # The message has an id (recorded, for presses of its keyboard), but the platform's answer as the
        # contract reads it, {result: true}, does not say it: the live skill gets 0 (the sandbox's
        # answer-message-id dialect gives it). A skill that edits what it posted must post it with reply
        # (docs/skills.md 4).
        return 0

    def typing(self, status: str | None = None, *, duration: int | None = None) -> None:
        self._record("typing", status=status, dialog_id=self.dialog_id, duration=duration)

    def react(self, reaction: str, *, message_id: int | None = None) -> bool:
        target = self._reaction_message_id(message_id)
        if target is None:  # the live context asks nothing and answers False (EventFacts)
            return False
        self._record("react", reaction=reaction, message_id=target)
        return True

    def unreact(self, reaction: str, *, message_id: int | None = None) -> bool:
        target = self._reaction_message_id(message_id)
        if target is None:
            return False
        self._record("unreact", reaction=reaction, message_id=target)
        return True

    def edit(self, message_id: int, *, text=None, keyboard=None, attach=None) -> None:
        message_id = check_message_id(message_id)
        if text is not None:
            check_message(text, edit=True)
        self._check_keyboard(keyboard)
        self._record("edit", message_id=message_id, text=text, keyboard=_wire(keyboard), attach=_wire(attach))

    def delete(self, message_id: int) -> None:
        self._record("delete", message_id=check_message_id(message_id))

    def upload_file(
        self, name: str, content: bytes, *, message: str | None = None, dialog_id: str | None = None
    ) -> UploadedFile:
        check_upload_content(content)  # as the live client refuses it, before anything is recorded
        target = str(dialog_id) if dialog_id is not None else self.dialog_id
        self._next_template_id()
        file_id, message_id = new_message_id(), new_message_id()
        self.files[file_id] = bytes(content)
        self._record(
            "upload", name=name, size=len(content), dialog_id=target, message=message, file_id=file_id
        )
        return UploadedFile(
            id=file_id, name=name, size=len(content), chat_id=0, message_id=message_id, dialog_id=target
        )

    def download_file(self, file_id: int, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        self._record("download", file_id=int(file_id))
        if int(file_id) not in self.files:
            raise KeyError(f"RecordingContext has no file {file_id}: pass files={{{file_id}: b'…'}}")
        content = self.files[int(file_id)]
        if len(content) > max_bytes:  # as the platform's answer tells the size
            raise VibeFileTooLargeError(file_id=int(file_id), limit=max_bytes, size=len(content))
        return content

    def get_chat(self, dialog_id: str | None = None) -> Chat:
        refuse_platform_call_in_block(self.state_store, "ctx.get_chat()")
        target = str(dialog_id) if dialog_id is not None else self.dialog_id
        members = self.chat_users.get(target, [])
        chat_id = int(target[4:]) if target.startswith("chat") and target[4:].isdigit() else 0
        return Chat(id=chat_id, dialog_id=target, user_count=len(members))

    def list_chat_users(self, dialog_id: str | None = None) -> list[PortalUser]:
        target = str(dialog_id) if dialog_id is not None else self.dialog_id
        self._record("list_chat_users", dialog_id=target)
        return list(self.chat_users.get(target, []))

    def list_portal_users(self) -> list[PortalUser]:
        self._record("list_portal_users")
        return list(self.portal_users)

    def create_chat(
        self,
        title: str,
        *,
        user_ids: Sequence[int],
        description: str | None = None,
        message: str | None = None,
    ) -> Chat:
        self._next_template_id()
        chat_id = new_message_id()
        self.chat_users[f"chat{chat_id}"] = [PortalUser(id=int(i)) for i in user_ids]
        self._record("create_chat", title=title, user_ids=list(user_ids), dialog_id=f"chat{chat_id}")
        return Chat(id=chat_id, dialog_id=f"chat{chat_id}", title=title)

    def add_chat_users(self, user_ids: Sequence[int], *, dialog_id: str | None = None) -> None:
        self._record("add_chat_users", user_ids=list(user_ids), dialog_id=dialog_id or self.dialog_id)

    def remove_chat_user(self, user_id: int, *, dialog_id: str | None = None) -> None:
        self._record("remove_chat_user", user_id=int(user_id), dialog_id=dialog_id or self.dialog_id)

    def update_chat(
        self, *, dialog_id: str | None = None, title: str | None = None, description: str | None = None
    ) -> None:
        self._record(
            "update_chat", dialog_id=dialog_id or self.dialog_id, title=title, description=description
        )

    def leave_chat(self, dialog_id: str | None = None) -> None:
        self._record("leave_chat", dialog_id=dialog_id or self.dialog_id)

    def set_text_field(self, enabled: bool, *, dialog_id: str | None = None) -> None:
        self._record("text_field", enabled=enabled, dialog_id=dialog_id or self.dialog_id)

    def _defer(self, job: str, data: dict[str, Any], *, due_at: datetime | None) -> None:
        """`deferred` holds every job, due or not: run_deferred runs them as if their time had come."""
        origin = self.origin
        deferred = DeferredJobEvent(
            portal_member_id=self.portal_member_id,
            # Keyed as live keys it (one per event and defer), so a job's idempotency key differs per press.
            run_key=f"defer:{self._post_key()}:{len(self.deferred) + 1}",
            language=self.language,
            job=job,
            data=dict(data),
            origin=origin,
        )
        self.deferred.append(deferred)
        self._record("defer", job=job, data=dict(data), due_at=due_at.isoformat() if due_at else None)
