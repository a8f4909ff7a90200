"""Reference section "Messages": send, edit, delete, get a message and its context, read marks, reactions.

Shapes where the reference is silent (CONTRACT part A §9, imbot.v2 Chat.Message.* in part B §7.3):
- Send `{dialogId, fields:{message, attach, keyboard, system, urlPreview, replyId}}` -> `{id, uuidMap: []}`
  (the reference's quick start). `dialogId` "<userId>" is the bot's 1:1 dialog with that user, opened on
  first use; "chatN" is a group chat the bot must belong to (403 ACCESS_DENIED). Fields follow
  sandbox/api/formats.py; no text, attach or keyboard is 400 EMPTY_MESSAGE. Sending ends the bot's typing
  indicator in that chat.
- Edit and delete act on the bot's own messages only (403 MESSAGE_ACCESS_DENIED); they answer {result:true}.
  On edit, keyboard or attach "N" (or "") removes it.
- Get `{message, chat, users}` and context `{messages, users, hasPrevPage, hasNextPage}` (range 1..50 each
  side, default 50) are for supervisor and personal bots only (403 BOT_TYPE_NOT_ALLOWED).
- Read `{messageId?}` -> {result:true}: the bot's read mark moves up to that message (default: the last).
- Reactions `{reaction}` (a code from B §7.6; on DELETE also `?reaction=`) -> {result:true}; 409
  REACTION_ALREADY_SET, 404 REACTION_NOT_FOUND.
- Bot actions raise no events, for this bot or any other (no bot-to-bot loops); under the `own-messages`
  dialect a post comes back to its own bot as ONIMBOTV2MESSAGEADD, its author a plain user (no `bot` flag).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from sandbox import event_queue
from sandbox.api.dialogs import member_chat
from sandbox.api.formats import clean_message_fields
from sandbox.http import ApiError, Call, endpoint, is_path_id
from sandbox.numbers import is_decimal
from sandbox.payloads import bot_payload, chat_payload, message_payload, person_payload, platform_date
from sandbox.records import Bot, Message
from sandbox.state import Platform

REACTIONS = frozenset({
    "like", "dislike", "faceWithTearsOfJoy", "redHeart", "neutralFace", "fire", "cry", "slightlySmilingFace",
    "winkingFace", "laugh", "kiss", "wonder", "slightlyFrowningFace", "loudlyCryingFace",
    "faceWithStuckOutTongue", "faceWithStuckOutTongueAndWinkingEye", "smilingFaceWithSunglasses",
    "confusedFace", "flushedFace", "thinkingFace", "angry", "smilingFaceWithHorns", "faceWithThermometer",
    "facepalm", "poo", "flexedBiceps", "clappingHands", "raisedHand", "smilingFaceWithHeartEyes",
    "smilingFaceWithHearts", "pleadingFace", "relievedFace", "foldedHands", "okHand", "signHorns",
    "loveYouGesture", "clownFace", "partyingFace", "questionMark", "exclamationMark", "lightBulb", "bomb",
    "sleepingSymbol", "crossMark", "whiteHeavyCheckMark", "eyes", "handshake", "hundredPoints",
})  # fmt: skip
CONTEXT_BOT_TYPES = ("supervisor", "personal")
MAX_CONTEXT_RANGE = 50


def message_fields_of(body: dict) -> dict:
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise ApiError("INVALID_REQUEST", "fields must be an object")
    return fields


def find_message(platform: Platform, bot: Bot, raw_id: str) -> Message:
    """A live message on the bot's portal (404 MESSAGE_NOT_FOUND otherwise)."""
    message = platform.messages.get(int(raw_id)) if is_path_id(raw_id) else None
    chat = platform.chats.get(message.chat_id) if message else None
    if message is None or message.deleted or chat is None or chat.portal_id != bot.portal_id:
        raise ApiError("MESSAGE_NOT_FOUND", f"No message {raw_id} on this portal")
    return message


def own_message(call: Call) -> Message:
    bot = call.bot
    assert bot is not None
    message = find_message(call.platform, bot, call.path_param("message_id"))
    if message.author_id != bot.id:
        raise ApiError("MESSAGE_ACCESS_DENIED", "A bot edits and deletes only its own messages")
    return message


def message_json(platform: Platform, message: Message) -> dict:
    """The event message shape plus what the bot attached to it."""
    return {
        **message_payload(platform, message),
        "keyboard": message.keyboard,
        "attach": message.attach,
        "replyId": message.reply_id,
        "editedAt": platform_date(platform, message.edited_at) if message.edited_at else None,
    }


