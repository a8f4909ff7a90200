"""What portal users do (write, command, react, edit, delete, add a bot), and the bot events it raises.

The control API and the chat page both act through these functions, so a test and a person at the
chat page see the same platform. Delivery follows the reference: a `bot`-type (or `openline`) bot hears
its 1:1 dialogs and, in group chats, only messages that mention it; `supervisor` and `personal` bots
hear everything in chats they belong to. A message whose first word is one of the bot's registered
commands raises ONIMBOTV2COMMANDADD instead of ONIMBOTV2MESSAGEADD (under the `command-message` dialect,
after a MESSAGEADD of the same message).
"""

from __future__ import annotations

import re

from sandbox import event_queue
from sandbox.payloads import bot_payload, command_payload, event_envelope, message_payload
from sandbox.records import Bot, Chat, Message, User
from sandbox.state import Platform, StateError

_COMMAND = re.compile(r"^/(?P<name>[\w\-]+)(?:\s+(?P<params>.*))?$", re.DOTALL)
_MENTION = re.compile(r"\[user=(\d+)\]", re.IGNORECASE)


def mentioned_ids(text: str) -> set[int]:
    return {int(m) for m in _MENTION.findall(text)}


def hears(platform: Platform, bot: Bot, chat: Chat, message_text: str) -> bool:
    """Whether `bot` receives events for a user message with this text in `chat`."""
    if bot.id not in chat.member_ids:
        return False
    if chat.type == "private" or bot.type in ("supervisor", "personal"):
        return True
    return bot.id in mentioned_ids(message_text)


def find_command(bot: Bot, text: str, *, chat: Chat):
    match = _COMMAND.match(text.strip())
    if not match:
        return None, ""
    for command in bot.commands.values():
        if command.command.lower() == match["name"].lower() and (
            chat.type == "private" or command.common or bot.id in chat.member_ids
        ):
            return command, (match["params"] or "").strip()
    return None, ""


def send_user_message(
    platform: Platform, *, user: User, chat: Chat, text: str, params: dict | None = None
) -> Message:
    """A portal user writes in a chat; every bot that hears it gets MESSAGEADD or COMMANDADD."""
    if user.id not in chat.member_ids:
        raise StateError("ACCESS_DENIED", "The user is not a member of this chat")
    if not text.strip() and not (params or {}).get("files"):
        raise StateError("EMPTY_MESSAGE", "The message is empty")
    message = platform.add_message(chat=chat, author_id=user.id, text=text, params=params or {})
    for bot in platform.bots_in(chat):
        command, command_params = find_command(bot, text, chat=chat)
        if command is not None:
            if platform.speaks("command-message"):  # the message itself first, as any other message
                also = event_envelope(platform, bot, chat, user)
                also["message"] = message_payload(platform, message)
                event_queue.emit(platform, bot, "ONIMBOTV2MESSAGEADD", also)
            # Commands are addressed to the bot; in a group they need no mention.
            data = event_envelope(platform, bot, chat, user)
            data["command"] = command_payload(platform, command, command_params, "textarea")
            data["message"] = message_payload(platform, message)
            event_queue.emit(platform, bot, "ONIMBOTV2COMMANDADD", data)
        elif hears(platform, bot, chat, text):
            data = event_envelope(platform, bot, chat, user)
            data["message"] = message_payload(platform, message)
            event_queue.emit(platform, bot, "ONIMBOTV2MESSAGEADD", data)
    return message


def press_button(platform: Platform, *, user: User, message: Message, index: int) -> Message | None:
    """A user presses keyboard button `index` (counted over real buttons, NEWLINE entries skipped).

    `ACTION: SEND` sends its value as the user's message; `COMMAND` raises ONIMBOTV2COMMANDADD with
    context "keyboard"; the other actions act only in the user's client and raise nothing.
    """
    chat = platform.chats[message.chat_id]
    if user.id not in chat.member_ids:
        raise StateError("ACCESS_DENIED", "The user is not a member of this chat")
    buttons = [b for b in (message.keyboard or []) if b.get("TYPE") != "NEWLINE"]
    if not 0 <= index < len(buttons):
        raise StateError("BUTTON_NOT_FOUND", f"The message has no button {index}")
    button = buttons[index]
    if str(button.get("DISABLED", "N")).upper() == "Y":
        raise StateError("BUTTON_DISABLED", "The button is disabled")
    if button.get("ACTION") == "SEND":
        return send_user_message(platform, user=user, chat=chat, text=str(button.get("ACTION_VALUE", "")))
    if "COMMAND" in button:
        bot = platform.bots.get(message.author_id)
        if bot is None:
            raise StateError("BOT_NOT_FOUND", "The bot that sent this keyboard is gone")
        command = next(
            (c for c in bot.commands.values() if c.command == str(button["COMMAND"]).lstrip("/")), None
        )
        if command is None:
            raise StateError("COMMAND_NOT_FOUND", f"The bot has no command {button['COMMAND']}")
        data = event_envelope(platform, bot, chat, user)
        params = str(button.get("COMMAND_PARAMS", ""))
        data["command"] = command_payload(platform, command, params, "keyboard")
        data["message"] = message_payload(platform, message)
        event_queue.emit(platform, bot, "ONIMBOTV2COMMANDADD", data)
    return None


