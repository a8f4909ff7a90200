"""The control API's JSON shapes of platform objects: what a test or the chat page reads back.

They show everything a bot did (keyboards, attach, system flag, edits, deletions, reactions) and never
a key value or a session token.
"""

from __future__ import annotations

from datetime import datetime

from sandbox import event_queue
from sandbox.payloads import bot_payload
from sandbox.records import App, Bot, Chat, Event, Message, Portal, User
from sandbox.state import Platform


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def portal_json(portal: Portal) -> dict:
    return {"id": portal.id, "memberId": portal.member_id, "domain": portal.domain, "name": portal.name}


def user_json(user: User) -> dict:
    return {
        "id": user.id,
        "portalId": user.portal_id,
        "name": user.name,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "isAdmin": user.is_admin,
        "language": user.language,
        "workPosition": user.work_position,
    }


def app_json(app: App) -> dict:
    return {"id": app.id, "name": app.name, "scopes": sorted(app.scopes)}


def bot_display_name(bot: Bot) -> str:
    return f"{bot.name} {bot.last_name}".strip()


def bot_json(platform: Platform, bot: Bot) -> dict:
    key = platform.keys.get(bot.owner_key)
    pending, _ = event_queue.pending(bot, limit=10**9)
    return {
        **bot_payload(platform, bot),
        "portalId": bot.portal_id,
        "displayName": bot_display_name(bot),
        "keyKind": key.kind if key else None,  # which kind of key owns it; never the key
        "keyDigest": key.digest if key else None,  # which key (an app's rotated keys told apart)
        "appId": key.app_id if key else None,
        "ownerUserId": key.user_id if key else None,
        "createdAt": iso(bot.created_at),
        "deleting": bot.deleting,
        "pendingEvents": len(pending),
        "storedOffset": bot.stored_offset,
        "commands": [
            {
                "id": c.id,
                "command": "/" + c.command,
                "title": c.title,
                "params": c.params,
                "common": c.common,
                "hidden": c.hidden,
            }
            for c in bot.commands.values()
        ],
    }


def person_json(platform: Platform, person_id: int) -> dict:
    """Anyone who can appear in a chat: a user or a bot, with a name to show."""
    if person_id in platform.bots:
        bot = platform.bots[person_id]
        return {
            "id": bot.id,
            "name": bot_display_name(bot),
            "isBot": True,
            "botType": bot.type,
            "language": bot.language,
        }
    user = platform.users.get(person_id)
    if user is not None:
        return {"id": user.id, "name": user.name, "isBot": False, "isAdmin": user.is_admin}
    return {"id": person_id, "name": f"#{person_id}", "isBot": False, "gone": True}


def files_of(platform: Platform, message: Message) -> list[dict]:
    """The files a message carries (`params.files` holds their ids), with what a reader needs to show them."""
    ids = message.params.get("files") if isinstance(message.params, dict) else None
    found = []
    for file_id in ids if isinstance(ids, list) else []:
        stored = platform.files.get(file_id) if isinstance(file_id, int) else None
        if stored is not None:
            found.append(
                {
                    "id": stored.id,
                    "name": stored.name,
                    "extension": stored.extension,
                    "size": len(stored.content),
                }
            )
    return found


def message_json(platform: Platform, message: Message) -> dict:
    return {
        "id": message.id,
        "chatId": message.chat_id,
        "authorId": message.author_id,
        "text": message.text,
        "isSystem": message.is_system,
        "keyboard": message.keyboard,
        "attach": message.attach,
        "params": message.params,
        "reactions": {code: sorted(ids) for code, ids in message.reactions.items() if ids},
        "deleted": message.deleted,
        "editedAt": iso(message.edited_at),
        "answerTo": message.answer_to,
        "replyId": message.reply_id,
        "urlPreview": message.url_preview,
        "uuid": message.uuid,
        "files": files_of(platform, message),
        "date": iso(message.date),
        # `date` is whole seconds, as the platform answers; benchmarks time replies to the microsecond.
        "dateEpoch": message.date.timestamp(),
    }


def event_json(event: Event) -> dict:
    return {"eventId": event.shown_id, "type": event.type, "date": iso(event.date), "data": event.data}


def typing_json(platform: Platform, chat: Chat) -> list[dict]:
    """Who is typing in the chat right now (POST /typing keeps `Chat.typing`); ended indicators left out."""
    now = platform.now()
    return [
        {"userId": bot_id, "statusMessageCode": status.status_message_code, "until": iso(status.until)}
        for bot_id, status in chat.typing.items()
        if status.until > now
    ]


def read_marks_json(chat: Chat) -> dict[str, int]:
    """The last message id each member has read: {userId: messageId} (bots mark via POST …/read)."""
    return {str(member_id): message_id for member_id, message_id in chat.read_marks.items()}


def chat_json(platform: Platform, chat: Chat) -> dict:
    private_bot = (
        next((m for m in chat.member_ids if m in platform.bots), None) if chat.type == "private" else None
    )
    return {
        "id": chat.id,
        "portalId": chat.portal_id,
        "type": chat.type,
        "dialogId": chat.group_dialog_id if chat.type != "private" else None,
        "botId": private_bot,
        "title": chat.title,
        "description": chat.description,
        "color": chat.color,
        "avatar": chat.avatar,
        "entityType": chat.entity_type,
        "owner": chat.owner_id,
        "members": list(chat.member_ids),
        "managers": sorted(chat.manager_ids),
        "people": [person_json(platform, m) for m in chat.member_ids],
        "textFieldEnabled": chat.text_field_enabled,
        "typing": typing_json(platform, chat),
        "readMarks": read_marks_json(chat),
        "createdAt": iso(chat.created_at),
        "lastMessageId": chat.last_message_id,
    }
