# ruff: noqa: RUF001 (the Russian texts: docs/skills.md §1.4)
"""remind: work deferred to a time. `/remind 10 buy milk`, or "remind me in 10 minutes to buy milk" in the
bot's private dialog, and ten minutes later the bot says "buy milk" in that chat, to the person who asked.

The reminder is `ctx.defer_at(when, "ring", ...)`: stored at once (a re-handled event stores nothing twice),
started by the minute sweep when due (so up to a minute late), and handed back to this skill as a
DeferredJobEvent bound to the chat it was asked in, with `ctx.language` the asker's. A job is skipped when
the portal's admin turned the skill off meanwhile or the portal uninstalled the app, so what the skill keeps
about its waiting reminders must not count on each job running: the state keeps their due times, and only
the ones still ahead count against the cap. What a deferred job has to mind: docs/skills.md §16.

Try it:
PYTHONPATH=$PWD/docs/examples BOTCORE_SKILLS="help standup vibe_remind.skill.RemindSkill echo" make run
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.utils import timezone

from botcore.skills.base import ChatScope, CommandSpec, MessageFilter, Skill, SkillContext
from botcore.skills.events import DeferredJobEvent, SkillEvent
from botcore.skills.i18n import pick
from botcore.skills.options import Integer, OptionsSchema
from botcore.vibe import bbcode as bb
from botcore.vibe.events import CommandAddEvent, EventType

WHAT_CHARS = 500  # a reminder's own words, as kept in the job's data and said back
# "10 buy milk" (the command's params) or "remind me in 10 minutes to buy milk" (a message)
ASKED = re.compile(
    r"^\s*(?:remind me in\s+)?(\d{1,6})\s*(?:min(?:ute)?s?\b)?\s*(?:to\s+)?(\S.*)$", re.IGNORECASE | re.DOTALL
)

TEXTS: Mapping[str, Mapping[str, str]] = {
    "usage": {
        "en": "Say when and what: /remind 10 buy milk (in minutes, at most {most})",
        "ru": "Скажите когда и что: /remind 10 купить молоко (в минутах, не больше {most})",
    },
    "too_late": {
        "en": "At most {most} minutes ahead, please.",
        "ru": "Не больше чем на {most} минут вперёд.",
    },
    "too_many": {
        "en": "You have {count} reminders waiting here already; that is the most.",
        "ru": "У вас здесь уже {count} напоминаний; больше нельзя.",
    },
    "set": {
        "en": "OK: in {minutes} min I will remind you: {what}",
        "ru": "Хорошо: через {minutes} мин напомню: {what}",
    },
    "ring": {"en": "{who}, you asked me to remind you: {what}", "ru": "{who}, вы просили напомнить: {what}"},
}


class RemindSkill(Skill):
    name = "remind"
    event_types = frozenset({EventType.MESSAGE_ADD, EventType.COMMAND_ADD})
    message_filter = MessageFilter(pattern=r"^remind me in \d", chats=ChatScope.PRIVATE)
    commands = (
        CommandSpec(
            "remind",
            title={"en": "Remind", "ru": "Напомнить"},
            description={"en": "Remind me later, e.g. /remind 10 buy milk", "ru": "Напомнить позже"},
            params={"en": "minutes text", "ru": "минуты текст"},
        ),
    )
    options_schema = OptionsSchema(
        most_minutes=Integer(
            default=24 * 60,
            min=1,
            max=30 * 24 * 60,
            label={"en": "Furthest ahead, in minutes", "ru": "Не дальше, минут"},
        ),
        most_waiting=Integer(
            default=10,
            min=1,
            max=100,
            label={
                "en": "Reminders one person may have waiting in a chat",
                "ru": "Напоминаний в чате у человека",
            },
        ),
    )
    title = {"en": "Reminders", "ru": "Напоминания"}
    summary = {"en": "Reminds you later", "ru": "Напоминает позже"}
    enabled_by_default = False

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        if isinstance(event, DeferredJobEvent):
            self._ring(event, ctx)
            return
        say = ctx.answer_command if isinstance(event, CommandAddEvent) else ctx.reply
        text = event.command.params if isinstance(event, CommandAddEvent) else event.text_to_bot
        asked = ASKED.match(text)
        most = ctx.options["most_minutes"]
        if asked is None or int(asked[1]) == 0:
            say(pick(TEXTS["usage"], ctx.language).format(most=most))
            return
        minutes, what = int(asked[1]), bb.shorten(asked[2].strip(), WHAT_CHARS)
        if minutes > most:
            say(pick(TEXTS["too_late"], ctx.language).format(most=most))
            return
        now = timezone.now()
        due = now + timedelta(minutes=minutes)
        person = str(ctx.sender.id)
        with ctx.state.update() as data:  # no platform call inside: say() comes after the block
            waiting = data.setdefault("waiting", {})
            ahead = [when for when in waiting.get(person, []) if datetime.fromisoformat(when) > now]
            taken = len(ahead) < ctx.options["most_waiting"]
            waiting[person] = [*ahead, due.isoformat()] if taken else ahead
        if not taken:
            say(pick(TEXTS["too_many"], ctx.language).format(count=len(ahead)))
            return
        ctx.defer_at(due, "ring", what=what, person=ctx.sender.id, name=ctx.sender.name)
        say(pick(TEXTS["set"], ctx.language).format(minutes=minutes, what=bb.escape(what)))

    def _ring(self, job: DeferredJobEvent, ctx: SkillContext) -> None:
        who = bb.mention(job.data["person"], job.data["name"])
        ctx.reply(pick(TEXTS["ring"], ctx.language).format(who=who, what=bb.escape(job.data["what"])))
