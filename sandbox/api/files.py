"""Reference section "Files": upload a file into a chat as the bot, and download one the bot can see.

Upload is imbot.v2 File.upload over JSON: {dialogId, fields:{name, content, message?}} (the fields may
also be flat), `content` plain Base64 without a `data:` prefix, inside the 40 MiB body cap. The file is
posted as a bot message whose params.files lists its id. Download answers {downloadUrl}: a URL outside
/v1 carrying the file's token, which serves the exact bytes to whoever holds it (the sandbox keeps one
token per file, so the URL may be fetched more than once).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.api.formats import clean_text
from sandbox.http import ApiError, Call, body_fields, endpoint, is_path_id
from sandbox.records import Bot, Chat, StoredFile
from sandbox.state import Platform

_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,255}$")
_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,16}$")


def read_file_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError("FILE_NAME_INVALID", "fields.name (the file name with its extension) is required")
    name = value.strip()
    stem, dot, extension = name.rpartition(".")
    if not _NAME.match(name) or not dot or not stem or not _EXTENSION.match(extension):
        raise ApiError("FILE_NAME_INVALID", "fields.name must be a file name with an extension, e.g. a.pdf")
    return name


def read_content(value: object) -> bytes:
    if value is None or value == "":
        raise ApiError("FILE_EMPTY", "fields.content is empty")
    if not isinstance(value, str):
        raise ApiError("FILE_INVALID_CONTENT", "fields.content must be a Base64 string")
    if value.lstrip().startswith("data:"):
        raise ApiError("FILE_INVALID_CONTENT", "fields.content must be plain Base64 without a data: prefix")
    try:
        content = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("FILE_INVALID_CONTENT", "fields.content is not valid Base64") from None
    if not content:
        raise ApiError("FILE_EMPTY", "fields.content decodes to no bytes")
    return content


def file_json(stored: StoredFile) -> dict:
    return {
        "id": stored.id,
        "chatId": stored.chat_id,
        "name": stored.name,
        "extension": stored.extension,
        "size": len(stored.content),
    }


def bot_chat(platform: Platform, bot: Bot, dialog_id: object) -> Chat:
    if isinstance(dialog_id, int) and not isinstance(dialog_id, bool):
        dialog_id = str(dialog_id)
    if not isinstance(dialog_id, str) or not dialog_id.strip():
        raise ApiError("INVALID_REQUEST", "dialogId is required: a user id or chatN")
    chat = platform.resolve_dialog(bot, dialog_id)
    if bot.id not in chat.member_ids:
        raise ApiError("ACCESS_DENIED", "The bot is not a member of this chat")
    return chat


@endpoint(auth="bot")
async def upload_file(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/files: {file:{id, chatId, name, extension, size}, messageId, chatId,
    dialogId}."""
    bot = call.bot
    assert bot is not None
    fields = body_fields(call.body)
    name = read_file_name(fields.get("name"))
    content = read_content(fields.get("content"))
    text = clean_text(fields.get("message"), "fields.message")
    platform = call.platform
    chat = bot_chat(platform, bot, call.body.get("dialogId", fields.get("dialogId")))
    stored = platform.add_file(chat=chat, name=name, content=content)
    message = platform.add_message(chat=chat, author_id=bot.id, text=text, params={"files": [stored.id]})
    stored.message_id = message.id
    chat.typing.pop(bot.id, None)  # a posted message ends "typing…"
    return {
        "file": file_json(stored),
        "messageId": message.id,
        "chatId": chat.id,
        "dialogId": platform.dialog_id_for(chat, bot=bot),
    }


@endpoint(auth="bot")
async def get_download_url(call: Call) -> dict:
    """GET /v1/bots/{bot_id}/files/{file_id}: {downloadUrl} for a file in a chat the bot belongs to."""
    bot = call.bot
    assert bot is not None
    raw_id = call.path_param("file_id")
    stored = call.platform.files.get(int(raw_id)) if is_path_id(raw_id) else None
    if stored is None or stored.portal_id != bot.portal_id:
        raise ApiError("FILE_NOT_FOUND", f"No file {raw_id} on this portal")
    chat = call.platform.chats.get(stored.chat_id)
    if chat is None or bot.id not in chat.member_ids:
        raise ApiError("FILE_ACCESS_ERROR", "The file is in a chat the bot is not a member of")
    root = str(call.request.base_url).rstrip("/")
    return {"downloadUrl": f"{root}/files/download/{stored.download_token}", **file_json(stored)}


async def download_file(request: Request) -> Response:
    """GET /files/download/{token}: the file's exact bytes as an attachment; no key needed, the token is."""
    platform: Platform = request.app.state.services.platform
    token = request.path_params["token"]
    stored = next((f for f in platform.files.values() if f.download_token == token), None)
    if stored is None:
        body = {"success": False, "error": {"code": "FILE_NOT_FOUND", "message": "No such file or link"}}
        return JSONResponse(body, status_code=404)
    media_type = mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    fallback = stored.name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(stored.name)}"
    return Response(stored.content, media_type=media_type, headers={"Content-Disposition": disposition})


routes = [
    Route("/v1/bots/{bot_id}/files", upload_file, methods=["POST"]),
    Route("/v1/bots/{bot_id}/files/{file_id}", get_download_url, methods=["GET"]),
    Route("/files/download/{token}", download_file, methods=["GET"]),
]
