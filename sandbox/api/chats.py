"""Reference section "Chats": create group chats, read and change them, their members, managers and owner.

Shapes where the reference is silent (CONTRACT part A §9, imbot.v2 Chat.* in part B §7.4):
- Create takes `{fields:{…}}` or the same keys flat. The chat object is imbot.v2's: {id, dialogId:"chatN",
  name, description, type, messageType, owner, color, avatar, entityType, role (the calling bot's:
  owner|manager|member), managerList (owner first, then managers), muteList, textFieldEnabled,
  dateCreate, lastMessageId, userCounter, diskFolderId}.
- `{dialog_id}` in a path is "chatN", or for reading (get, users list, read marks) a user id naming the
  bot's 1:1 dialog with that user. Changing a chat needs a group chat (else 400 CHAT_TYPE_INVALID).
- Rights: any member reads; the owner or a manager renames, adds and removes members; only the owner
  hands over ownership and appoints or removes managers. A bot that creates a chat for another owner
  stays a manager of it. Otherwise, or when the bot is not a member: 403 ACCESS_DENIED.
- Member ids that are not active users of the portal (or are other bots) are skipped silently.
- Bot actions raise no events, for this bot or any other.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.routing import Route

from sandbox.api.dialogs import member_chat
from sandbox.api.formats import clean_text
from sandbox.http import ApiError, Call, body_fields, endpoint
from sandbox.numbers import is_decimal
from sandbox.payloads import full_chat_payload, person_payload
from sandbox.records import Chat
from sandbox.state import Platform

CHAT_COLORS = (
    "red", "green", "mint", "lightBlue", "darkBlue", "purple", "aqua", "pink", "lime", "brown", "azure",
    "khaki", "sand", "marengo", "gray", "graphite",
)  # fmt: skip
_COLOR_BY_KEY = {name.lower(): name for name in CHAT_COLORS}
_ORDER_KEYS = ("id", "userId", "lastSendMessageId")


# --- field readers ---------------------------------------------------------------------------------------


def read_color(value: Any) -> str:
    key = value.replace("_", "").lower() if isinstance(value, str) else None
    if key == "":
        return ""
    if key not in _COLOR_BY_KEY:
        raise ApiError("INVALID_REQUEST", f"color must be one of: {', '.join(CHAT_COLORS)}")
    return _COLOR_BY_KEY[key]


def read_avatar(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError("INVALID_REQUEST", "avatar must be a Base64 string")
    if value.lstrip().startswith("data:"):
        raise ApiError("INVALID_REQUEST", "avatar must be Base64 without a data: prefix")
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("INVALID_REQUEST", "avatar is not valid Base64") from None
    return value.strip()


def read_string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ApiError("INVALID_REQUEST", f"{name} must be a string")
    return value.strip()


def read_id(value: Any, name: str) -> int:
    if isinstance(value, str) and is_decimal(value.strip()) and len(value.strip()) < 19:
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ApiError("INVALID_REQUEST", f"{name} must be a user id (a positive integer)")


def read_ids(value: Any, name: str) -> list[int]:
    if not isinstance(value, list):
        raise ApiError("INVALID_REQUEST", f"{name} must be an array of user ids")
    return [read_id(item, f"{name}[{index}]") for index, item in enumerate(value)]


def active_users(platform: Platform, portal_id: str, ids: list[int]) -> list[int]:
    """The ids that are active users of the portal, in order, without repeats; the rest skipped silently."""

    def usable(user_id: int) -> bool:
        user = platform.users.get(user_id)
        return user is not None and user.portal_id == portal_id and user.active

    return list(dict.fromkeys(i for i in ids if usable(i)))


def group_chat(call: Call, *, rights: tuple[str, ...] = ("owner", "manager", "member")) -> Chat:
    """The group chat in the path, where the bot holds one of `rights`."""
    assert call.bot is not None
    chat = member_chat(call.platform, call.bot, call.path_param("dialog_id"))
    if chat.type == "private":
        raise ApiError("CHAT_TYPE_INVALID", "This works on group chats (chatN) only")
    if chat.role_of(call.bot.id) not in rights:
        needed = " or ".join(r for r in rights if r != "member")
        raise ApiError("ACCESS_DENIED", f"The bot must be the chat's {needed}")
    return chat


# --- endpoints -------------------------------------------------------------------------------------------


@endpoint(auth="bot")
async def create_chat(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/chats: {fields:{title, description, color, avatar, userIds, ownerId, message,
    entityType}} (or flat) -> {chat, users}. The bot is a member; the owner defaults to the bot."""
    bot, platform = call.bot, call.platform
    assert bot is not None
    fields = body_fields(call.body)
    user_ids = active_users(platform, bot.portal_id, read_ids(fields.get("userIds", []), "userIds"))
    owner_id = bot.id
    if fields.get("ownerId") not in (None, ""):
        owner_id = read_id(fields["ownerId"], "ownerId")
        if owner_id != bot.id and not active_users(platform, bot.portal_id, [owner_id]):
            raise ApiError("INVALID_REQUEST", f"ownerId {owner_id} is not an active user of this portal")
    extra = {
        "description": read_string(fields.get("description", ""), "description"),
        "color": read_color(fields.get("color", "")),
        "avatar": read_avatar(fields.get("avatar", "")),
        "entity_type": read_string(fields.get("entityType", ""), "entityType"),
    }
    title = read_string(fields.get("title", ""), "title")
    first_message = clean_text(fields.get("message"), "message")
    if not title:
        names = [platform.users[i].first_name for i in [owner_id, *user_ids] if i in platform.users]
        title = "Chat: " + ", ".join(dict.fromkeys([bot.name, *names]))
    chat = platform.create_group_chat(
        portal_id=bot.portal_id, owner_id=owner_id, title=title, member_ids=[bot.id, *user_ids], **extra
    )
    if owner_id != bot.id:
        chat.manager_ids.add(bot.id)  # the creator keeps the right to manage what it made
    if first_message.strip():
        platform.add_message(chat=chat, author_id=bot.id, text=first_message)
    return {
        "chat": full_chat_payload(platform, chat, bot=bot),
        "users": [person_payload(platform, m) for m in chat.member_ids],
    }


