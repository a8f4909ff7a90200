"""VibeSkillContext: a skill's actions bound to one event's portal, bot and chat, sent through the client.

An event may be handled more than once (a worker killed mid-skill, a passing outage retried), so every
effect of a handling is keyed by the bot, the event (or the backend run) and the effect's place in the
handling, and remembered in the ActionLedger once made: a handling that runs again replays what its earlier
attempt did instead of doing it twice. Posts also carry the key as their templateId (a platform that
de-duplicates answers a repeat with the message it has); a post whose send failed after the platform may
have taken it is sent again only where that cannot show it twice (_post_once). Dialog-state writes
commit with their ledger record.
Typing and reactions are best effort: their failure is logged and never fails the event. One the request
budget has no room for now is not sent then: a reaction is held by the client and sent after the replies
(botcore.vibe.held_calls; recorded in the ledger when held, so a handling run again never sends it twice),
a typing indicator is left out.
`effects` lists, in order, each effect of this handling as (kind, performed): False when it was replayed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from botcore.skills.actions import ChatActions, both_sending, post_as_made
from botcore.skills.base import Skill
from botcore.skills.events import BackendEvent, DeferredJobEvent, SkillEvent
from botcore.skills.i18n import FALLBACK_LANGUAGE, normalize_language
from botcore.skills.ledger import ActionLedger
from botcore.skills.options import SkillOptions
from botcore.skills.signals import tell_write_in_doubt
from botcore.skills.state import (
    BlockGuardedClient,
    DialogState,
    OnceStateStore,
    StateStore,
    refuse_platform_call_in_block,
)
from botcore.skills.values import check_due, check_json, check_keyboard, check_message, check_message_id
from botcore.vibe import VibeClient, template_ids
from botcore.vibe.attach import Attach
from botcore.vibe.chat_marks import never_arrived_at_once, newest_on_platform, shows_never_arrived
from botcore.vibe.errors import VibeError
from botcore.vibe.events import BotEvent, ChatEvent, CommandAddEvent, EventChat, EventUser
from botcore.vibe.keyboards import Keyboard
from botcore.vibe.models import Chat, SentMessage, UploadedFile

log = logging.getLogger(__name__)

_TEMPLATE_NAMESPACE = uuid.UUID("5d0c2a36-0f6b-4d0e-9a57-3b8f2f6b1e01")


class Deferrer(Protocol):
    """Enqueue a deferred job once per key, now or (due_at) when it is due."""

    def __call__(
        self,
        skill_name: str,
        job: str,
        data: dict[str, Any],
        key: str,
        origin: Mapping[str, Any] | None,
        *,
        due_at: datetime | None = None,
    ) -> None: ...


class PlatformUnavailableError(RuntimeError):
    """The context has no platform access (the portal is uninstalled): only state and options can be used."""


@dataclass(frozen=True)
class PortalInfo:
    member_id: str
    portal_id: int | None
    language: str = FALLBACK_LANGUAGE
    timezone: str = "UTC"


def origin_event(event: SkillEvent) -> BotEvent | None:
    """The platform event a context is about: the event itself, or what a deferred job was deferred from."""
    if isinstance(event, DeferredJobEvent):
        return event.origin
    return None if isinstance(event, BackendEvent) else event


def post_key_for(
    *, vibe_bot_id: int | None, event: SkillEvent, skill_name: str, came_to: int | None = None
) -> str:
    """The base of a handling's templateIds: the platform event's id, or the backend run's key. `came_to`:
    the platform bot the event was polled from (its log entry's), where the event may not name it."""
    if isinstance(event, BackendEvent):
        return f"{vibe_bot_id}:run:{skill_name}:{event.run_key}"
    # Event ids are unique per platform bot: an event drained from a bot's previous platform bot is keyed
    # by the bot it came to, so it never meets a new bot's event of the same id in the ledger, and keeps
    # its keys once the bot has moved (keyed by the bot's platform bot of the moment, a leftover event of a
    # platform whose events name no bot was keyed anew after a move, and its effects made again).
    origin_bot = event.bot.id if event.bot is not None and event.bot.id else (came_to or vibe_bot_id)
    return f"{origin_bot}:{event.event_id}"  # unchanged since the first release: old templateIds stay valid


def template_id_of(post_key: str, number: int) -> str:
    """The templateId of a handling's `number`th post or action (1 first), `post_key` its post_key_for: the
    same for the same post of the same event, however often the event is handled, live and in the kit."""
    return str(uuid.uuid5(_TEMPLATE_NAMESPACE, f"{post_key}:{number}"))


class EventFacts:
    """What a context knows from its event alone; the live and the recording contexts share it."""

    event: SkillEvent | None
    state_store: StateStore
    skill: Skill | None
    enabled_skills: tuple[Skill, ...]

    @property
    def origin(self) -> BotEvent | None:
        return origin_event(self.event) if self.event is not None else None

    @property
    def options(self) -> Mapping[str, Any]:
        """This portal's options for the skill; one it does not declare raises MissingOptionError (a
        KeyError naming the skill, the option and the skill's options)."""
        return self._options

    @options.setter
    def options(self, values: Mapping[str, Any]) -> None:
        skill: Skill | None = getattr(self, "skill", None)
        self._options = SkillOptions(
            values,
            skill_name=skill.name if skill is not None else "unnamed",
            declared=skill.options_schema.fields if skill is not None else values,
        )

    @property
    def dialog_id(self) -> str:
        origin = self.origin
        if not isinstance(origin, ChatEvent) or not origin.dialog_id:
            raise TypeError(
                f"{type(self.event).__name__} happened in no chat: there is nowhere to reply and no dialog "
                "for ctx.state (name one: send(dialog_id, text), state_for(dialog_id))"
            )
        return origin.dialog_id

    @property
    def sender(self) -> EventUser | None:
        return getattr(self.origin, "user", None)

    @property
    def chat(self) -> EventChat | None:
        return getattr(self.origin, "chat", None)

    @property
    def state(self) -> DialogState:
        return DialogState(self.state_store, self.dialog_id)

    def state_for(self, dialog_id: str) -> DialogState:
        return DialogState(self.state_store, str(dialog_id))

    def _message_id(self, message_id: int | None = None) -> int:
        """The message an action is about: the one given, else the event's own."""
        if message_id is not None:
            return int(message_id)
        message = getattr(self.origin, "message", None)
        if message is None:
            raise TypeError(f"{type(self.event).__name__} carries no message: pass message_id")
        return int(message.id)

    def _reaction_message_id(self, message_id: int | None) -> int | None:
        """The message a reaction is about, or None where the id names no message (check_message_id: 0 is
        what answer_command and a post left in doubt give). The platform refuses a reaction on it as it
        refuses an edit; react and unreact are best effort, so both contexts answer False for it, asking
        nothing, where an edit raises."""
        try:
            return check_message_id(self._message_id(message_id))
        except ValueError:
            return None

    def _check_keyboard(self, keyboard: object) -> None:
        """Refuse a button whose command no skill enabled here declares (values.check_keyboard); with none
        named, the skill's own commands are all there are."""
        skills = self.enabled_skills or ((self.skill,) if self.skill is not None else ())
        if skills:
            check_keyboard(keyboard, skills=skills)

    # --- time -----------------------------------------------------------------------------------
    def on_our_clock(self, platform_time: datetime) -> datetime:
        """`platform_time`, a time the platform stamped (an event's or a message's date), on the backend's
        clock, the one timezone.now() and the schedules read: the platform's clock may run minutes ahead of
        ours or behind (docs/skills.md §4)."""
        return platform_time - self.platform_clock_lead()

    def platform_clock_lead(self) -> timedelta:
        """How far the platform's clock runs ahead of ours (negative: behind)."""
        return timedelta(0)

    # --- handing work on: both contexts check the same, then _defer records or enqueues -------------
    def defer(self, job: str, **data: Any) -> None:
        check_json(data, what=f"ctx.defer({job!r}) data")
        self._defer(job, data, due_at=None)

    def defer_at(self, when: datetime, job: str, /, **data: Any) -> None:
        due_at = check_due(when)
        check_json(data, what=f"ctx.defer_at(…, {job!r}) data")
        self._defer(job, data, due_at=due_at)

    def _defer(self, job: str, data: dict[str, Any], *, due_at: datetime | None) -> None:
        raise NotImplementedError


class OnceOnlyClient(BlockGuardedClient):
    """What a skill reaches as `ctx.client`: the platform client, each call refused inside a state block
    (BlockGuardedClient), and the calls that make something (send_message, answer_command, create_chat,
    upload_file) made once per handling, as the context's own reply, send, create_chat and upload_file are:
    a skill that reaches for the client for a field the context has no argument for (urlPreview, forwardIds,
    a chat's colour) still gets a templateId, the ledger's record and a doubt written ahead, and a worker
    killed after the platform acted does not make it twice. Each is one of the handling's posts or actions,
    in order with the context's own. A templateId the skill names itself is the post's key instead."""

    def __init__(self, client: VibeClient, context: VibeSkillContext) -> None:
        super().__init__(client, context.state_store)
        self._context = context

    def send_message(
        self,
        bot_id: int,
        *,
        dialog_id: str | int,
        template_id: str | None = None,
        on_sending: Callable[[], None] | None = None,
        **message: Any,
    ) -> SentMessage:
        refuse_platform_call_in_block(self._store, "ctx.client.send_message()")
        return self._context._post_for_client(
            bot_id,
            str(dialog_id),
            "messages",
            lambda key, sending: self._client.send_message(
                bot_id, dialog_id=dialog_id, template_id=key, on_sending=sending, **message
            ),
            template_id=template_id,
            on_sending=on_sending,
        )

    def answer_command(
        self,
        bot_id: int,
        command_id: int,
        *,
        dialog_id: str | int | None = None,
        template_id: str | None = None,
        on_sending: Callable[[], None] | None = None,
        **answer: Any,
    ) -> SentMessage:
        refuse_platform_call_in_block(self._store, "ctx.client.answer_command()")
        return self._context._post_for_client(
            bot_id,
            str(dialog_id) if dialog_id is not None else self._context.dialog_id,
            "answers",
            lambda key, sending: self._client.answer_command(
                bot_id, command_id, dialog_id=dialog_id, template_id=key, on_sending=sending, **answer
            ),
            template_id=template_id,
            on_sending=on_sending,
        )

    def create_chat(self, bot_id: int, **chat: Any) -> Chat:
        refuse_platform_call_in_block(self._store, "ctx.client.create_chat()")
        return self._context._create_chat_once(self._client, bot_id, **chat)

    def upload_file(self, bot_id: int, *, dialog_id: str | int, **upload: Any) -> UploadedFile:
        refuse_platform_call_in_block(self._store, "ctx.client.upload_file()")
        return self._context._upload_file_once(self._client, bot_id, dialog_id=str(dialog_id), **upload)


class VibeSkillContext(EventFacts, ChatActions):
    def __init__(
        self,
        *,
        client: VibeClient | None,
        vibe_bot_id: int | None,
        portal: PortalInfo,
        skill: Skill,
        event: SkillEvent,
        options: Mapping[str, Any],
        state_store: StateStore,
        ledger: ActionLedger,
        deferrer: Deferrer | None = None,
        enabled_skills: Sequence[Skill] = (),
        clock_lead: Callable[[], timedelta] | None = None,
        newest_stored: Callable[..., int | None] | None = None,
        came_to: int | None = None,
    ) -> None:
        """`clock_lead`: estimates how far the platform's clock runs ahead of ours, asked once, when a
        skill first reads a platform time (on_our_clock). `newest_stored(dialog_id, above=id)`: the newest
        message known in a dialog (a person's the bot stored, a post of its own the ledger recorded), for
        judging a post's doubt (_post_once). `came_to`:
        the platform bot the event was polled from (post_key_for)."""
        self._newest_stored = newest_stored
        self._client = client
        self.vibe_bot_id = vibe_bot_id
        self.portal = portal
        self.portal_member_id = portal.member_id
        self.timezone = portal.timezone
        self.skill = skill
        self.event = event
        self.options = options
        self.enabled_skills = tuple(enabled_skills)
        self._ledger = ledger
        self._deferrer = deferrer
        origin = origin_event(event)
        language = normalize_language(getattr(origin, "language", "")) or normalize_language(
            getattr(event, "language", "")
        )
        self.portal_language = normalize_language(portal.language) or FALLBACK_LANGUAGE
        self.language = language or self.portal_language
        self._post_key = post_key_for(
            vibe_bot_id=vibe_bot_id, event=event, skill_name=skill.name, came_to=came_to
        )
        self.state_store = OnceStateStore(state_store, ledger=ledger, handling_key=self._post_key)
        # What a skill reaches as ctx.client: the same client, each call refused inside a state block, its
        # posts, chats and uploads made once per handling as the context's own (OnceOnlyClient).
        self._guarded_client = None if client is None else OnceOnlyClient(client, self)
        self._posts = 0
        self._reactions = 0
        self._defers = 0
        self._effects: list[tuple[str, bool]] = []
        # Posts an earlier attempt left in doubt that this platform would double, so not sent again (by
        # their place in the handling): the executor notes them on the event's log entry.
        self.posts_left_in_doubt: list[int] = []
        # The newest message this handling knows, by dialog; None once it posted there and learnt no id.
        self._newest_in: dict[str, int | None] = {}
        self._clock_lead = clock_lead
        self._known_clock_lead: timedelta | None = None

    def platform_clock_lead(self) -> timedelta:
        if self._known_clock_lead is None:
            self._known_clock_lead = self._clock_lead() if self._clock_lead is not None else timedelta(0)
        return self._known_clock_lead

    @property
    def effects(self) -> list[tuple[str, bool]]:
        """Each effect of this handling so far, in order: (kind, performed), False when replayed."""
        state_writes = self.state_store.writes
        replayed = self.state_store.replayed
        return self._effects + [("state", i >= replayed) for i in range(state_writes)]

    @property
    def client(self) -> VibeClient | None:
        """The platform client, for a call the context has no method for; None where the portal's bot cannot
        reach the platform now. Refused inside a state block like the context's own calls."""
        return cast("VibeClient | None", self._guarded_client)

    @property
    def bot_id(self) -> int | None:
        """The platform bot the context's own calls act as (not an old one a leftover event came from)."""
        return self.vibe_bot_id

    # --- plumbing ---------------------------------------------------------------------------------
    def _platform(self) -> tuple[VibeClient, int]:
        refuse_platform_call_in_block(self.state_store)
        if self._client is None or self.vibe_bot_id is None:
            raise PlatformUnavailableError(
                f"{type(self.event).__name__}: this portal's bot cannot reach the platform now"
            )
        return self._client, self.vibe_bot_id

    def _next_template_id(self) -> str:
        self._posts += 1
        return template_id_of(self._post_key, self._posts)

    # --- posting ----------------------------------------------------------------------------------
    def reply(
        self,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        attach: Attach | None = None,
        system: bool = False,
        reply_to: int | None = None,
    ) -> int:
        return self._post(
            self.dialog_id, text, keyboard=keyboard, attach=attach, system=system, reply_to=reply_to
        )

    def send(
        self,
        dialog_id: str,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        attach: Attach | None = None,
        system: bool = False,
    ) -> int:
        return self._post(
            str(dialog_id), text, keyboard=keyboard, attach=attach, system=system, reply_to=None
        )

    def _post(
        self, dialog_id: str, text: str, *, keyboard, attach, system: bool, reply_to: int | None
    ) -> int:
        check_message(text, keyboard=keyboard, attach=attach)
        self._check_keyboard(keyboard)
        client, bot_id = self._platform()
        return self._post_once(
            client,
            bot_id,
            dialog_id,
            "messages",
            lambda template_id, on_sending: client.send_message(
                bot_id,
                dialog_id=dialog_id,
                text=text,
                keyboard=keyboard,
                attach=attach,
                system=system or None,
                reply_id=reply_to,
                template_id=template_id,
                on_sending=on_sending,
            ),
        )

    def answer_command(
        self, text: str, *, keyboard: Keyboard | None = None, attach: Attach | None = None
    ) -> int:
        origin = self.origin
        if not isinstance(origin, CommandAddEvent):
            raise TypeError("answer_command needs a command event")
        check_message(text, keyboard=keyboard, attach=attach)
        self._check_keyboard(keyboard)
        client, bot_id = self._platform()
        return self._post_once(
            client,
            bot_id,
            self.dialog_id,
            "answers",
            lambda template_id, on_sending: client.answer_command(
                bot_id,
                origin.command.id,
                message_id=self._message_id(),
                dialog_id=self.dialog_id,
                text=text,
                keyboard=keyboard,
                attach=attach,
                template_id=template_id,
                on_sending=on_sending,
            ),
        )

    def _post_once(
        self,
        client: VibeClient,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        post: Callable[[str, Callable[[], None] | None], SentMessage],
        *,
        template_id: str | None = None,
    ) -> int:
        """Make this handling's next post, once however often the handling runs; its message id.
        `template_id`: the post's key where a skill named its own (ctx.client), else the handling's next.

        A post an earlier attempt made is replayed from the ledger. One whose send failed after it may have
        reached the platform is *in doubt*, unless the chat read at once shows it never arrived
        (_never_arrived): the ledger says so, with the newest message this handling knew in that chat, and
        the failure goes to the executor (the event is handled again later). The next attempt
        sends it again only where that cannot show it twice (_why_send_again); otherwise it is left alone,
        said in a WARNING and on the event's log entry, and 0 stands for its message id.

        Where a repeat would post again, the doubt is written ahead: recorded as the request leaves (the
        transport's on_sending, after the wait for the key's budget), and replaced by the message id once the
        platform answers, or taken back when the send surely did not happen. So a worker killed between the
        platform's answer and the record leaves a post in doubt, judged by the chat, not a post the next
        attempt makes again; killed before the request left, it leaves no record or one the chat, unchanged
        since, clears. Where the answers showed that a repeat posts again, the chat's last message is read
        there too and is the doubt's mark (_newest_as_it_leaves): a GET per post on such a platform only.
        """
        template_id = template_id or self._next_template_id()
        known = self._ledger.find(template_id)
        if known is not None and not known.get("in_doubt"):
            self._effects.append(("post", False))
            return self._seen(dialog_id, int(known["id"]))
        if known is not None:
            sent_again, why = self._why_send_again(client, bot_id, dialog_id, endpoint, known.get("after"))
            if not sent_again:
                log.warning(
                    "post %s of %s is in doubt (an earlier attempt failed after the platform may have taken "
                    "it) and is not sent again, since a repeat could show it twice: %s",
                    self._posts,
                    self._post_key,
                    why,
                )
                self._effects.append(("post", False))
                self.posts_left_in_doubt.append(self._posts)
                tell_write_in_doubt("post", "left")
                return 0
            log.info("post %s of %s was in doubt and is sent again: %s", self._posts, self._post_key, why)
        after = self._newest_known(dialog_id)
        deduplicates = template_ids.deduplicates(client.base_url, client.key_name, endpoint)
        ahead = known is None and not deduplicates
        # Where a repeat was seen to post again, the chat's last message is also read as the request leaves
        # (write_ahead): a person's message written before then and not stored yet, or written during the
        # budget's wait, is newer than any this handling can know, and judged against an older one the post,
        # never arrived, looked arrived and was left unsent.
        read_as_it_leaves = ahead and template_ids.repeats_post_again(
            client.base_url, client.key_name, endpoint
        )
        if not deduplicates:
            # The doubt of a post a repeat would show twice is judged against the chat's newest message before
            # it: the person may have written again since the message this handling knows (a bot behind its
            # dialog), and their newer message may be stored already; an earlier event's handling may have
            # posted there since (the greeting of a dialog whose first word was a command). Knowing none, the
            # chat is read (as the request leaves, where it is read then anyway).
            if after is not None and self._newest_stored is not None:
                after = max(after, self._newest_stored(dialog_id, above=after) or 0)
            if after is None and not read_as_it_leaves:
                after = newest_on_platform(client, bot_id, dialog_id)
        in_doubt = {"in_doubt": True, "after": after}
        written_ahead = False

        def write_ahead() -> None:
            nonlocal written_ahead
            if read_as_it_leaves and not written_ahead:  # a retried attempt keeps the first mark, as recorded
                in_doubt["after"] = self._newest_as_it_leaves(client, bot_id, dialog_id, after)
            self._ledger.record(template_id, in_doubt)  # again at a retried attempt: the first stays
            written_ahead = True

        try:
            sent = post(template_id, write_ahead if ahead else None)
        except VibeError as error:
            if known is None and error.leaves_in_doubt:
                if self._never_arrived(client, bot_id, dialog_id, endpoint, in_doubt["after"], error):
                    self._take_back(template_id, written_ahead)
                    tell_write_in_doubt("post", "never_arrived")  # a failed write like any: made again
                else:
                    self._ledger.record(template_id, in_doubt)
                    tell_write_in_doubt("post", "in_doubt")
            elif known is None:
                self._take_back(template_id, written_ahead)  # refused, or never left: nothing posted
            raise
        # Where it went too: a later handling's post there is judged against it (newest_known_message_in).
        made = {"id": sent.id, "posted_in": dialog_id}
        if known is None and not written_ahead:
            self._ledger.record(template_id, made)
        else:
            self._ledger.settle(template_id, made)  # the doubt written ahead, or an earlier one
        if known is not None:
            # Counted once it went through: a repeat that fails again leaves the same post in doubt.
            tell_write_in_doubt("post", "sent_again")
        self._effects.append(("post", True))
        return self._seen(dialog_id, sent.id)

    def _post_for_client(
        self,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        post: Callable[[str, Callable[[], None] | None], SentMessage],
        *,
        template_id: str | None,
        on_sending: Callable[[], None] | None,
    ) -> SentMessage:
        """A post a skill makes through ctx.client (OnceOnlyClient), made once as the context's own are
        (_post_once); its message as the client gives it, only its id known (0 for one left in doubt)."""
        assert self._client is not None  # ctx.client exists only with a client

        def send(key: str, ours: Callable[[], None] | None) -> SentMessage:
            return post(key, both_sending(ours, on_sending))

        return post_as_made(
            self._post_once(self._client, bot_id, dialog_id, endpoint, send, template_id=template_id)
        )

    def _newest_as_it_leaves(
        self, client: VibeClient, bot_id: int, dialog_id: str, after: int | None
    ) -> int | None:
        """The chat's last message as a post's request leaves (no older than `after`, the newest the handling
        knew), the mark its doubt is judged against. Read inside the transport's on_sending, so a failed read
        must not raise (the post would look as if it had met that failure): it keeps `after`."""
        try:
            newest = newest_on_platform(client, bot_id, dialog_id)
        except VibeError as error:
            log.info("the chat was not read before post %s of %s (%s)", self._posts, self._post_key, error)
            return after
        if newest is None or after is None:
            return after if newest is None else newest
        return max(after, newest)

    def _take_back(self, template_id: str, written_ahead: bool) -> None:
        """Forget the doubt written ahead for a post that surely never happened: the next attempt sends it."""
        if written_ahead:
            self._ledger.forget(template_id)

    def _never_arrived(
        self,
        client: VibeClient,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        after: int | None,
        error: VibeError,
    ) -> bool:
        """Whether a send that failed just now surely posted nothing, read at once: the platform is done
        with the call (its own error answer: VibeError.call_is_over) and the chat shows it never arrived.
        Read later, at the next attempt, a person writing meanwhile leaves the chat unable to tell, and the
        reply is left unsent. Not asked where a repeat answers the first message anyway, nor when the
        read fails (the post stays in doubt)."""
        if template_ids.deduplicates(client.base_url, client.key_name, endpoint):
            return False
        return never_arrived_at_once(client, bot_id, dialog_id, after, error)

    def _why_send_again(
        self,
        client: VibeClient,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        after: int | None,
    ) -> tuple[bool, str]:
        """Whether a post left in doubt can be sent again without showing twice, and why.

        Where this endpoint's answers showed that a repeated templateId answers the first message
        (botcore.vibe.template_ids), always. Elsewhere only when the chat shows it never arrived
        (chat_marks.shows_never_arrived). A passing failure of the read is raised, and the event is handled
        again later.
        """
        if template_ids.deduplicates(client.base_url, client.key_name, endpoint):
            return True, "this platform answers a repeated templateId with the first message"
        return shows_never_arrived(client, bot_id, dialog_id, after)

    def _newest_known(self, dialog_id: str) -> int | None:
        """The newest message this handling knows in `dialog_id`: its own last post or upload there (None
        when that answer named no message), else the person's message the event is about, when it was
        written there."""
        if dialog_id in self._newest_in:
            return self._newest_in[dialog_id]
        message = getattr(self.origin, "message", None)
        if message is None or getattr(self.origin, "dialog_id", None) != dialog_id:
            return None
        return int(message.id)

    def _seen(self, dialog_id: str, message_id: int) -> int:
        if message_id:
            self._newest_in[dialog_id] = max(message_id, self._newest_in.get(dialog_id) or 0)
        else:
            # A post whose answer named no message (a command answer as the contract reads it, {result: true})
            # is newer than all this handling knows there: judged against the person's message, the next
            # post there, failing, took this one for itself having arrived and was left unsent. The chat's
            # last message is read before that post instead (_post_once).
            self._newest_in[dialog_id] = None
        return message_id

    # --- interface --------------------------------------------------------------------------------
    def typing(self, status: str | None = None, *, duration: int | None = None) -> None:
        """Best effort: a typing indicator that cannot be shown is logged and forgotten."""
        client, bot_id = self._platform()
        try:
            client.show_typing(
                bot_id,
                dialog_id=self.dialog_id,
                status=status,  # type: ignore[arg-type]  (a skill may name any IMBOT_AGENT_ACTION_*)
                duration=duration,
            )
        except VibeError as error:
            log.warning("typing not shown bot=%s (best effort): %s", bot_id, error)

    def react(self, reaction: str, *, message_id: int | None = None) -> bool:
        """Best effort, once per handling: False when the reaction could not be set (logged, never raised)."""
        target = self._reaction_message_id(message_id)
        if target is None:
            log.warning("reaction not set: message id %s names no message (best effort)", message_id)
            return False
        client, bot_id = self._platform()
        self._reactions += 1
        key = f"{self._post_key}:react:{self._reactions}"
        earlier = self._ledger.find(key)
        if earlier is not None:  # an earlier attempt at this event set it: say what that attempt got
            self._effects.append(("reaction", False))
            return bool(earlier.get("done", True))
        try:
            # A reaction already set (by an earlier attempt at this event) counts as done in the client.
            done = client.add_reaction(bot_id, target, reaction=reaction)
        except VibeError as error:
            log.warning("reaction not set bot=%s (best effort): %s", bot_id, error)
            return False
        self._ledger.record(key, {"done": done})
        self._effects.append(("reaction", True))
        return done

    def unreact(self, reaction: str, *, message_id: int | None = None) -> bool:
        target = self._reaction_message_id(message_id)
        if target is None:
            return False
        client, bot_id = self._platform()
        return client.remove_reaction(bot_id, target, reaction=reaction)

    def edit(
        self,
        message_id: int,
        *,
        text: str | None = None,
        keyboard: Keyboard | bool | None = None,
        attach: Attach | bool | None = None,
    ) -> None:
        message_id = check_message_id(message_id)
        if text is not None:
            check_message(text, edit=True)
        self._check_keyboard(keyboard)
        client, bot_id = self._platform()
        client.update_message(bot_id, message_id, text=text, keyboard=keyboard, attach=attach)

    def delete(self, message_id: int) -> None:
        message_id = check_message_id(message_id)
        client, bot_id = self._platform()
        client.delete_message(bot_id, message_id)

    # --- handing work on --------------------------------------------------------------------------
    def _defer(self, job: str, data: dict[str, Any], *, due_at: datetime | None) -> None:
        if self._deferrer is None:
            raise PlatformUnavailableError("this context cannot defer work")
        self._defers += 1  # one sequence for both: a re-handled event defers nothing twice
        origin = self.origin
        key = f"defer:{self._post_key}:{self._defers}"
        self._deferrer(
            self.skill.name,
            job,
            dict(data),
            key,
            dict(origin.raw) if origin is not None else None,
            due_at=due_at,
        )
