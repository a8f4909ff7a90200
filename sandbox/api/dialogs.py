"""How a bot names and sees chats: dialogId resolution, membership, roles, and the chat and person shapes.

Shared by the messages, chats and interface endpoints. A dialogId is "chatN" for a group chat or a user's
id for the bot's 1:1 dialog with that user (CONTRACT part B §7.3). People are imbot.v2 user objects;
a bot is a portal user too, shown with `bot: true`.
"""

from __future__ import annotations

from typing import Any

from sandbox.http import ApiError
from sandbox.state import Bot, Chat, Platform


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
    if dialog_id.isdigit() and not open_private:
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


def role_of(chat: Chat, member_id: int) -> str:
    if chat.owner_id == member_id:
        return "owner"
    if member_id in chat.manager_ids:
        return "manager"
    return "member" if member_id in chat.member_ids else "none"


def person_payload(platform: Platform, person_id: int) -> dict:
    """A chat member or message author as imbot.v2's user object; bots are users with `bot: true`."""
    user = platform.users.get(person_id)
    if user is not None:
        return platform.user_payload(user)
    bot = platform.bots.get(person_id)
    name = f"{bot.name} {bot.last_name}".strip() if bot else ""
    return {
        "id": person_id,
        "active": bot is not None,
        "name": name,
        "firstName": bot.name if bot else "",
        "lastName": bot.last_name if bot else "",
        "workPosition": bot.work_position if bot else "",
        "color": bot.color if bot else "",
        "avatar": bot.avatar if bot else "",
        "gender": (bot.gender if bot else "") or "M",
        "birthday": "",
        "extranet": False,
        "bot": True,
        "connector": False,
        "externalAuthId": "bot",
        "status": "online",
        "idle": False,
        "lastActivityDate": platform.iso(platform.now()),
        "absent": False,
        "departments": [],
        "phones": False,
        "type": "bot",
    }


def full_chat_payload(platform: Platform, chat: Chat, *, bot: Bot) -> dict:
    """The chat as Chat.get/Chat.add answer it, seen by `bot`."""
    name = chat.title
    if chat.type == "private" and not name:
        other = next((m for m in chat.member_ids if m != bot.id), None)
        name = person_payload(platform, other)["name"] if other is not None else ""
    managers = [] if chat.type == "private" else [chat.owner_id, *sorted(chat.manager_ids - {chat.owner_id})]
    return {
        "id": chat.id,
        "dialogId": platform.dialog_id_for(chat, bot=bot),
        "type": chat.type,
        "messageType": "P" if chat.type == "private" else "C",
        "name": name,
        "description": chat.description,
        "owner": chat.owner_id,
        "color": chat.color,
        "avatar": chat.avatar,
        "entityType": chat.entity_type,
        "role": role_of(chat, bot.id),
        "managerList": managers,
        "muteList": [],
        "textFieldEnabled": chat.text_field_enabled,
        "dateCreate": platform.iso(chat.created_at) if chat.created_at else None,
        "lastMessageId": chat.last_message_id,
        "userCounter": len(chat.member_ids),
        "diskFolderId": 0,
    }
