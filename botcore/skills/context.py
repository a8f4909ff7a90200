"""VibeSkillContext: a skill's actions bound to one event's portal, bot and chat, sent through the client.

An event may be handled more than once (a worker killed mid-skill, a passing outage retried), so every
effect of a handling is keyed by the bot, the event (or the backend run) and the effect's place in the
handling, and remembered in the ActionLedger once made: a handling that runs again replays what its earlier
attempt did instead of doing it twice. Posts also carry the key as their templateId (a platform that
de-duplicates answers a repeat with the message it has); a post whose send failed after the platform may
have taken it is sent again only where that cannot show it twice (posts_once.py). Dialog-state writes
commit with their ledger record.
Typing and reactions are best effort: their failure is logged and never fails the event. One the request
budget has no room for now is not sent then: a reaction is held by the client and sent after the replies
(botcore.vibe.held_calls; recorded in the ledger when held, so a handling run again never sends it twice),
a typing indicator is left out.
`effects` lists, in order, each effect of this handling as (kind, performed): False when it was replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from botcore.skills.actions import ChatActions
from botcore.skills.base import Skill
from botcore.skills.event_facts import EventFacts, origin_event
from botcore.skills.events import SkillEvent
from botcore.skills.handling_keys import _TEMPLATE_NAMESPACE, post_key_for, template_id_of
from botcore.skills.i18n import FALLBACK_LANGUAGE, normalize_language
from botcore.skills.ledger import ActionLedger, reaction_key
from botcore.skills.once_only_client import OnceOnlyClient
from botcore.skills.posts_once import PostsOnce
from botcore.skills.state import OnceStateStore, StateStore, refuse_platform_call_in_block
from botcore.skills.values import check_message, check_message_id
from botcore.vibe import VibeClient
from botcore.vibe.attach import Attach
from botcore.vibe.errors import VibeError
from botcore.vibe.events import CommandAddEvent
from botcore.vibe.keyboards import Keyboard

# The context and the parts it is made of: some live in modules of their own now (event_facts, handling_keys,
# once_only_client), and skill authors, the test kit and tests import them from here, as they always did.
__all__ = [
    "_TEMPLATE_NAMESPACE",
    "Deferrer",
    "EventFacts",
    "OnceOnlyClient",
    "PlatformUnavailableError",
    "PortalInfo",
    "VibeSkillContext",
    "origin_event",
    "post_key_for",
    "template_id_of",
]

log = logging.getLogger(__name__)


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


class VibeSkillContext(EventFacts, PostsOnce, ChatActions):
    # Narrower than EventFacts says (the kit's may lack a skill, its store keeps no ledger): always set here.
    skill: Skill
    state_store: OnceStateStore

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

    # --- interface --------------------------------------------------------------------------------
    def typing(self, status: str | None = None, *, duration: int | None = None) -> None:
        """Best effort: a typing indicator that cannot be shown is logged and forgotten."""
        client, bot_id = self._platform()
        try:
            client.show_typing(
                bot_id,
                dialog_id=self.dialog_id,
                status=status,  # type: ignore[arg-type]  # a skill may name any IMBOT_AGENT_ACTION_*
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
        key = reaction_key(self._post_key, self._reactions)
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
