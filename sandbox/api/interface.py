"""Reference section "Interface": the bot's typing indicator and the chat's input field.

(Reactions, the third part of that section, live with messages in sandbox/api/messages.py.)
Shapes where the reference is silent (CONTRACT part B §7.6):
- Typing `{dialogId, statusMessageCode?, duration?}` -> {result:true}. No code shows plain "typing…"; a
  code is one of the 11 IMBOT_AGENT_ACTION_* values. `duration` is 1..600 seconds, default 30. The
  indicator is kept on the chat (`Chat.typing[botId]`) until the platform clock passes its end, or the
  bot posts a message, or it sends typing again (which replaces it).
- Text field `{dialogId, enabled}` -> {result:true}: turns the chat's input field off or on for users
  (`Chat.text_field_enabled`), in any chat the bot belongs to, 1:1 dialogs included.
- `dialogId` as in sending: a user id (the 1:1 dialog, opened on first use) or "chatN"; the bot must be a
  member (403 ACCESS_DENIED).
"""

from __future__ import annotations

from datetime import timedelta

from starlette.routing import Route

from sandbox.api.dialogs import member_chat
from sandbox.api.formats import clean_flag
from sandbox.http import ApiError, Call, endpoint
from sandbox.records import TypingStatus

TYPING_CODES = tuple(
    "IMBOT_AGENT_ACTION_" + name
    for name in (
        "THINKING", "SEARCHING", "GENERATING", "ANALYZING", "PROCESSING", "TRANSLATING", "CONNECTING",
        "CHECKING", "CALCULATING", "READING_DOCS", "COMPOSING",
    )
)  # fmt: skip
DEFAULT_TYPING_SECONDS = 30
MAX_TYPING_SECONDS = 600


def read_duration(value: object) -> int:
    if value is None:
        return DEFAULT_TYPING_SECONDS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TYPING_SECONDS:
        raise ApiError("INVALID_REQUEST", "duration must be an integer number of seconds from 1 to 600")
    return value


def read_status_code(value: object) -> str | None:
    if value is None or value == "":
        return None
    if value not in TYPING_CODES:
        raise ApiError("INVALID_REQUEST", "statusMessageCode must be one of: " + ", ".join(TYPING_CODES))
    return str(value)


@endpoint(auth="bot")
async def show_typing(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/typing {dialogId, statusMessageCode?, duration?} -> {result:true}."""
    bot, platform = call.bot, call.platform
    assert bot is not None
    code = read_status_code(call.body.get("statusMessageCode"))
    duration = read_duration(call.body.get("duration"))
    chat = member_chat(platform, bot, call.body.get("dialogId"), open_private=True)
    until = platform.now() + timedelta(seconds=duration)
    chat.typing[bot.id] = TypingStatus(status_message_code=code, until=until)
    return {"result": True}


@endpoint(auth="bot")
async def set_text_field(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/text-field {dialogId, enabled: true|false ("Y"|"N")} -> {result:true}."""
    bot = call.bot
    assert bot is not None
    if call.body.get("enabled") is None:
        raise ApiError("INVALID_REQUEST", "enabled is required: true turns the input field on, false off")
    enabled = clean_flag(call.body["enabled"], "enabled", default=True)
    chat = member_chat(call.platform, bot, call.body.get("dialogId"), open_private=True)
    chat.text_field_enabled = enabled
    return {"result": True}


routes = [
    Route("/v1/bots/{bot_id}/typing", show_typing, methods=["POST"]),
    Route("/v1/bots/{bot_id}/text-field", set_text_field, methods=["POST"]),
]
