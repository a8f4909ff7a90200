"""Control endpoints that act as a portal user, through sandbox/activity.py exactly as the chat page does.

Every action raises the bot events the real platform would: a first message to a bot opens its dialog
(ONIMBOTV2JOINCHAT), then ONIMBOTV2MESSAGEADD or ONIMBOTV2COMMANDADD, and so on.
"""

from __future__ import annotations

from starlette.routing import Route

from sandbox import activity, event_queue
from sandbox.api.messages import REACTIONS
from sandbox.control.base import (
    ControlCall,
    control,
    find_bot,
    find_chat,
    find_message,
    find_user,
    id_field,
    id_list_field,
    not_found,
    str_field,
)
from sandbox.control.views import chat_json, event_json, message_json
from sandbox.http import ApiError, expect_type
from sandbox.records import Chat, User
from sandbox.state import Platform

MAX_TEXT = 20_000  # the platform's message limit (CONTRACT part A §10)


def _acting_user(call: ControlCall) -> User:
    return find_user(call.platform, id_field(call.body, "userId"))


def _member_chat(platform: Platform, user: User, chat_id: int) -> Chat:
    chat = find_chat(platform, chat_id)
    if chat.portal_id != user.portal_id:
        raise not_found("CHAT_NOT_FOUND", f"No chat {chat_id} on this user's portal")
    if user.id not in chat.member_ids:
        raise ApiError("ACCESS_DENIED", "The user is not a member of this chat")
    return chat


def _text(call: ControlCall) -> str:
    text = str_field(call.body, "text", allow_empty=True, max_len=10 * MAX_TEXT)
    if not text.strip():
        raise ApiError("EMPTY_MESSAGE", "The message is empty")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " (...)"


@control
def open_dialog(call: ControlCall) -> dict:
    """The user opens the bot's 1:1 dialog; the first time, the bot hears ONIMBOTV2JOINCHAT."""
    user = _acting_user(call)
    bot = find_bot(call.platform, id_field(call.body, "botId"), portal_id=user.portal_id)
    chat = activity.open_private_chat(call.platform, user=user, bot=bot)
    return {"chat": chat_json(call.platform, chat)}


@control
def send_message(call: ControlCall) -> dict:
    """The user writes to a bot (its 1:1 dialog, opened if need be) or in a chat they belong to.

    `via: "link"` is a click on a [send=…] BB link: it works even where the bot turned the input field
    off, as keyboard buttons do; typed text (`via: "input"`, the default) is refused there.
    """
    user = _acting_user(call)
    via = str_field(call.body, "via", required=False, max_len=10) or "input"
    if via not in ("input", "link"):
        raise ApiError("INVALID_REQUEST", 'via must be "input" or "link"')
    bot_id = id_field(call.body, "botId", required=False)
    chat_id = id_field(call.body, "chatId", required=False)
    if (bot_id is None) == (chat_id is None):
        raise ApiError("INVALID_REQUEST", "Give exactly one of botId (the 1:1 dialog) or chatId")
    text = _text(call)
    if bot_id is not None:
        bot = find_bot(call.platform, bot_id, portal_id=user.portal_id)
        chat = activity.open_private_chat(call.platform, user=user, bot=bot)
    else:
        assert chat_id is not None  # exactly one of the two, checked above
        chat = _member_chat(call.platform, user, chat_id)
    if via == "input" and not chat.text_field_enabled:
        raise ApiError(
            "TEXT_FIELD_DISABLED", "The bot has turned the input field off in this chat", status=409
        )
    bots = call.platform.bots_in(chat)
    before = {bot.id: bot.next_event_id for bot in bots}
    message = activity.send_user_message(call.platform, user=user, chat=chat, text=text)
    # The events it raised, so that a test can follow each one to the bot's handling of it.
    raised = [
        {"botId": bot.id, **event_json(event)}
        for bot in bots
        for event in bot.events
        if event.event_id >= before[bot.id]
    ]
    return {"message": message_json(call.platform, message), "events": raised}


@control
def edit_message(call: ControlCall) -> dict:
    user = _acting_user(call)
    message = find_message(call.platform, call.path_id("message_id", "messageId"), live=True)
    activity.edit_user_message(call.platform, user=user, message=message, text=_text(call))
    return {"message": message_json(call.platform, message)}


@control
def delete_message(call: ControlCall) -> dict:
    user = _acting_user(call)
    message = find_message(call.platform, call.path_id("message_id", "messageId"), live=True)
    activity.delete_user_message(call.platform, user=user, message=message)
    return {"message": message_json(call.platform, message)}


@control
def press_button(call: ControlCall) -> dict:
    """Press keyboard button `index` (NEWLINE entries not counted): SEND writes, COMMAND raises COMMANDADD."""
    user = _acting_user(call)
    index = call.body.get("index")
    if index is None:
        raise ApiError("INVALID_REQUEST", "Missing required field: index")
    expect_type(index, int, "index")
    message = find_message(call.platform, id_field(call.body, "messageId"), live=True)
    sent = activity.press_button(call.platform, user=user, message=message, index=index)  # checks the index
    buttons = [b for b in (message.keyboard or []) if b.get("TYPE") != "NEWLINE"]
    result: dict = {"button": buttons[index]}
    if sent is not None:
        result["message"] = message_json(call.platform, sent)
    return result


