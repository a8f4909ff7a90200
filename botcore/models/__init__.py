"""botcore's tables: bots and their event log (bots.py), and what skills keep (skills.py)."""

from botcore.models.bots import Bot, BotChat, BotCommand, Credential, EventLogEntry, LeftInDoubt
from botcore.models.skills import ActionRecord, ConversationState, SkillConfig, SkillRun, SkillSecret

__all__ = [
    "ActionRecord",
    "Bot",
    "BotChat",
    "BotCommand",
    "ConversationState",
    "Credential",
    "EventLogEntry",
    "LeftInDoubt",
    "SkillConfig",
    "SkillRun",
    "SkillSecret",
]
