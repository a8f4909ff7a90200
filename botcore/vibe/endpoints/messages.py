"""Reference section "Messages": send, edit, delete, read marks, get a message and its context."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botcore.vibe.endpoints.base import (
    BEST_EFFORT,
    IDEMPOTENT,
    SAFE,
    AttachArg,
    Endpoints,
    KeyboardArg,
    as_data,
    bot_path,
    dialog,
    message_fields,
)
from botcore.vibe.models import Message, MessageContext, SentMessage

log = logging.getLogger(__name__)

# The platforms (base URLs) this process has said it of: one answering every send so would say it at each.
_said_no_message_id: set[str] = set()


def forget_said_no_message_id() -> None:
    """Say it again (tests)."""
    _said_no_message_id.clear()


def _say_no_message_id(base_url: str) -> None:
    """A send answered without the message's id (204 No Content, or data naming none): the post is taken as
    made, its id as unknown (0), which the skills' context reads as such (it reads the chat before its next
    post there). Said once per process and platform at WARNING, never the text or a credential: it went
    unnoticed, and an operator reading "message 0" in a skill's log had nothing to explain it."""
    if base_url in _said_no_message_id:
        log.debug("a send's answer named no message id: taken as posted, its id unknown")
        return
    _said_no_message_id.add(base_url)
    log.warning(
        "the platform answered a send (POST /v1/bots/:id/messages) without the message's id (a 204 No"
        " Content, or data with no id): taken as posted, its id unknown (0); said once per process"
    )


class MessageEndpoints(Endpoints):
    def send_message(
        self,
        bot_id: int,
        *,
        dialog_id: str | int,
        text: str,
        keyboard: KeyboardArg | None = None,
        attach: AttachArg | None = None,
        system: bool | None = None,
        url_preview: bool | None = None,
        reply_id: int | None = None,
        template_id: str | None = None,
        on_sending: Callable[[], None] | None = None,
    ) -> SentMessage:
        """POST /v1/bots/:botId/messages: post as the bot. `dialog_id` is the user's id for a 1:1 dialog
        (the event's dialog_id) or "chatN" for a group. Text over 20 000 characters is cut by the platform.

        Whether a send that may have been posted is repeated: Endpoints._post_message.
        """
        fields = message_fields(
            text=text,
            keyboard=keyboard,
            attach=attach,
            system=system,
            url_preview=url_preview,
            reply_id=reply_id,
            template_id=template_id,
        )
        body = {"dialogId": dialog(dialog_id), "fields": fields}
        sent = self._post_message(
            bot_path(bot_id, "messages"), body, template_id, endpoint="messages", on_sending=on_sending
        )
        if not sent.id:
            _say_no_message_id(self._transport.base_url)
        return sent

    def update_message(
        self,
        bot_id: int,
        message_id: int,
        *,
        text: str | None = None,
        keyboard: KeyboardArg | bool | None = None,
        attach: AttachArg | bool | None = None,
        url_preview: bool | None = None,
    ) -> None:
        """PATCH /v1/bots/:botId/messages/:messageId: edit a message the bot sent.

        Only what is given changes; `keyboard=False` / `attach=False` remove the buttons / attachment.
        New buttons go as `{BOT_ID, BUTTONS}`: an edit changes them only so (CONTRACT part B §7.3.1).
        Setting the same content twice is harmless, so it is retried.
        """
        fields = message_fields(text=text, keyboard=keyboard, attach=attach, url_preview=url_preview)
        if isinstance(fields.get("keyboard"), list):
            fields["keyboard"] = {"BOT_ID": int(bot_id), "BUTTONS": fields["keyboard"]}
        if not fields:
            raise ValueError("update_message needs text, keyboard, attach or url_preview")
        self._transport.request(
            "PATCH", bot_path(bot_id, "messages", message_id), body={"fields": fields}, retry=IDEMPOTENT
        )

    def delete_message(self, bot_id: int, message_id: int) -> None:
        """DELETE /v1/bots/:botId/messages/:messageId. Retried; a retry after a lost answer may report
        the message as not found, which means it is gone."""
        self._transport.request("DELETE", bot_path(bot_id, "messages", message_id), retry=IDEMPOTENT)

    def mark_read(self, bot_id: int, *, dialog_id: str | int, message_id: int | None = None) -> None:
        """POST /v1/bots/:botId/chats/:dialogId/read: mark the dialog read up to `message_id` (None: all).
        Best effort, held like a reaction when the request budget has no room now."""
        body: dict[str, Any] = {} if message_id is None else {"messageId": int(message_id)}
        self._transport.request(
            "POST",
            bot_path(bot_id, "chats", dialog(dialog_id), "read"),
            body=body,
            retry=IDEMPOTENT,
            priority=BEST_EFFORT,
            hold=True,
        )

    def get_message(self, bot_id: int, message_id: int) -> Message:
        """GET /v1/bots/:botId/messages/:messageId (supervisor and personal bots only)."""
        data = as_data(self._transport.request("GET", bot_path(bot_id, "messages", message_id), retry=SAFE))
        message = data.get("message")
        return Message.from_payload(as_data(message) if message is not None else data)

    def get_message_context(
        self, bot_id: int, message_id: int, *, range: int | None = None
    ) -> MessageContext:
        """GET /v1/bots/:botId/messages/:messageId/context: up to `range` (1..50) messages each side."""
        params = None
        if range is not None:
            if not 1 <= range <= 50:
                raise ValueError("range must be 1..50")
            params = {"range": int(range)}
        data = self._transport.request(
            "GET", bot_path(bot_id, "messages", message_id, "context"), params=params, retry=SAFE
        )
        return MessageContext.from_payload(as_data(data))
