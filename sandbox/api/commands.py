"""Reference section "Commands": register, list, update, delete and answer a bot's slash commands.

Register takes the reference's flat echo-bot body {command, title, description} or the imbot.v2 fields
{command, title{lang:text}, params{lang:text}, common, hidden, extranetSupport}, flat or under `fields`.
A plain-string title, params or description is stored under the bot's language. The name is stored
without its leading "/"; registering a name the bot already has answers that command unchanged (200,
where a new one is 201: CONTRACT A §1's "Register answers 201", the table's "Register a command"; 200
under `plain-command-register`). Answers follow imbot.v2 Command.answer: posted in the chat of the command's
message (`dialogId`, if sent, must name that chat), as a system message when the bot is not a member
of that chat, and answered `{result: true}` as CONTRACT B §7.5 reads it (the message's id only under
`answer-message-id`).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

from sandbox.api.bots import flag_value
from sandbox.api.formats import clean_message_fields
from sandbox.http import ApiError, Call, Created, body_fields, endpoint, is_path_id
from sandbox.numbers import is_decimal
from sandbox.records import Bot, Chat, Command, Message
from sandbox.state import Platform

_NAME = re.compile(r"^[\w\-]{1,64}$")
_FLAGS = {"common": "common", "hidden": "hidden", "extranetSupport": "extranet_support"}


def read_name(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError("COMMAND_REQUIRED", "The command name is required", hint='Send command: "help"')
    name = value.strip().lstrip("/") if isinstance(value, str) else None
    if not name or not _NAME.match(name):
        raise ApiError("COMMAND_NAME_INVALID", "command may hold 1-64 letters, digits, '_' or '-'")
    return name


def lang_text(value: Any, name: str, language: str) -> dict[str, str]:
    """{lang: text} from a plain string (stored under `language`) or a map of language codes to text."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {language: value.strip()} if value.strip() else {}
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return {k: v.strip() for k, v in value.items() if v.strip()}
    raise ApiError("INVALID_REQUEST", f"{name} must be a string or an object of language codes to strings")


def command_json(command: Command) -> dict:
    return {
        "id": command.id,
        "botId": command.bot_id,
        "command": "/" + command.command,
        "title": command.title,
        "params": command.params,
        "description": command.description,
        "common": command.common,
        "hidden": command.hidden,
        "extranetSupport": command.extranet_support,
    }


def find_by_name(bot: Bot, name: str) -> Command | None:
    return next((c for c in bot.commands.values() if c.command.lower() == name.lower()), None)


def get_command(bot: Bot, raw_id: str) -> Command:
    # A non-numeric id was refused with the path (sandbox.http.check_path), unless `unchecked-path-ids`.
    command = bot.commands.get(int(raw_id)) if is_path_id(raw_id) else None
    if command is None:
        raise ApiError("COMMAND_NOT_FOUND", f"The bot has no command {raw_id}")
    return command


@endpoint(auth="bot")
async def register_command(call: Call) -> dict | Created:
    """POST /v1/bots/{bot_id}/commands: 201 {command} when new, 200 {command} when the bot has it."""
    bot = call.bot
    assert bot is not None
    fields = body_fields(call.body)
    name = read_name(fields.get("command"))
    flags = {attr: flag_value(fields[key], key) for key, attr in _FLAGS.items() if key in fields}
    title = lang_text(fields.get("title"), "title", bot.language)
    params = lang_text(fields.get("params"), "params", bot.language)
    description = lang_text(fields.get("description"), "description", bot.language)
    existing = find_by_name(bot, name)
    if existing is not None:
        return {"command": command_json(existing)}
    # imbot.v2 requires a title for a visible command; the reference never says so (untitled-commands).
    if not title and not flags.get("hidden", False) and not call.platform.speaks("untitled-commands"):
        raise ApiError(
            "COMMAND_TITLE_REQUIRED", "A visible command needs a title", hint="Send title, or hidden: true"
        )
    command = Command(
        id=call.platform.new_command_id(),
        bot_id=bot.id,
        command=name,
        title=title,
        params=params,
        description=description,
        **flags,
    )
    bot.commands[command.id] = command
    if call.platform.speaks("plain-command-register"):  # the reference shows its 201 on a bot's alone
        return {"command": command_json(command)}
    return Created({"command": command_json(command)})


@endpoint(auth="bot")
async def list_commands(call: Call) -> dict:
    """GET /v1/bots/{bot_id}/commands: {commands: [...]} in registration order."""
    assert call.bot is not None
    return {"commands": [command_json(c) for c in sorted(call.bot.commands.values(), key=lambda c: c.id)]}


@endpoint(auth="bot")
async def update_command(call: Call) -> dict:
    """PATCH /v1/bots/{bot_id}/commands/{command_id}: change name, texts or flags (flat or under `fields`)."""
    bot = call.bot
    assert bot is not None
    command = get_command(bot, call.path_param("command_id"))
    fields = body_fields(call.body)
    changes: dict[str, Any] = {
        attr: flag_value(fields[key], key) for key, attr in _FLAGS.items() if key in fields
    }
    for key in ("title", "params", "description"):
        if key in fields:
            changes[key] = lang_text(fields[key], key, bot.language)
    if "command" in fields:
        name = read_name(fields["command"])
        other = find_by_name(bot, name)
        if other is not None and other.id != command.id:
            raise ApiError("COMMAND_ALREADY_EXISTS", f"The bot already has /{name}", status=409)
        changes["command"] = name
    if not changes:
        raise ApiError("INVALID_REQUEST", "Nothing to update: send command, title, params or a flag")
    if not changes.get("title", command.title) and not changes.get("hidden", command.hidden):
        raise ApiError("COMMAND_TITLE_REQUIRED", "A visible command needs a title")
    for attr, value in changes.items():
        setattr(command, attr, value)
    return {"command": command_json(command)}


