"""Control endpoints that read the platform back: what exists, what bots sent, what they will receive."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox import event_queue
from sandbox.control.base import ControlCall, control, find_bot, find_chat, find_user, not_found, parse_id
from sandbox.control.views import (
    app_json,
    bot_display_name,
    bot_json,
    chat_json,
    event_json,
    iso,
    message_json,
    person_json,
    portal_json,
    user_json,
)
from sandbox.http import ApiError, envelope_error
from sandbox.numbers import is_decimal


def _query_int(call: ControlCall, name: str, *, minimum: int = 0) -> int | None:
    raw = call.query.get(name)
    if raw in (None, ""):
        return None
    if not is_decimal(raw) or len(raw) > 18 or int(raw) < minimum:
        raise ApiError("INVALID_REQUEST", f"{name} must be an integer of at least {minimum}")
    return int(raw)


@control
def overview(call: ControlCall) -> dict:
    """Everything at a glance: portals with their users, apps (never their keys), bots, chats, settings."""
    platform = call.platform
    return {
        "portals": [
            {
                **portal_json(p),
                "users": [user_json(u) for u in platform.users.values() if u.portal_id == p.id],
            }
            for p in platform.portals.values()
        ],
        "apps": [app_json(a) for a in platform.apps.values()],
        "bots": [bot_json(platform, b) for b in platform.bots.values()],
        "chats": [chat_json(platform, c) for c in platform.chats.values()],
        "settings": {
            "sessionTtlSeconds": platform.session_ttl,
            "defaultRateLimit": platform.default_rate_limit,
            "clockOffsetSeconds": platform.clock_offset,
            "now": iso(platform.now()),
            "dialects": sorted(platform.dialects),
        },
    }


@control
def list_portals(call: ControlCall) -> dict:
    """Portals with their users only: the light listing the chat page refreshes."""
    platform = call.platform
    return {
        "portals": [
            {
                **portal_json(p),
                "users": [user_json(u) for u in platform.users.values() if u.portal_id == p.id],
            }
            for p in platform.portals.values()
        ]
    }


@control
def list_bots(call: ControlCall) -> dict:
    portal_id = call.query.get("portalId")
    if portal_id and portal_id not in call.platform.portals:
        raise not_found("PORTAL_NOT_FOUND", "No such portal")
    bots = [b for b in call.platform.bots.values() if not portal_id or b.portal_id == portal_id]
    return {"bots": [bot_json(call.platform, b) for b in bots]}


@control
def bot_messages(call: ControlCall) -> dict:
    """Every message the bot sent, deleted ones included (flagged), oldest first; kept after it is gone."""
    bot_id = call.path_id("bot_id", "botId")
    messages = [m for m in call.platform.messages.values() if m.author_id == bot_id]
    if bot_id not in call.platform.bots and not messages:
        raise not_found("BOT_NOT_FOUND", f"No bot {bot_id}")
    return {"messages": [message_json(call.platform, m) for m in messages]}


@control
def bot_events(call: ControlCall) -> dict:
    """The bot's pending (unacknowledged) events, without acknowledging anything."""
    bot = find_bot(call.platform, call.path_id("bot_id", "botId"))
    events, _ = event_queue.pending(bot, limit=10**9)
    return {
        "events": [event_json(e) for e in events],
        "storedOffset": bot.stored_offset,
        "nextEventId": bot.next_event_id,
    }


@control
def get_chat(call: ControlCall) -> dict:
    return {"chat": chat_json(call.platform, find_chat(call.platform, call.path_id("chat_id", "chatId")))}


@control
def chat_messages(call: ControlCall) -> dict:
    """The chat's messages, deleted ones included (flagged), oldest first; `limit` keeps the newest N."""
    chat = find_chat(call.platform, call.path_id("chat_id", "chatId"))
    messages = call.platform.chat_messages(chat, include_deleted=True)
    limit = _query_int(call, "limit", minimum=1)
    if limit is not None:
        messages = messages[-limit:]
    return {"messages": [message_json(call.platform, m) for m in messages]}