@endpoint(auth="bot")
async def send_message(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/messages {dialogId, fields:{message, attach, keyboard, system, urlPreview,
    replyId}} -> {id, uuidMap: []}."""
    bot, platform = call.bot, call.platform
    assert bot is not None
    cleaned = clean_message_fields(message_fields_of(call.body))
    chat = member_chat(platform, bot, call.body.get("dialogId"), open_private=True)
    if not cleaned["text"].strip() and cleaned["attach"] is None and cleaned["keyboard"] is None:
        raise ApiError("EMPTY_MESSAGE", "The message has no text, attach or keyboard")
    repeated = platform.find_templated(chat, author_id=bot.id, template_id=cleaned["template_id"])
    if repeated is not None:
        return {"id": repeated.id, "uuidMap": {cleaned["template_id"]: repeated.id}}
    reply_id = cleaned["reply_id"]
    if reply_id is not None:
        replied = platform.messages.get(reply_id)
        if replied is None or replied.deleted or replied.chat_id != chat.id:
            raise ApiError("MESSAGE_NOT_FOUND", f"replyId {reply_id} is not a message of this chat")
    message = platform.add_message(
        chat=chat,
        author_id=bot.id,
        text=cleaned["text"],
        is_system=cleaned["is_system"],
        keyboard=cleaned["keyboard"],
        attach=cleaned["attach"],
        reply_id=reply_id,
        url_preview=cleaned["url_preview"],
        template_id=cleaned["template_id"],
    )
    chat.typing.pop(bot.id, None)  # a posted message ends "typing…"
    if platform.speaks("own-messages") and not message.is_system:
        _own_message_back(platform, bot, chat, message)
    mapped = cleaned["template_id"] and not platform.speaks("no-template-dedupe")  # the dialect ignores it
    return {"id": message.id, "uuidMap": {cleaned["template_id"]: message.id} if mapped else []}


def _own_message_back(platform: Platform, bot: Bot, chat, message: Message) -> None:
    """The `own-messages` dialect: the post as an event to its own bot, its author shown as the reference's
    example shows a user (id and names only); the reference's echo bot skips `authorId === BOT_ID`."""
    data = {
        "bot": bot_payload(platform, bot),
        "dialogId": platform.dialog_id_for(chat, bot=bot),
        "chat": chat_payload(platform, chat, bot=bot),
        "user": {"id": bot.id, "name": bot.name, "firstName": bot.name, "lastName": ""},
        "language": "en",
        "message": message_payload(platform, message),
    }
    event_queue.emit(platform, bot, "ONIMBOTV2MESSAGEADD", data)


@endpoint(auth="bot")
async def update_message(call: Call) -> dict:
    """PATCH /v1/bots/{bot_id}/messages/{message_id} {fields:{message, keyboard, attach, urlPreview}} ->
    {result:true}; only what is sent changes, keyboard/attach "N" removes them."""
    message = own_message(call)
    raw = message_fields_of(call.body)
    cleaned = clean_message_fields(raw)
    changes: dict[str, Any] = {}
    if "message" in raw:
        changes["text"] = cleaned["text"]
    for key in ("keyboard", "attach"):
        if key in raw:
            changes[key] = cleaned[key]
    if "urlPreview" in raw:
        changes["url_preview"] = cleaned["url_preview"]
    if not changes:
        raise ApiError("INVALID_REQUEST", "Nothing to update: send message, keyboard, attach or urlPreview")
    after = {"text": message.text, "attach": message.attach, "keyboard": message.keyboard, **changes}
    if not after["text"].strip() and after["attach"] is None and after["keyboard"] is None:
        problem = "The edit would leave the message with no text, attach or keyboard"
        raise ApiError("EMPTY_MESSAGE", problem, hint="Delete it instead")
    for attr, value in changes.items():
        setattr(message, attr, value)
    message.edited_at = call.platform.now()
    return {"result": True}


@endpoint(auth="bot")
async def delete_message(call: Call) -> dict:
    """DELETE /v1/bots/{bot_id}/messages/{message_id} -> {result:true}; a repeat is 404 MESSAGE_NOT_FOUND."""
    message = own_message(call)
    message.deleted = True
    return {"result": True}


def readable_message(call: Call) -> Message:
    """A message a supervisor/personal bot may read: in a chat it belongs to."""
    bot = call.bot
    assert bot is not None
    if bot.type not in CONTEXT_BOT_TYPES:
        raise ApiError("BOT_TYPE_NOT_ALLOWED", "Only supervisor and personal bots read messages", status=403)
    message = find_message(call.platform, bot, call.path_param("message_id"))
    if bot.id not in call.platform.chats[message.chat_id].member_ids:
        raise ApiError("MESSAGE_ACCESS_DENIED", "The message is in a chat the bot is not a member of")
    return message


@endpoint(auth="bot")
async def get_message(call: Call) -> dict:
    """GET /v1/bots/{bot_id}/messages/{message_id} -> {message, chat, users:[author]}."""
    platform, bot = call.platform, call.bot
    assert bot is not None
    message = readable_message(call)
    return {
        "message": message_json(platform, message),
        "chat": chat_payload(platform, platform.chats[message.chat_id], bot=bot),
        "users": [person_payload(platform, message.author_id)],
    }


@endpoint(auth="bot")
async def get_context(call: Call) -> dict:
    """GET /v1/bots/{bot_id}/messages/{message_id}/context?range=1..50 -> {messages, users, hasPrevPage,
    hasNextPage}: up to `range` messages each side of it, oldest first, the message itself included."""
    platform = call.platform
    raw_range = call.query.get("range", str(MAX_CONTEXT_RANGE))
    if not is_decimal(raw_range) or not 1 <= int(raw_range) <= MAX_CONTEXT_RANGE:
        raise ApiError("INVALID_REQUEST", "range must be an integer from 1 to 50")
    span = int(raw_range)
    message = readable_message(call)
    thread = sorted(platform.chat_messages(platform.chats[message.chat_id]), key=lambda m: m.id)
    at = next(i for i, m in enumerate(thread) if m.id == message.id)
    window = thread[max(0, at - span) : at + span + 1]
    authors = dict.fromkeys(m.author_id for m in window)
    return {
        "messages": [message_json(platform, m) for m in window],
        "users": [person_payload(platform, a) for a in authors],
        "hasPrevPage": at - span > 0,
        "hasNextPage": at + span + 1 < len(thread),
    }


@endpoint(auth="bot")
async def mark_read(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/chats/{dialog_id}/read {messageId?} -> {result:true}; marks never move back."""
    bot, platform = call.bot, call.platform
    assert bot is not None
    chat = member_chat(platform, bot, call.path_param("dialog_id"))
    up_to = chat.last_message_id
    if call.body.get("messageId") not in (None, ""):
        raw = call.body["messageId"]
        if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not is_decimal(str(raw)):
            raise ApiError("INVALID_REQUEST", "messageId must be a message id (a positive integer)")
        message = find_message(platform, bot, str(raw))
        if message.chat_id != chat.id:
            raise ApiError("MESSAGE_NOT_FOUND", f"Message {raw} is not in this chat")
        up_to = message.id
    chat.read_marks[bot.id] = max(up_to, chat.read_marks.get(bot.id, 0))
    return {"result": True}


def reaction_target(call: Call, *, from_query: bool) -> tuple[Message, str]:
    bot = call.bot
    assert bot is not None
    reaction = call.body.get("reaction")
    if reaction is None and from_query:
        reaction = call.query.get("reaction")
    if not isinstance(reaction, str) or not reaction:
        raise ApiError("INVALID_REQUEST", 'reaction is required, e.g. "like"')
    if reaction not in REACTIONS:
        hint = "Use a code such as like, redHeart, fire, eyes"
        raise ApiError("REACTION_INVALID", f"Unknown reaction {reaction!r}", hint=hint)
    message = find_message(call.platform, bot, call.path_param("message_id"))
    if bot.id not in call.platform.chats[message.chat_id].member_ids:
        raise ApiError("ACCESS_DENIED", "The bot is not a member of this message's chat")
    return message, reaction


@endpoint(auth="bot")
async def add_reaction(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/messages/{message_id}/reactions {reaction} -> {result:true}."""
    assert call.bot is not None
    message, reaction = reaction_target(call, from_query=False)
    holders = message.reactions.setdefault(reaction, set())
    if call.bot.id in holders:
        raise ApiError("REACTION_ALREADY_SET", "The bot has already set this reaction")
    holders.add(call.bot.id)
    return {"result": True}


@endpoint(auth="bot")
async def remove_reaction(call: Call) -> dict:
    """DELETE /v1/bots/{bot_id}/messages/{message_id}/reactions {reaction} (or ?reaction=) ->
    {result:true}."""
    assert call.bot is not None
    message, reaction = reaction_target(call, from_query=True)
    holders = message.reactions.get(reaction, set())
    if call.bot.id not in holders:
        raise ApiError("REACTION_NOT_FOUND", "The bot has not set this reaction", status=404)
    holders.discard(call.bot.id)
    return {"result": True}


routes = [
    Route("/v1/bots/{bot_id}/messages", send_message, methods=["POST"]),
    Route("/v1/bots/{bot_id}/messages/{message_id}", update_message, methods=["PATCH"]),
    Route("/v1/bots/{bot_id}/messages/{message_id}", delete_message, methods=["DELETE"]),
    Route("/v1/bots/{bot_id}/messages/{message_id}", get_message, methods=["GET"]),
    Route("/v1/bots/{bot_id}/messages/{message_id}/context", get_context, methods=["GET"]),
    Route("/v1/bots/{bot_id}/messages/{message_id}/reactions", add_reaction, methods=["POST"]),
    Route("/v1/bots/{bot_id}/messages/{message_id}/reactions", remove_reaction, methods=["DELETE"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/read", mark_read, methods=["POST"]),
]