@endpoint(auth="bot")
async def get_chat(call: Call) -> dict:
    """GET /v1/bots/{bot_id}/chats/{dialog_id}: {chat} for a chat the bot belongs to."""
    assert call.bot is not None
    chat = member_chat(call.platform, call.bot, call.path_param("dialog_id"))
    return {"chat": full_chat_payload(call.platform, chat, bot=call.bot)}


@endpoint(auth="bot")
async def update_chat(call: Call) -> dict:
    """PATCH /v1/bots/{bot_id}/chats/{dialog_id}: {fields:{title, description, color, avatar}} (or flat) ->
    {result:true}."""
    chat = group_chat(call, rights=("owner", "manager"))
    fields = body_fields(call.body)
    changes: dict[str, str] = {}
    if "title" in fields:
        changes["title"] = read_string(fields["title"], "title")
        if not changes["title"]:
            raise ApiError("INVALID_REQUEST", "title must not be empty")
    if "description" in fields:
        changes["description"] = read_string(fields["description"], "description")
    if "color" in fields:
        changes["color"] = read_color(fields["color"])
    if "avatar" in fields:
        changes["avatar"] = read_avatar(fields["avatar"])
    if not changes:
        raise ApiError("INVALID_REQUEST", "Nothing to update: send title, description, color or avatar")
    for attr, value in changes.items():
        setattr(chat, attr, value)
    return {"result": True}


def remove_member(chat: Chat, member_id: int, platform: Platform) -> None:
    """Take a member out; an owner who goes hands the chat to the first remaining user (or bot)."""
    if member_id in chat.member_ids:
        chat.member_ids.remove(member_id)
    chat.manager_ids.discard(member_id)
    chat.typing.pop(member_id, None)
    if chat.owner_id == member_id:
        heirs = [m for m in chat.member_ids if m in platform.users] or chat.member_ids
        chat.owner_id = heirs[0] if heirs else 0
        chat.manager_ids.discard(chat.owner_id)


