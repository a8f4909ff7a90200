"""What every endpoint mixin shares: the transport, path pieces and the message `fields` builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias
from urllib.parse import quote

from botcore.vibe import keyboards, template_ids
from botcore.vibe.attach import Attach
from botcore.vibe.budget import Priority
from botcore.vibe.errors import VibeProtocolError
from botcore.vibe.keyboards import Keyboard
from botcore.vibe.local_refusals import path_piece_refusal
from botcore.vibe.models import SentMessage
from botcore.vibe.parse import json_kind
from botcore.vibe.transport import RetryClass, Transport

KeyboardArg: TypeAlias = Keyboard | Sequence[Mapping[str, Any]]
AttachArg: TypeAlias = Attach | Mapping[str, Any] | Sequence[Mapping[str, Any]]

SAFE = RetryClass.SAFE
IDEMPOTENT = RetryClass.IDEMPOTENT
UNSAFE = RetryClass.UNSAFE
# Replies are the default priority; polls, setting bots up and best-effort calls (typing, reactions, read
# marks) say so.
POLL = Priority.POLL
SETUP = Priority.SETUP
BEST_EFFORT = Priority.BEST_EFFORT


class Endpoints:
    """Base of the mixins: they reach the platform only through `self._transport`."""

    _transport: Transport

    def _post_message(
        self,
        path: str,
        body: Mapping[str, Any],
        template_id: str | None,
        *,
        endpoint: template_ids.Endpoint,
        on_sending: Callable[[], None] | None = None,
    ) -> SentMessage:
        """POST a call that makes a message. Never repeated once it may have been posted (UNSAFE), with a
        templateId or without: whether a post in doubt is sent again is decided in one place, by the caller
        that knows its chat (skills/posts_once.py). Each answer to a send with a templateId says what the
        platform did with it (botcore.vibe.template_ids). `on_sending`: Transport.request's, called as each
        attempt's request is about to leave.

        A success whose `data` is no object leaves the post in doubt (made_data): read as {} (as_data), it
        was the contract's command answer, naming no message: a post that never happened was taken as made,
        its event handled with no note, and the person never got an answer."""
        data = made_data(
            self._transport.request("POST", path, body=body, retry=UNSAFE, on_sending=on_sending),
            path=path,
            what="a post",
        )
        sent = SentMessage.from_payload(data)
        if template_id is not None and "uuidMap" in data:  # an answer without one teaches nothing
            transport = self._transport
            where = (transport.base_url, transport.key_name, endpoint)
            template_ids.observe(*where, template_id, sent.uuid_map)
        return sent


def bot_path(bot_id: int, *rest: str | int) -> str:
    """/bots/<id>/… with every dynamic piece escaped (a dialogId such as "chat5" goes into the path)."""
    pieces = [str(int(bot_id))] + [_escaped(str(piece)) for piece in rest]
    return "/bots/" + "/".join(pieces)


def _escaped(piece: str) -> str:
    try:
        return quote(piece, safe="")
    except UnicodeEncodeError:  # a lone surrogate: no URL carries it, and nothing is sent
        raise path_piece_refusal(piece) from None


def dialog(dialog_id: str | int) -> str:
    """A dialogId as the platform takes it: "<userId>" for a 1:1 dialog, "chat<id>" for a group."""
    value = str(dialog_id).strip()
    if not value:
        raise ValueError("dialog_id is required: a user id, or chatN for a group chat")
    return value


def attach_wire(attach: AttachArg) -> Any:
    if isinstance(attach, Attach):
        return attach.to_wire()
    if isinstance(attach, Mapping):
        return dict(attach)
    return [dict(block) for block in attach]


def message_fields(
    *,
    text: str | None,
    keyboard: KeyboardArg | bool | None = None,
    attach: AttachArg | bool | None = None,
    system: bool | None = None,
    url_preview: bool | None = None,
    reply_id: int | None = None,
    template_id: str | None = None,
) -> dict[str, Any]:
    """`fields` of a message: send, edit and command answers share it (CONTRACT part B §7.3).

    keyboard/attach: None leaves them out; False removes them ("N", how imbot.v2 clears buttons).
    """
    fields: dict[str, Any] = {}
    if text is not None:
        fields["message"] = text
    if keyboard is False:
        fields["keyboard"] = "N"
    elif keyboard is not None and keyboard is not True:
        fields["keyboard"] = keyboards.to_wire(keyboard)
    if attach is False:
        fields["attach"] = "N"
    elif attach is not None and attach is not True:
        fields["attach"] = attach_wire(attach)
    if system is not None:
        fields["system"] = system
    if url_preview is not None:
        fields["urlPreview"] = url_preview
    if reply_id is not None:
        fields["replyId"] = int(reply_id)
    if template_id is not None:
        fields["templateId"] = str(template_id)
    return fields


def drop_none(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def made_data(value: Any, *, path: str, what: str) -> Mapping[str, Any]:
    """The `data` of the platform's success to a POST that makes something (a post, a chat, a file). One that
    is no object (the platform's envelope around a list, say: a proxy or a broken server, not the platform's
    answer) is VibeProtocolError, which leaves what it would make in doubt: read as {} (as_data), a post, a
    chat or a file that never happened was taken as made, with id 0."""
    if isinstance(value, Mapping):
        return value
    raise VibeProtocolError(
        status=200,
        code=None,
        message=f"HTTP 200 whose data is {json_kind(value)}, not the answer to {what}: whether it was made "
        "is unknown",
        method="POST",
        path=path,
    )


def as_data(value: Any) -> Mapping[str, Any]:
    """`data` as a mapping; the platform answering a list or null where an object belongs reads as {}."""
    return value if isinstance(value, Mapping) else {}
