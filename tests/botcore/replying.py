"""A skill that answers each message with "got: <its text>", and what a bot's chats hold of those answers:
the tests of sends in doubt and of a platform's outage count the answers the platform received."""

from __future__ import annotations

from botcore.models import Bot
from botcore.skills.base import Skill
from botcore.vibe.events import EventType, MessageAddEvent

SKILL_PATH = f"{__name__}.ReplySkill"


class ReplySkill(Skill):
    name = "replies"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        assert isinstance(event, MessageAddEvent)
        ctx.reply(f"got: {event.message.text}")


def replies(sandbox_portal, bot: Bot, text: str) -> list[dict]:
    """The bot's answers to `text` the platform holds, in every chat."""
    return [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m["text"] == f"got: {text}"]