@control
def react(call: ControlCall) -> dict:
    user = _acting_user(call)
    message = find_message(call.platform, id_field(call.body, "messageId"), live=True)
    reaction = str_field(call.body, "reaction", max_len=64).strip()
    if reaction not in REACTIONS:
        raise ApiError(
            "REACTION_INVALID",
            f"Unknown reaction {reaction!r}",
            hint="Use a code such as like, redHeart, fire, eyes",
        )
    action = str_field(call.body, "action", required=False, max_len=10) or "add"
    if action not in ("add", "delete"):
        raise ApiError("INVALID_REQUEST", 'action must be "add" or "delete"')
    activity.react(call.platform, user=user, message=message, reaction=reaction, action=action)
    return {"message": message_json(call.platform, message)}


@control
def create_chat(call: ControlCall) -> dict:
    """The user creates a group chat; bots among the members hear ONIMBOTV2JOINCHAT."""
    user = _acting_user(call)
    title = str_field(call.body, "title", max_len=255).strip()
    description = str_field(call.body, "description", required=False, allow_empty=True, max_len=2000) or ""
    people, bots = [], []
    for member_id in id_list_field(call.body, "memberIds"):
        if member_id in call.platform.bots:
            bots.append(find_bot(call.platform, member_id, portal_id=user.portal_id))
        else:
            member = call.platform.users.get(member_id)
            if member is None or member.portal_id != user.portal_id:
                raise not_found("USER_NOT_FOUND", f"No user {member_id} on this user's portal")
            people.append(member.id)
    chat = call.platform.create_group_chat(
        portal_id=user.portal_id, owner_id=user.id, title=title, member_ids=people, description=description
    )
    chat.manager_ids.add(user.id)
    for bot in bots:
        activity.add_bot_to_chat(call.platform, user=user, chat=chat, bot=bot)
    return {"chat": chat_json(call.platform, chat)}


@control
def add_bot(call: ControlCall) -> dict:
    user = _acting_user(call)
    chat = find_chat(call.platform, call.path_id("chat_id", "chatId"))
    if chat.portal_id != user.portal_id:
        raise not_found("CHAT_NOT_FOUND", "No such chat on this user's portal")
    bot = find_bot(call.platform, id_field(call.body, "botId"), portal_id=user.portal_id)
    activity.add_bot_to_chat(call.platform, user=user, chat=chat, bot=bot)
    return {"chat": chat_json(call.platform, chat)}


@control
def request_context(call: ControlCall) -> dict:
    """The user follows a BOT_CONTEXT link: the bot hears ONIMBOTV2CONTEXTGET with `context`."""
    user = _acting_user(call)
    bot = find_bot(call.platform, id_field(call.body, "botId"), portal_id=user.portal_id)
    context = call.body.get("context")
    if context is None:
        raise ApiError("INVALID_REQUEST", "Missing required field: context")
    expect_type(context, dict, "context")
    chat_id = id_field(call.body, "chatId", required=False)
    if chat_id is None:
        chat = activity.open_private_chat(call.platform, user=user, bot=bot)
    else:
        chat = _member_chat(call.platform, user, chat_id)
        if bot.id not in chat.member_ids:
            raise ApiError("ACCESS_DENIED", "The bot is not a member of this chat")
    activity.request_context(call.platform, user=user, bot=bot, chat=chat, context=context)
    return {}


@control
def delete_bot(call: ControlCall) -> dict:
    """A portal admin deletes the bot in Bitrix24: it hears ONIMBOTV2DELETE, then nothing more."""
    user = _acting_user(call)
    bot = find_bot(call.platform, call.path_id("bot_id", "botId"), portal_id=user.portal_id)
    if not user.is_admin:
        raise ApiError("ACCESS_DENIED", "Only a portal admin can delete a bot")
    if not bot.deleting:
        activity.delete_bot_from_portal(call.platform, user=user, bot=bot)
    return {}


@control
def raw_event(call: ControlCall) -> dict:
    """Queue an event exactly as given (`type`, `data`), for poison tests: the platform checks nothing.

    `eventId`, when given, is the id shown on the wire (any integer, even beyond 64 bits); the queue's
    order and nextOffset stay the platform's own, as with a platform that mislabels one event.
    """
    bot = find_bot(call.platform, id_field(call.body, "botId"))
    event_type = str_field(call.body, "type", max_len=64)
    data = call.body.get("data")
    if data is None:
        raise ApiError("INVALID_REQUEST", "Missing required field: data")
    expect_type(data, dict, "data")
    wire_id = call.body.get("eventId")
    if wire_id is not None and (not isinstance(wire_id, int) or isinstance(wire_id, bool) or wire_id < 0):
        raise ApiError("INVALID_REQUEST", "eventId must be a non-negative integer")
    event = event_queue.emit(call.platform, bot, event_type, data, wire_id=wire_id)
    if event is None:
        raise not_found("BOT_NOT_FOUND", "The bot is being deleted")
    return {"event": {"botId": bot.id, **event_json(event)}}


routes = [
    Route("/_sandbox/act/raw-events", raw_event, methods=["POST"]),
    Route("/_sandbox/act/open", open_dialog, methods=["POST"]),
    Route("/_sandbox/act/messages", send_message, methods=["POST"]),
    Route("/_sandbox/act/messages/{message_id}/edit", edit_message, methods=["POST"]),
    Route("/_sandbox/act/messages/{message_id}/delete", delete_message, methods=["POST"]),
    Route("/_sandbox/act/buttons", press_button, methods=["POST"]),
    Route("/_sandbox/act/reactions", react, methods=["POST"]),
    Route("/_sandbox/act/chats", create_chat, methods=["POST"]),
    Route("/_sandbox/act/chats/{chat_id}/bots", add_bot, methods=["POST"]),
    Route("/_sandbox/act/context", request_context, methods=["POST"]),
    Route("/_sandbox/act/bots/{bot_id}/delete", delete_bot, methods=["POST"]),
]
