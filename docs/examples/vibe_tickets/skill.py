# ruff: noqa: RUF001 (the Russian texts: docs/skills.md §1.4)
"""tickets: file a ticket in another service (an issue tracker) from the chat, with the portal's own token.

`/ticket the printer is jammed` (or `/ticket` in the bot's private dialog, then the summary as the next
message) drafts a ticket and asks its priority with buttons; a press files it through the tracker's API, in a
deferred job (a call to another service is no work for the bot's cycle), and the bot answers with the
ticket's number. At `digest_at` on `digest_days` the bot tells `digest_chat` how many were filed that day.

What it shows that the poll and the reminder do not (docs/skills.md §17): a `Secret` option (the tracker's
token, which the portal's admin gives and nobody sees again), a call to another service at the address the
admin gave (an `OutsideUrl`, called through `outside_client`: never the vendor's own network) with its
failures answered in the person's words, a conversation over two messages (`wants()` reading the state),
state for the whole portal (`ctx.state_for(TOTALS)`: a schedule's run is in no chat), and a schedule that
follows the options (`schedules_for`), none while no chat is chosen.

Try it:
PYTHONPATH=$PWD/docs/examples BOTCORE_SKILLS="help standup vibe_tickets.skill.TicketSkill echo" make run
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from django.utils import timezone

from botcore.skills.base import ChatScope, CommandSpec, MessageFilter, ScheduleSpec, Skill, SkillContext
from botcore.skills.cron import daily_cron, portal_zone
from botcore.skills.events import BackendEventType, DeferredJobEvent, ScheduledRunEvent, SkillEvent
from botcore.skills.i18n import pick
from botcore.skills.options import Choice, GroupChat, OptionsSchema, OutsideUrl, Secret, Time, Weekdays
from botcore.skills.outbound import OutsideAddressError, outside_client
from botcore.vibe import bbcode as bb
from botcore.vibe.events import CommandAddEvent, EventType, MessageAddEvent
from botcore.vibe.keyboards import Keyboard

SUMMARY_CHARS = 1000
TRACKER_TIMEOUT_SECONDS = 5  # well inside a cycle's 30 s, and a job's task timeout (docs/skills.md §8)
TOTALS = "totals"  # a state key that is no dialog: the skill's state for the whole portal (§7)
KEPT_DAYS = 7  # the totals keep this many days

PRIORITIES: Mapping[str, Mapping[str, str]] = {
    "low": {"en": "Low", "ru": "Низкий"},
    "normal": {"en": "Normal", "ru": "Обычный"},
    "high": {"en": "High", "ru": "Высокий"},
}
TEXTS: Mapping[str, Mapping[str, str]] = {
    "ask": {"en": "What is wrong? Say it in one message.", "ru": "Что случилось? Опишите одним сообщением."},
    "usage": {
        "en": "Say what is wrong: /ticket the printer is jammed",
        "ru": "Опишите, что случилось: /ticket принтер зажевал бумагу",
    },
    "new": {"en": "New ticket", "ru": "Новая заявка"},
    "priority": {"en": "Priority?", "ru": "Приоритет?"},
    "filing": {"en": "Filing it, priority {priority}…", "ru": "Отправляю, приоритет {priority}…"},
    "filed": {"en": "Filed: {number}", "ru": "Заявка создана: {number}"},
    "no_token": {
        "en": "The tracker's token is not set: ask the portal's admin.",
        "ru": "Токен трекера не задан: обратитесь к администратору портала.",
    },
    "refused": {
        "en": "The tracker refused the ticket ({status}): ask the portal's admin to check its token.",
        "ru": "Трекер не принял заявку ({status}): попросите администратора проверить токен.",
    },
    "inward": {
        "en": "The tracker's address leads to a private network, which the bot may not call: ask the portal's"
        " admin to check it.",
        "ru": "Адрес трекера ведёт во внутреннюю сеть, куда бот не обращается: попросите администратора"
        " проверить его.",
    },
    "down": {
        "en": "The tracker is not answering; press the button again later.",
        "ru": "Трекер не отвечает; нажмите кнопку ещё раз позже.",
    },
    "gone": {"en": "That ticket is filed or gone already.", "ru": "Эта заявка уже отправлена или удалена."},
    "digest": {"en": "Tickets filed today: {count}", "ru": "Заявок за сегодня: {count}"},
}


def text(key: str, language: str, **values: Any) -> str:
    return pick(TEXTS[key], language).format(**values)


class TrackerError(Exception):
    """The tracker did not file the ticket: `status` is its HTTP status, 0 when it did not answer;
    `is_inward` when its address leads to a private network or this host (nothing was sent)."""

    def __init__(self, status: int, *, is_inward: bool = False) -> None:
        super().__init__(f"the tracker answered {status}" if status else "the tracker did not answer")
        self.status = status
        self.is_inward = is_inward


def file_ticket(url: str, token: str, *, summary: str, priority: str, key: str) -> str:
    """POST the ticket to the tracker; its number, or TrackerError. The token goes in a header, never in the
    URL or an error's text (docs/skills.md §5: a Secret is redacted from logs, still never put it in one).
    The address is the admin's: outside_client calls it only where it leads to the internet (§17).
    `key` goes as the Idempotency-Key: a job run again after its worker died sends it again, so a tracker
    that keeps keys answers with the ticket it made rather than filing a second (§17.1)."""
    try:
        with outside_client(timeout=TRACKER_TIMEOUT_SECONDS) as client:
            answer = client.post(
                url,
                json={"summary": summary, "priority": priority},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            )
    except OutsideAddressError:
        raise TrackerError(0, is_inward=True) from None
    except httpx.HTTPError:
        raise TrackerError(0) from None
    if not answer.is_success:
        raise TrackerError(answer.status_code)
    try:
        return str(answer.json()["key"])
    except (ValueError, KeyError, TypeError):
        raise TrackerError(answer.status_code) from None


class TicketSkill(Skill):
    name = "tickets"
    event_types = frozenset({EventType.MESSAGE_ADD, EventType.COMMAND_ADD, BackendEventType.SCHEDULED_RUN})
    # Only while it waits for a summary (wants): any other private message goes on to the next skill.
    message_filter = MessageFilter(chats=ChatScope.PRIVATE)
    commands = (
        CommandSpec(
            "ticket",
            title={"en": "Ticket", "ru": "Заявка"},
            description={"en": "File a ticket in the tracker", "ru": "Создать заявку в трекере"},
            params={"en": "what is wrong", "ru": "что случилось"},
        ),
        CommandSpec("ticket_priority", title={"en": "Priority", "ru": "Приоритет"}, button_only=True),
    )
    options_schema = OptionsSchema(
        tracker_url=OutsideUrl(
            default="https://tracker.example.com/api/issues",
            pattern=r"https?://\S+",
            pattern_error={"en": "must be an http(s):// address", "ru": "нужен адрес http(s)://"},
            label={"en": "Tracker API address", "ru": "Адрес API трекера"},
        ),
        api_token=Secret(label={"en": "Tracker API token", "ru": "Токен API трекера"}),
        default_priority=Choice(
            choices=PRIORITIES,
            default="normal",
            label={"en": "Suggested priority", "ru": "Предлагаемый приоритет"},
            help={"en": "Its button is shown highlighted", "ru": "Его кнопка выделена"},
        ),
        digest_chat=GroupChat(label={"en": "Daily count to", "ru": "Итог дня в чат"}),
        digest_at=Time(default="17:00", label={"en": "Daily count at", "ru": "Итог дня в"}),
        digest_days=Weekdays(label={"en": "On", "ru": "По дням"}),
    )
    title = {"en": "Tickets", "ru": "Заявки"}
    summary = {"en": "Files tickets in the team's tracker", "ru": "Создаёт заявки в трекере команды"}
    enabled_by_default = False  # it needs the tracker's token first

    def schedules_for(self, options: Mapping[str, Any]) -> Sequence[ScheduleSpec]:
        if not options["digest_chat"]:
            return []  # no chat chosen: nothing to fire
        return [ScheduleSpec("digest", daily_cron(options["digest_at"], options["digest_days"]))]

    def wants(self, event: SkillEvent, ctx: SkillContext) -> bool:
        if isinstance(event, MessageAddEvent):
            return bool(ctx.state.get().get("awaiting"))  # the summary after a bare /ticket
        return True

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        if isinstance(event, ScheduledRunEvent):
            self._digest(event, ctx)
        elif isinstance(event, DeferredJobEvent):
            self._file(event, ctx)
        elif isinstance(event, CommandAddEvent) and event.command.name == "ticket_priority":
            self._picked(event, ctx)
        elif isinstance(event, CommandAddEvent):
            self._asked(event, ctx)
        elif isinstance(event, MessageAddEvent):
            self._draft(event.text_to_bot, ctx, ctx.reply)

    def _asked(self, event: CommandAddEvent, ctx: SkillContext) -> None:
        summary = event.command.params.strip()
        if summary:
            self._draft(summary, ctx, ctx.answer_command)
        elif ctx.dialog_id.startswith("chat"):
            # A group brings the bot only the messages that mention it: a summary to come would not reach it.
            ctx.answer_command(text("usage", ctx.language))
        else:
            with ctx.state.update() as data:
                data["awaiting"] = True
            ctx.answer_command(text("ask", ctx.language))

    def _draft(self, summary: str, ctx: SkillContext, say: Callable[..., int]) -> None:
        summary = bb.shorten(summary, SUMMARY_CHARS)
        with ctx.state.update() as data:  # no platform call inside: say() comes after the block
            data["awaiting"] = False
            number = data.get("next", 1)
            data["next"] = number + 1
            data.setdefault("drafts", {})[str(number)] = summary
        # A press gives back only the button's params: they say which draft and which priority (§15).
        keyboard = Keyboard()
        for value, label in PRIORITIES.items():
            suggested = value == ctx.options["default_priority"]
            keyboard.button(
                pick(label, ctx.language),
                command="ticket_priority",
                command_params=f"{number} {value}",
                color="primary" if suggested else None,
            )
        title = bb.bold(text("new", ctx.language))
        say(f"{title}: {bb.escape(summary)}\n{text('priority', ctx.language)}", keyboard=keyboard)

    def _picked(self, event: CommandAddEvent, ctx: SkillContext) -> None:
        number, _, priority = event.command.params.partition(" ")
        if not ctx.options["api_token"]:
            ctx.answer_command(text("no_token", ctx.language))  # the draft stays: a press after the admin's
            return
        with ctx.state.update() as data:
            drafts = data.get("drafts", {})
            summary = drafts.pop(number, None) if priority in PRIORITIES else None
            # A draft the tracker did not answer for keeps its first key: it may have filed it.
            key = data.get("keys", {}).pop(number, None) if summary is not None else None
        if summary is None:
            ctx.answer_command(text("gone", ctx.language))
            return
        label = pick(PRIORITIES[priority], ctx.language)
        ctx.answer_command(text("filing", ctx.language, priority=label))
        ctx.defer("file", number=number, summary=summary, priority=priority, key=key)

    def _file(self, job: DeferredJobEvent, ctx: SkillContext) -> None:
        key = job.data.get("key") or ctx.idempotency_key("tickets:file")
        try:
            ticket = file_ticket(
                ctx.options["tracker_url"],
                ctx.options["api_token"],
                summary=job.data["summary"],
                priority=job.data["priority"],
                key=key,
            )
        except TrackerError as error:
            # Said in the person's words, not failed: a raise would give them only the generic apology.
            # The draft goes back, so pressing again tries again.
            with ctx.state.update() as data:
                data.setdefault("drafts", {})[job.data["number"]] = job.data["summary"]
                if not error.status:  # no answer: the tracker may have filed it, so the next press asks again
                    data.setdefault("keys", {})[job.data["number"]] = key
            refused = 400 <= error.status < 500  # the token or the ticket; else the tracker is down
            if error.is_inward:
                said = text("inward", ctx.language)
            elif refused:
                said = text("refused", ctx.language, status=error.status)
            else:
                said = text("down", ctx.language)
            ctx.reply(said)
            return
        today = timezone.now().astimezone(portal_zone(ctx.timezone)).date().isoformat()
        with ctx.state_for(TOTALS).update() as totals:
            totals[today] = totals.get(today, 0) + 1
            for day in sorted(totals)[:-KEPT_DAYS]:
                del totals[day]
        ctx.reply(text("filed", ctx.language, number=bb.bold(ticket)))

    def _digest(self, event: ScheduledRunEvent, ctx: SkillContext) -> None:
        count = ctx.state_for(TOTALS).get().get(event.local_due_at.date().isoformat(), 0)
        ctx.send(ctx.options["digest_chat"], text("digest", ctx.portal_language, count=count))