@control
def list_calls(call: ControlCall) -> dict:
    """The platform calls received, oldest first: `since` (a seq, exclusive), `botId`, `path` filter them."""
    since = _query_int(call, "since") or 0
    bot_id = call.query.get("botId")
    bot_filter = parse_id(bot_id, "botId") if bot_id else None
    path = call.query.get("path")
    records = [
        r
        for r in list(call.services.calls.records)
        if r.seq > since and (bot_filter is None or r.bot_id == bot_filter) and (not path or r.path == path)
    ]
    return {"calls": [r.as_json() for r in records]}


@control
def user_dialogs(call: ControlCall) -> dict:
    """What the chat page lists for a user: a 1:1 dialog with every bot of the portal and their group chats.

    A bot's dialog has `chatId: null` until the user first opens it. `people` names everyone on the
    portal (users and bots), for message authors, mentions and the new-chat form.
    """
    platform = call.platform
    user = find_user(platform, call.path_id("user_id", "userId"))
    dialogs = []
    for bot in platform.bots.values():
        if bot.portal_id != user.portal_id or bot.deleting:
            continue
        chat_id = platform.private_chats.get((user.id, bot.id))
        chat = platform.chats.get(chat_id) if chat_id else None
        dialogs.append(
            _dialog(
                platform,
                chat,
                key=f"bot-{bot.id}",
                title=bot_display_name(bot),
                bot_id=bot.id,
                subtitle=bot.work_position or ("chat bot" if bot.type == "bot" else f"{bot.type} bot"),
            )
        )
    for chat in platform.chats.values():
        if chat.type != "private" and user.id in chat.member_ids:
            dialogs.append(
                _dialog(
                    platform,
                    chat,
                    key=f"chat-{chat.id}",
                    title=chat.title or f"Chat {chat.id}",
                    subtitle=f"{len(chat.member_ids)} members",
                )
            )
    dialogs.sort(key=lambda d: (-(d["lastMessage"] or {}).get("id", 0), d["title"].lower()))
    people = [person_json(platform, u.id) for u in platform.users.values() if u.portal_id == user.portal_id]
    people += [person_json(platform, b.id) for b in platform.bots.values() if b.portal_id == user.portal_id]
    portal = platform.portals.get(user.portal_id)
    return {
        "user": user_json(user),
        "portal": portal_json(portal) if portal else None,
        "dialogs": dialogs,
        "people": people,
    }


def _dialog(platform, chat, *, key: str, title: str, subtitle: str, bot_id: int | None = None) -> dict:
    last = platform.messages.get(chat.last_message_id) if chat is not None and chat.last_message_id else None
    return {
        "key": key,
        "type": "private" if bot_id is not None else "chat",
        "chatId": chat.id if chat is not None else None,
        "botId": bot_id,
        "title": title,
        "subtitle": subtitle,
        "lastMessage": None
        if last is None
        else {
            "id": last.id,
            "authorId": last.author_id,
            "text": "" if last.deleted else last.text[:200],
            "deleted": last.deleted,
            "date": iso(last.date),
        },
    }


async def download_file(request: Request) -> Response:
    """A file's bytes, for the chat page's attachment links (the platform's own download needs a bot key)."""
    raw = str(request.path_params["file_id"])
    platform = request.app.state.services.platform
    stored = platform.files.get(int(raw)) if is_decimal(raw) and len(raw) <= 18 else None
    if stored is None:
        return envelope_error(not_found("FILE_NOT_FOUND", "No such file"))
    return Response(
        stored.content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": "attachment; filename*=UTF-8''" + quote(stored.name),
            "X-Content-Type-Options": "nosniff",
        },
    )


routes = [
    Route("/_sandbox/files/{file_id}", download_file, methods=["GET"]),
    Route("/_sandbox/state", overview, methods=["GET"]),
    Route("/_sandbox/portals", list_portals, methods=["GET"]),
    Route("/_sandbox/bots", list_bots, methods=["GET"]),
    Route("/_sandbox/bots/{bot_id}/messages", bot_messages, methods=["GET"]),
    Route("/_sandbox/bots/{bot_id}/events", bot_events, methods=["GET"]),
    Route("/_sandbox/chats/{chat_id}", get_chat, methods=["GET"]),
    Route("/_sandbox/chats/{chat_id}/messages", chat_messages, methods=["GET"]),
    Route("/_sandbox/calls", list_calls, methods=["GET"]),
    Route("/_sandbox/users/{user_id}/dialogs", user_dialogs, methods=["GET"]),
]
