"""How a bot names the chats it works in: dialogId parsing and resolution, and the membership check.

Shared by the messages, chats and interface endpoints. A dialogId is "chatN" for a group chat or a user's
id for the bot's 1:1 dialog with that user (CONTRACT part B §7.3).
"""

from __future__ import annotations

from typing import Any

from sandbox.http import ApiError
from sandbox.numbers import is_decimal
from sandbox.records import Bot, Chat
from sandbox.state import Platform


def dialog_text(value: Any, name: str = "dialogId") -> str:
    """A dialogId from JSON: a string, or a number for a user id."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        problem = f"{name} is required: a user id for a 1:1 dialog, or chatN for a group chat"
        raise ApiError("INVALID_REQUEST", problem)
    return value.strip()


def find_chat(platform: Platform, bot: Bot, dialog_id: str, *, open_private: bool) -> Chat:
    """The chat a dialogId names for this bot; a 1:1 dialog is created only when `open_private`."""
    if is_decimal(dialog_id) and not open_private:
        user = platform.users.get(int(dialog_id)) if len(dialog_id) < 19 else None
        if user is None or user.portal_id != bot.portal_id:
            raise ApiError("USER_NOT_FOUND", f"No user {dialog_id} on this portal")
        chat_id = platform.private_chats.get((user.id, bot.id))
        if chat_id is None:
            raise ApiError("CHAT_NOT_FOUND", f"The bot has no dialog with user {dialog_id} yet")
        return platform.chats[chat_id]
    return platform.resolve_dialog(bot, dialog_id)


def member_chat(platform: Platform, bot: Bot, dialog_id: Any, *, open_private: bool = False) -> Chat:
    """The chat, which the bot must belong to (403 ACCESS_DENIED otherwise)."""
    chat = find_chat(platform, bot, dialog_text(dialog_id), open_private=open_private)
    if bot.id not in chat.member_ids:
        raise ApiError("ACCESS_DENIED", "The bot is not a member of this chat")
    return chat