def react(platform: Platform, *, user: User, message: Message, reaction: str, action: str = "add") -> None:
    """A user adds or removes a reaction; bots in the chat that could see the message are told."""
    chat = platform.chats[message.chat_id]
    if user.id not in chat.member_ids:
        raise StateError("ACCESS_DENIED", "The user is not a member of this chat")
    holders = message.reactions.setdefault(reaction, set())
    if action == "add":
        if user.id in holders:
            raise StateError("REACTION_ALREADY_SET", "This reaction is already set")
        holders.add(user.id)
    elif action == "delete":
        if user.id not in holders:
            raise StateError("REACTION_NOT_FOUND", "There is no such reaction to remove")
        holders.discard(user.id)
    else:
        raise StateError("INVALID_ACTION", "action must be add or delete")
    for bot in platform.bots_in(chat):
        if not bot.is_reactions_enabled:
            continue
        if message.author_id == bot.id or hears(platform, bot, chat, message.text):
            data = event_envelope(platform, bot, chat, user)
            data.update(reaction=reaction, action=action, message=message_payload(platform, message))
            event_queue.emit(platform, bot, "ONIMBOTV2REACTIONCHANGE", data)


def edit_user_message(platform: Platform, *, user: User, message: Message, text: str) -> None:
    if message.author_id != user.id or message.deleted:
        raise StateError("MESSAGE_ACCESS_DENIED", "Only the author can edit a message")
    message.text = text
    message.edited_at = platform.now()
    chat = platform.chats[message.chat_id]
    for bot in platform.bots_in(chat):
        if hears(platform, bot, chat, text):
            data = event_envelope(platform, bot, chat, user)
            data["message"] = message_payload(platform, message)
            event_queue.emit(platform, bot, "ONIMBOTV2MESSAGEUPDATE", data)


def delete_user_message(platform: Platform, *, user: User, message: Message) -> None:
    if message.author_id != user.id or message.deleted:
        raise StateError("MESSAGE_ACCESS_DENIED", "Only the author can delete a message")
    message.deleted = True
    chat = platform.chats[message.chat_id]
    for bot in platform.bots_in(chat):
        if hears(platform, bot, chat, message.text):
            data = event_envelope(platform, bot, chat, user)
            data["messageId"] = message.id
            event_queue.emit(platform, bot, "ONIMBOTV2MESSAGEDELETE", data)


def open_private_chat(platform: Platform, *, user: User, bot: Bot) -> Chat:
    """A user opens the bot's dialog; the first time, the bot hears ONIMBOTV2JOINCHAT."""
    if user.portal_id != bot.portal_id:
        raise StateError("BOT_NOT_FOUND", "No such bot on this portal")
    is_new = (user.id, bot.id) not in platform.private_chats
    chat = platform.private_chat(user=user, bot=bot)
    if is_new:
        event_queue.emit(platform, bot, "ONIMBOTV2JOINCHAT", event_envelope(platform, bot, chat, user))
    return chat


def add_bot_to_chat(platform: Platform, *, user: User, chat: Chat, bot: Bot) -> None:
    if chat.type == "private":
        raise StateError("CHAT_TYPE_INVALID", "Bots are added to group chats only")
    if user.id not in chat.member_ids:
        raise StateError("ACCESS_DENIED", "The user is not a member of this chat")
    if bot.portal_id != chat.portal_id:
        raise StateError("BOT_NOT_FOUND", "No such bot on this portal")
    if bot.id in chat.member_ids:
        return
    chat.member_ids.append(bot.id)
    event_queue.emit(platform, bot, "ONIMBOTV2JOINCHAT", event_envelope(platform, bot, chat, user))


def delete_bot_from_portal(platform: Platform, *, user: User, bot: Bot) -> None:
    """A portal admin deletes the bot in Bitrix24: its last event is ONIMBOTV2DELETE, then nothing more."""
    event_queue.emit(platform, bot, "ONIMBOTV2DELETE", {"bot": bot_payload(platform, bot)}, force=True)
    bot.deleting = True


def request_context(platform: Platform, *, user: User, bot: Bot, chat: Chat, context: dict) -> None:
    """A user follows a BOT_CONTEXT link: the bot hears ONIMBOTV2CONTEXTGET."""
    data = event_envelope(platform, bot, chat, user)
    data["context"] = context
    event_queue.emit(platform, bot, "ONIMBOTV2CONTEXTGET", data)
