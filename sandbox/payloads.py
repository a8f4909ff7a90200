"""How the platform's records look on the wire: the bot, user, chat and message objects of imbot.v2, the
fields every chat-borne event carries, and the platform's date format (CONTRACT part B §7.2).

The endpoints (`sandbox/api/`), the events users raise (`sandbox/activity.py`) and the identity and
OAuth answers all render through here, so one record always looks the same wherever it appears. A bot is
a portal user too: as a chat member or message author it is shown as a user object with `bot: true`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from sandbox.records import Bot, Chat, Command, Message, User
from sandbox.state import Platform


def iso(moment: datetime) -> str:
    """A date as the platform writes it: ISO 8601 with the offset, to the second."""
    return moment.isoformat(timespec="seconds")


def zoned_iso(moment: datetime) -> str:
    """A date as Java's ZonedDateTime writes it (`zoned-dates`): nanoseconds, the offset, then the zone's id
    in brackets ("2030-03-04T12:00:00.123456000+03:00[Europe/Moscow]")."""
    local = moment.astimezone(ZoneInfo("Europe/Moscow"))
    stamp = local.isoformat(timespec="microseconds")
    return f"{stamp[:-6]}000{stamp[-6:]}[Europe/Moscow]"


def platform_date(platform: Platform, moment: datetime) -> str:
    """A date of a record (an event, a message, a chat's creation) as the platform speaking now writes it:
    Java's ZonedDateTime under `zoned-dates`, else ISO 8601. An event's message keeps the form it had when the
    event was raised."""
    return zoned_iso(moment) if platform.speaks("zoned-dates") else iso(moment)


def bot_payload(platform: Platform, bot: Bot) -> dict:
    return {
        "id": bot.id,
        "code": bot.code,
        "type": bot.type,
        "name": bot.name,
        "lastName": bot.last_name,
        "workPosition": bot.work_position,
        "color": bot.color,
        "isHidden": bot.is_hidden,
        "isSupportOpenline": bot.is_support_openline,
        "isReactionsEnabled": bot.is_reactions_enabled,
        "backgroundId": bot.background_id,
        "language": bot.language,
        "moduleId": "vibecode",
        "eventMode": bot.event_mode,
        "countMessage": sum(1 for m in platform.messages.values() if m.author_id == bot.id),
        "countCommand": len(bot.commands),
        "countChat": sum(1 for c in platform.chats.values() if bot.id in c.member_ids),
        "countUser": sum(
            1 for c in platform.chats.values() if c.type == "private" and bot.id in c.member_ids
        ),
    }


def user_payload(platform: Platform, user: User) -> dict:
    return {
        "id": user.id,
        "active": user.active,
        "name": user.name,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "workPosition": user.work_position,
        "color": "#df532d",
        "avatar": "",
        "gender": "M",
        "birthday": "",
        "extranet": False,
        "bot": False,
        "connector": False,
        "externalAuthId": "default",
        "status": "online",
        "idle": False,
        "lastActivityDate": iso(platform.now()),
        "absent": False,
        "departments": [1],
        "phones": False,
        "type": "user",
    }


def person_payload(platform: Platform, person_id: int) -> dict:
    """A chat member or message author as imbot.v2's user object; bots are users with `bot: true`."""
    user = platform.users.get(person_id)
    if user is not None:
        return user_payload(platform, user)
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
        "lastActivityDate": iso(platform.now()),
        "absent": False,
        "departments": [],
        "phones": False,
        "type": "bot",
    }


def chat_payload(platform: Platform, chat: Chat, *, bot: Bot) -> dict:
    """The chat as an event shows it to `bot`."""
    return {
        "id": chat.id,
        "dialogId": platform.dialog_id_for(chat, bot=bot),
        "type": chat.type,
        "name": chat.title,
        "entityType": chat.entity_type,
        "owner": chat.owner_id,
        "avatar": chat.avatar,
        "color": chat.color,
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
        "role": chat.role_of(bot.id),
        "managerList": managers,
        "muteList": [],
        "textFieldEnabled": chat.text_field_enabled,
        "dateCreate": platform_date(platform, chat.created_at) if chat.created_at else None,
        "lastMessageId": chat.last_message_id,
        "userCounter": len(chat.member_ids),
        "diskFolderId": 0,
    }


def message_payload(platform: Platform, message: Message) -> dict:
    return {
        "id": message.id,
        "chatId": message.chat_id,
        "authorId": message.author_id,
        "date": platform_date(platform, message.date),
        "text": message.text,
        "isSystem": message.is_system,
        "uuid": message.uuid,
        "forward": None,
        "params": message.params,
        "viewedByOthers": False,
    }


def command_payload(platform: Platform, command: Command, params: str, context: str) -> dict:
    """The `command` field of ONIMBOTV2COMMANDADD; `context` is "textarea" or "keyboard"."""
    # The reference's echo bot compares command.command === 'ping' (CONTRACT A §12); imbot.v2 shows "/help".
    name = "/" + command.command if platform.speaks("command-slash") else command.command
    return {"id": command.id, "command": name, "params": params, "context": context}


def event_envelope(platform: Platform, bot: Bot, chat: Chat, user: User) -> dict:
    """The fields every chat-borne event carries."""
    return {
        "bot": bot_payload(platform, bot),
        "dialogId": platform.dialog_id_for(chat, bot=bot),
        "chat": chat_payload(platform, chat, bot=bot),
        "user": user_payload(platform, user),
        "language": user.language,
    }


def with_webhook_auth(platform: Platform, bot: Bot, data: dict) -> dict:
    """`data` as the `auth-in-events` dialect sends it: with the `auth` block a classic imbot webhook carries
    (a portal user's OAuth tokens and the app's application_token, fresh each event), and each file of its
    message as {id, name, urlDownload} whose query carries that access token, as Bitrix24's disk links do."""
    portal = platform.portals.get(bot.portal_id)
    domain = portal.domain if portal is not None else "portal.example"
    access_token = secrets.token_hex(16)
    auth = {
        "access_token": access_token,
        "expires": int(platform.now().timestamp()) + 3600,
        "expires_in": 3600,
        "scope": "imbot,im",
        "domain": domain,
        "server_endpoint": "https://oauth.bitrix.info/rest/",
        "status": "L",
        "client_endpoint": f"https://{domain}/rest/",
        "member_id": portal.member_id if portal is not None else "",
        "user_id": bot.id,
        "refresh_token": secrets.token_hex(16),
        "application_token": secrets.token_hex(16),
    }
    sent = {**data, "auth": auth}
    message = data.get("message")
    params = message.get("params") if isinstance(message, dict) else None
    files = params.get("files") if isinstance(params, dict) else None
    if isinstance(message, dict) and isinstance(params, dict) and isinstance(files, list) and files:
        linked = [_file_link(platform, file, domain=domain, token=access_token) for file in files]
        sent["message"] = {**message, "params": {**params, "files": linked}}
    return sent


def _file_link(platform: Platform, file: object, *, domain: str, token: str) -> object:
    stored = platform.files.get(file) if isinstance(file, int) else None
    if stored is None:
        return file  # not a file this platform keeps: as it was
    url = f"https://{domain}/rest/disk.attachedObject.download?id={stored.id}&auth={token}"
    return {"id": stored.id, "name": stored.name, "urlDownload": url}