@endpoint(auth="bot")
async def delete_command(call: Call) -> dict:
    """DELETE /v1/bots/{bot_id}/commands/{command_id}: unregister; a repeat is 404 COMMAND_NOT_FOUND."""
    assert call.bot is not None
    command = get_command(call.bot, call.path_param("command_id"))
    del call.bot.commands[command.id]
    return {"result": True}


def command_message(platform: Platform, bot: Bot, raw_id: Any) -> tuple[Message, Chat]:
    """The message a command came in (by id), on the bot's portal and not deleted, with its chat."""
    if isinstance(raw_id, str) and is_decimal(raw_id.strip()) and len(raw_id.strip()) < 19:
        raw_id = int(raw_id.strip())
    if raw_id is None or raw_id == "":
        raise ApiError("INVALID_REQUEST", "messageId (the message the command came in) is required")
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        raise ApiError("INVALID_REQUEST", "messageId must be a message id (a number)")
    message = platform.messages.get(raw_id)
    chat = platform.chats.get(message.chat_id) if message is not None else None
    if message is None or message.deleted or chat is None or chat.portal_id != bot.portal_id:
        raise ApiError("MESSAGE_NOT_FOUND", f"No message {raw_id} on this portal")
    return message, chat


def check_dialog(bot: Bot, chat: Chat, dialog_id: Any) -> None:
    """An optional dialogId must name the chat of the command's message, as the bot would write it."""
    if dialog_id is None or dialog_id == "":
        return
    if chat.type == "private":
        names = {str(member) for member in chat.member_ids if member != bot.id}
    else:
        names = {chat.group_dialog_id}
    if str(dialog_id).strip() not in names:
        raise ApiError("COMMAND_ANSWER_FAILED", "dialogId is not the chat of messageId", hint="Omit dialogId")


@endpoint(auth="bot")
async def answer_command(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/commands/{command_id}/answer: {messageId, message, dialogId?, attach?,
    keyboard?, system?} flat or under `fields`; answers {result: true}, or with `answer-message-id`
    {result, id, messageId, chatId} (a repeated templateId: the first answer's)."""
    bot = call.bot
    assert bot is not None
    get_command(bot, call.path_param("command_id"))
    fields = body_fields(call.body)
    platform = call.platform
    asked, chat = command_message(platform, bot, fields.get("messageId"))
    check_dialog(bot, chat, fields.get("dialogId"))
    cleaned = clean_message_fields(fields)
    if not cleaned["text"].strip() and cleaned["attach"] is None and cleaned["keyboard"] is None:
        raise ApiError("EMPTY_MESSAGE", "The answer has no text, attach or keyboard")
    repeated = platform.find_templated(chat, author_id=bot.id, template_id=cleaned["template_id"])
    if repeated is not None:
        return answered(platform, repeated)
    replied = platform.messages.get(cleaned["reply_id"]) if cleaned["reply_id"] is not None else None
    if cleaned["reply_id"] is not None and (replied is None or replied.deleted or replied.chat_id != chat.id):
        raise ApiError("MESSAGE_NOT_FOUND", f"replyId {cleaned['reply_id']} is not a message of this chat")
    answer = platform.add_message(
        chat=chat,
        author_id=bot.id,
        text=cleaned["text"],
        keyboard=cleaned["keyboard"],
        attach=cleaned["attach"],
        # imbot.v2: an answer where the bot is not a member is posted as a system message
        is_system=cleaned["is_system"] or bot.id not in chat.member_ids,
        url_preview=cleaned["url_preview"],
        reply_id=cleaned["reply_id"],
        answer_to=asked.id,
        template_id=cleaned["template_id"],
    )
    chat.typing.pop(bot.id, None)  # a posted message ends "typing…"
    return answered(platform, answer)


def answered(platform: Platform, answer: Message) -> dict:
    """What an answer call says: the contract's bare `{result: true}`, or the message it posted where the
    platform speaks `answer-message-id`."""
    if not platform.speaks("answer-message-id"):
        return {"result": True}
    return {"result": True, "id": answer.id, "messageId": answer.id, "chatId": answer.chat_id}


routes = [
    Route("/v1/bots/{bot_id}/commands", register_command, methods=["POST"]),
    Route("/v1/bots/{bot_id}/commands", list_commands, methods=["GET"]),
    Route("/v1/bots/{bot_id}/commands/{command_id}", update_command, methods=["PATCH"]),
    Route("/v1/bots/{bot_id}/commands/{command_id}", delete_command, methods=["DELETE"]),
    Route("/v1/bots/{bot_id}/commands/{command_id}/answer", answer_command, methods=["POST"]),
]
