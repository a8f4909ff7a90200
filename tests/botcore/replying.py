"""A skill that answers each message with "got: <its text>", what a bot's chats hold of those answers and the
event a message was stored as: the tests of sends in doubt, of a platform's outage and of the kill window
count the answers the platform received."""

from __future__ import annotations

from botcore.models import Bot, EventLogEntry
from botcore.skills.base import Skill
from botcore.vibe.events import EventType, MessageAddEvent

SKILL_PATH = f"{__name__}.ReplySkill"


class ReplySkill(Skill):
    name = "replies"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        assert isinstance(event, MessageAddEvent)
        ctx.reply(f"got: {event.message.text}")


class ChatSkill(Skill):
    """Makes a chat about each message and says so: a new chat, then a post, in one handling."""

    name = "chats"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        chat = ctx.create_chat(f"about {event.message.text}", user_ids=[event.user.id])
        ctx.reply(f"made chat{chat.id}")


def replies(sandbox_portal, bot: Bot, text: str) -> list[dict]:
    """The bot's answers to `text` the platform holds, in every chat."""
    return [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m["text"] == f"got: {text}"]


def message_entry(bot: Bot, text: str) -> EventLogEntry:
    """The event log's entry of the message `text` the bot received."""
    return next(
        e
        for e in EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
        if e.payload["data"]["message"]["text"] == text
    )