@endpoint(auth="bot")
async def leave_chat(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/chats/{dialog_id}/leave -> {result:true}; an owning bot hands the chat on."""
    assert call.bot is not None
    chat = group_chat(call)
    remove_member(chat, call.bot.id, call.platform)
    return {"result": True}


@endpoint(auth="bot")
async def set_owner(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/chats/{dialog_id}/owner {userId} -> {result:true}; the bot stays a member."""
    chat = group_chat(call, rights=("owner",))
    user_id = read_id(call.body.get("userId"), "userId")
    if user_id not in chat.member_ids:
        raise ApiError("USER_NOT_IN_CHAT", f"User {user_id} is not a member of this chat", hint="Add them")
    chat.owner_id = user_id
    chat.manager_ids.discard(user_id)
    return {"result": True}


@endpoint(auth="bot")
async def add_users(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/chats/{dialog_id}/users {userIds} -> {result:true}; unknown, inactive or
    other portals' users are skipped silently."""
    chat = group_chat(call, rights=("owner", "manager"))
    ids = read_ids(call.body.get("userIds"), "userIds")
    for user_id in active_users(call.platform, chat.portal_id, ids):
        if user_id not in chat.member_ids:
            chat.member_ids.append(user_id)
    return {"result": True}


@endpoint(auth="bot")
async def remove_users(call: Call) -> dict:
    """DELETE /v1/bots/{bot_id}/chats/{dialog_id}/users {userId} or {userIds} -> {result:true}; the owner
    cannot be removed (403 ACCESS_DENIED), non-members are skipped."""
    chat = group_chat(call, rights=("owner", "manager"))
    if "userIds" in call.body:
        ids = read_ids(call.body["userIds"], "userIds")
    else:
        ids = [read_id(call.body.get("userId"), "userId")]
    if chat.owner_id in ids:
        hint = "Hand the chat over first: POST …/owner"
        raise ApiError("ACCESS_DENIED", "The chat's owner cannot be removed", hint=hint)
    for member_id in ids:
        remove_member(chat, member_id, call.platform)
    return {"result": True}


def _order_keys(call: Call) -> list[tuple[str, bool]]:
    keys = []
    for name, direction in call.query.multi_items():
        if not name.startswith("order[") or not name.endswith("]"):
            continue
        key = name[6:-1]
        if key not in _ORDER_KEYS or direction.upper() not in ("ASC", "DESC"):
            raise ApiError("INVALID_REQUEST", "order takes order[id|userId|lastSendMessageId]=ASC|DESC")
        keys.append((key, direction.upper() == "DESC"))
    return keys or [("id", False)]


@endpoint(auth="bot")
async def list_users(call: Call) -> list:
    """GET /v1/bots/{bot_id}/chats/{dialog_id}/users?limit=1..200&order[id]=ASC|DESC -> [user, …] (a bare
    list of imbot.v2 user objects, bots with `bot: true`)."""
    assert call.bot is not None
    platform = call.platform
    chat = member_chat(platform, call.bot, call.path_param("dialog_id"))
    raw_limit = call.query.get("limit", "50")
    if not is_decimal(raw_limit) or not 1 <= int(raw_limit) <= 200:
        raise ApiError("INVALID_REQUEST", "limit must be an integer from 1 to 200")
    last_sent = {m.author_id: m.id for m in platform.chat_messages(chat)}
    members = list(chat.member_ids)
    for key, descending in reversed(_order_keys(call)):  # stable sorts: the first key sorts last
        by_last_message = key == "lastSendMessageId"
        members.sort(key=lambda m: last_sent.get(m, 0) if by_last_message else m, reverse=descending)
    return [person_payload(platform, m) for m in members[: int(raw_limit)]]


@endpoint(auth="bot")
async def add_managers(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/chats/{dialog_id}/managers {userIds} -> {result:true}; the owning bot only;
    non-members are skipped."""
    chat = group_chat(call, rights=("owner",))
    for member_id in read_ids(call.body.get("userIds"), "userIds"):
        if member_id in chat.member_ids and member_id != chat.owner_id:
            chat.manager_ids.add(member_id)
    return {"result": True}


@endpoint(auth="bot")
async def remove_managers(call: Call) -> dict:
    """DELETE /v1/bots/{bot_id}/chats/{dialog_id}/managers {userIds} -> {result:true}; the owning bot only."""
    chat = group_chat(call, rights=("owner",))
    for member_id in read_ids(call.body.get("userIds"), "userIds"):
        chat.manager_ids.discard(member_id)
    return {"result": True}


routes = [
    Route("/v1/bots/{bot_id}/chats", create_chat, methods=["POST"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}", get_chat, methods=["GET"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}", update_chat, methods=["PATCH"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/leave", leave_chat, methods=["POST"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/owner", set_owner, methods=["POST"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/users", add_users, methods=["POST"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/users", remove_users, methods=["DELETE"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/users", list_users, methods=["GET"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/managers", add_managers, methods=["POST"]),
    Route("/v1/bots/{bot_id}/chats/{dialog_id}/managers", remove_managers, methods=["DELETE"]),
]
