"""VibeSkillContext: a skill's actions bound to one event's bot, chat and portal, sent through the client.

An event may be handled more than once (a worker killed mid-skill is retried), so every post carries a
templateId derived from the bot, the event and the post's place in the handling: the platform answers a
repeat with the message it already has, and a retried handling never posts twice.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from botcore.skills.base import SkillContext
from botcore.vibe import VibeClient
from botcore.vibe.attach import Attach
from botcore.vibe.events import BotEvent, ChatEvent, CommandAddEvent
from botcore.vibe.keyboards import Keyboard

_TEMPLATE_NAMESPACE = uuid.UUID("5d0c2a36-0f6b-4d0e-9a57-3b8f2f6b1e01")


class VibeSkillContext(SkillContext):
    def __init__(
        self,
        *,
        client: VibeClient,
        vibe_bot_id: int,
        event: BotEvent,
        portal_member_id: str,
        options: Mapping[str, Any],
    ) -> None:
        self.client = client
        self.vibe_bot_id = vibe_bot_id
        self.event = event
        self.portal_member_id = portal_member_id
        self.options = options
        self.language = (getattr(event, "language", "") or "en").lower()[:2]
        self._posts = 0

    def _next_template_id(self) -> str:
        """The same id for the same post of the same event, however often the event is handled."""
        self._posts += 1
        return str(uuid.uuid5(_TEMPLATE_NAMESPACE, f"{self.vibe_bot_id}:{self.event.event_id}:{self._posts}"))

    @property
    def dialog_id(self) -> str:
        if not isinstance(self.event, ChatEvent):
            raise TypeError(f"{type(self.event).__name__} happened in no chat: there is nowhere to reply")
        return self.event.dialog_id

    def _message_id(self) -> int:
        message = getattr(self.event, "message", None)
        if message is None:
            raise TypeError(f"{type(self.event).__name__} carries no message")
        return int(message.id)

    def reply(self, text: str, *, keyboard: Keyboard | None = None, attach: Attach | None = None, system: bool = False) -> int:
        sent = self.client.send_message(
            self.vibe_bot_id, dialog_id=self.dialog_id, text=text, keyboard=keyboard, attach=attach, system=system or None,
            template_id=self._next_template_id(),
        )
        return sent.id

    def answer_command(self, text: str, *, keyboard: Keyboard | None = None, attach: Attach | None = None) -> int:
        if not isinstance(self.event, CommandAddEvent):
            raise TypeError("answer_command needs a command event")
        sent = self.client.answer_command(
            self.vibe_bot_id, self.event.command.id, message_id=self._message_id(), dialog_id=self.dialog_id,
            text=text, keyboard=keyboard, attach=attach, template_id=self._next_template_id(),
        )
        return sent.id

    def typing(self, status: str | None = None) -> None:
        self.client.show_typing(self.vibe_bot_id, dialog_id=self.dialog_id, status=status)  # type: ignore[arg-type]

    def react(self, reaction: str) -> None:
        # A reaction already set (by an earlier attempt at this event) counts as done in the client.
        self.client.add_reaction(self.vibe_bot_id, self._message_id(), reaction=reaction)
