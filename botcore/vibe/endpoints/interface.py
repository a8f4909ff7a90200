"""Reference section "Interface": reactions, the typing indicator and the chat's input field."""

from __future__ import annotations

from typing import Literal

from botcore.vibe.endpoints.base import BEST_EFFORT, IDEMPOTENT, Endpoints, bot_path, dialog, drop_none
from botcore.vibe.errors import VibeConflictError, VibeNotFoundError

# The action a bot may show instead of plain "typing…" (CONTRACT part B §7.6).
TypingStatus = Literal[
    "IMBOT_AGENT_ACTION_THINKING",
    "IMBOT_AGENT_ACTION_SEARCHING",
    "IMBOT_AGENT_ACTION_GENERATING",
    "IMBOT_AGENT_ACTION_ANALYZING",
    "IMBOT_AGENT_ACTION_PROCESSING",
    "IMBOT_AGENT_ACTION_TRANSLATING",
    "IMBOT_AGENT_ACTION_CONNECTING",
    "IMBOT_AGENT_ACTION_CHECKING",
    "IMBOT_AGENT_ACTION_CALCULATING",
    "IMBOT_AGENT_ACTION_READING_DOCS",
    "IMBOT_AGENT_ACTION_COMPOSING",
]


class InterfaceEndpoints(Endpoints):
    def add_reaction(self, bot_id: int, message_id: int, *, reaction: str) -> bool:
        """POST /v1/bots/:botId/messages/:messageId/reactions, e.g. reaction="like".

        Returns False when the bot had already set that reaction (409 REACTION_ALREADY_SET): the wanted
        state holds either way, which is also what makes a retry after a lost answer harmless. Best effort:
        when the request budget has no room now, the call is held and sent later (send_held_calls), and
        True is returned.
        """
        try:
            self._transport.request(
                "POST",
                bot_path(bot_id, "messages", message_id, "reactions"),
                body={"reaction": reaction},
                retry=IDEMPOTENT,
                priority=BEST_EFFORT,
                hold=True,
            )
        except VibeConflictError as error:
            if error.code != "REACTION_ALREADY_SET":
                raise
            return False
        return True

    def remove_reaction(self, bot_id: int, message_id: int, *, reaction: str) -> bool:
        """DELETE /v1/bots/:botId/messages/:messageId/reactions; False when there was no such reaction.
        Held like add_reaction, after it when that is held too."""
        try:
            self._transport.request(
                "DELETE",
                bot_path(bot_id, "messages", message_id, "reactions"),
                body={"reaction": reaction},
                retry=IDEMPOTENT,
                priority=BEST_EFFORT,
                hold=True,
            )
        except VibeNotFoundError as error:
            if error.code != "REACTION_NOT_FOUND":
                raise
            return False
        return True

    def show_typing(
        self,
        bot_id: int,
        *,
        dialog_id: str | int,
        status: TypingStatus | None = None,
        duration: int | None = None,
    ) -> None:
        """POST /v1/bots/:botId/typing: show "typing…" (or a `status` such as THINKING) for `duration`
        seconds (1..600; the platform picks a default). Long work re-sends it every ~15 s. Best effort, never
        held: when the request budget has no room now it is dropped, as it would show after the reply."""
        if duration is not None and not 1 <= duration <= 600:
            raise ValueError("duration must be 1..600 seconds")
        body = {"dialogId": dialog(dialog_id), **drop_none(statusMessageCode=status, duration=duration)}
        self._transport.request(
            "POST", bot_path(bot_id, "typing"), body=body, retry=IDEMPOTENT, priority=BEST_EFFORT
        )

    def set_text_field(self, bot_id: int, *, dialog_id: str | int, enabled: bool) -> None:
        """POST /v1/bots/:botId/text-field: turn the chat's input field on or off (any chat the bot is in)."""
        body = {"dialogId": dialog(dialog_id), "enabled": bool(enabled)}
        self._transport.request("POST", bot_path(bot_id, "text-field"), body=body, retry=IDEMPOTENT)
