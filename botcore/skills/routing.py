"""Picks the skill for a platform event: among the portal's enabled skills, in settings order, the first whose
declarations (event_types, commands, message_filter) fit and whose wants() agrees; one skill per event.

- The bot's own messages (by the event's bot, or the bot polled) and system messages reach no skill; other
  bots' messages only a skill whose MessageFilter has include_bots.
- A command goes to the first enabled skill that owns it (CommandSpec); a button-only command only when a
  keyboard button sent it. A skill that declares COMMAND_ADD but owns no commands is a catch-all: it gets
  the commands no enabled skill owns.
- No match: the event is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from botcore.skills.base import Skill, SkillContext, command_key
from botcore.vibe.events import (
    BotEvent,
    CommandAddEvent,
    EventType,
    MessageAddEvent,
    MessageUpdateEvent,
    ReactionChangeEvent,
)

ContextFactory = Callable[[Skill], SkillContext]


def is_own_or_system(event: BotEvent, *, bot_id: int | None = None) -> bool:
    """A message no skill should see: posted by this bot, or by the platform itself.

    `bot_id`: the platform id of the bot whose events these are, where the caller knows it: an event need not
    name its bot (the poll's path does), and a post of the bot's own that came back unrecognised was echoed
    for ever (an outside trial's platform)."""
    if not isinstance(event, (MessageAddEvent, MessageUpdateEvent)):
        return False
    own_ids = {bot_id, event.bot.id if event.bot is not None else None} - {None}
    return event.message.author_id in own_ids or event.message.is_system


def _fits(skill: Skill, event: BotEvent, *, owned_commands: set[str]) -> bool:
    if event.type not in skill.event_types:
        return False
    if isinstance(event, CommandAddEvent):
        if not skill.commands:
            return command_key(event.command.name) not in owned_commands
        spec = skill.command_spec(event.command.name)
        return spec is not None and spec.accepts(event.command.context)
    if isinstance(event, (MessageAddEvent, MessageUpdateEvent)):
        return skill.message_filter.matches(event)
    if isinstance(event, ReactionChangeEvent):
        return not (event.user is not None and event.user.is_bot)
    return True


def typed_command_answerers(skills: Iterable[Skill]) -> dict[str, Skill]:
    """Which skill a typed command reaches, by its name in lower case, given the enabled `skills` in routing
    order: the first that owns it, as select_skill picks (wants() aside, which only the event can tell).
    Button-only commands are left out: typed, they reach no skill that declares them so."""
    answerers: dict[str, Skill] = {}
    for skill in skills:
        for spec in skill.commands:
            if spec.accepts("textarea"):
                answerers.setdefault(spec.key, skill)
    return answerers


def select_skill(
    event: BotEvent, skills: Iterable[Skill], *, context_for: ContextFactory, bot_id: int | None = None
) -> Skill | None:
    """The skill that handles `event`, or None. `context_for(skill)` gives the context wants() may read;
    `bot_id`, the platform id of the bot the event came to, where known (is_own_or_system)."""
    if is_own_or_system(event, bot_id=bot_id):
        return None
    skills = list(skills)
    owned: set[str] = set()
    if event.type == EventType.COMMAND_ADD:
        owned = {spec.key for skill in skills for spec in skill.commands}
    for skill in skills:
        if _fits(skill, event, owned_commands=owned) and skill.wants(event, context_for(skill)):
            return skill
    return None
