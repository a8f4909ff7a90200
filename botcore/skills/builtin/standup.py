"""standup: the reference's standup bot done properly — a private question to each participant at the portal's
configured time, their private answers collected through the day, and a summary posted to the group chat.

The portal admin sets the chat (and optionally the participants, else the chat's members) and the times in the
skill's options. State: each participant's 1:1 dialog holds {day, asked_at, status "open"/"closed", their
answers, each with its message, whose edits and deletions it follows (standup_answers.py; no more than the
summary shows: ANSWER_ROOM), open_until, zone (whose rules read the day's times)}; the group chat's dialog
holds the day's run {day, asked_at, participants, reported}: one standup a day in a chat, so times moved after
the day's question neither ask again nor post a second summary, and another chat picked the same day asks
afresh. While a participant's question is open (until the report time), their private messages are their
answer and no other skill sees them; before the question and after the report they go to the next skill (echo)
as usual. Whether one was written while the question was open is judged by the platform's time of the message,
read on our clock (the portal's may run minutes off ours, docs/skills.md §4): an answer written a moment
before the report time reaches the bot a moment after it (the summary waits for what the bot has received
before its time, docs/skills.md §9; one reaching the bot after the summary is posted is answered that it came
too late).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from botcore.skills.base import ChatScope, CommandSpec, MessageFilter, ScheduleSpec, Skill, SkillContext
from botcore.skills.builtin.standup_answers import (
    ANSWER_ROOM,
    Answer,
    find_answer,
    fit_answer,
    keep_answers,
    read_answers,
)
from botcore.skills.builtin.standup_texts import day_text, question_for, texts_for
from botcore.skills.cron import CronExpression, daily_cron, portal_zone, read_on_clock
from botcore.skills.events import BackendEventType, ScheduledRunEvent, SkillEvent
from botcore.skills.i18n import every_language, listed_languages, normalize_language
from botcore.skills.options import GroupChat, OptionsError, OptionsSchema, PortalUsers, Text, Time, Weekdays
from botcore.vibe import bbcode as bb
from botcore.vibe.errors import VibeApiError, VibeAuthError
from botcore.vibe.events import (
    CommandAddEvent,
    EventType,
    MessageAddEvent,
    MessageDeleteEvent,
    MessageUpdateEvent,
)

log = logging.getLogger(__name__)


class StandupSkill(Skill):
    name = "standup"
    event_types = frozenset(
        {
            EventType.MESSAGE_ADD,
            EventType.MESSAGE_UPDATE,
            EventType.MESSAGE_DELETE,
            EventType.COMMAND_ADD,
            BackendEventType.SCHEDULED_RUN,
        }
    )
    message_filter = MessageFilter(chats=ChatScope.PRIVATE)
    commands = (
        CommandSpec(
            "standup",
            title=every_language(_("Standup")),
            description=every_language(_("Today's standup: who has answered")),
        ),
    )
    options_schema = OptionsSchema(
        chat=GroupChat(
            required=True,
            label=every_language(_("Group chat for the summary")),
            help=every_language(_("A chat the bot was added to")),
        ),
        participants=PortalUsers(
            label=every_language(_("Participants")),
            help=every_language(_("None ticked: the chat's members")),
        ),
        ask_at=Time(default="09:30", label=every_language(_("Question at"))),
        report_at=Time(default="17:30", label=every_language(_("Summary at"))),
        weekdays=Weekdays(
            label=every_language(_("Days")), help=every_language(_("For example 1-5 or mon,wed,fri"))
        ),
        question=Text(
            max_length=1000,
            label=every_language(_("Question (empty: the standard one)")),
        ),
    )
    title = every_language(_("Standup"))
    summary = every_language(
        _("Asks the team privately on the days and at the time set, then posts a summary to the group chat")
    )
    enabled_by_default = False  # it needs a chat from the portal's admin first

    def check_options(self, values: dict[str, Any]) -> None:
        if values["report_at"] <= values["ask_at"]:
            raise OptionsError({"report_at": str(_("must be later in the day than the question"))})

    def schedules_for(self, options: dict[str, Any]) -> list[ScheduleSpec]:
        if not options.get("chat"):
            return []
        return [
            ScheduleSpec("ask", daily_cron(options["ask_at"], options["weekdays"])),
            # Moved to a time already past after the question went out: posted at once (report() tells
            # whether a question went out today and the summary is still to come).
            ScheduleSpec(
                "report", daily_cron(options["report_at"], options["weekdays"]), late_after_change=True
            ),
        ]

    def wants(self, event: SkillEvent, ctx: SkillContext) -> bool:
        if isinstance(event, MessageAddEvent):
            state = ctx.state.get()
            report_at = ctx.options["report_at"]
            # Open now, or it was when the person wrote: handled after the summary time, the summary may
            # still be to come (then it is an answer), or out (then they are told it came too late).
            return _is_open(state, report_at) or _written_while_open(state, report_at, event, ctx)
        if isinstance(event, (MessageUpdateEvent, MessageDeleteEvent)):
            state = ctx.state.get()
            return (
                _is_open(state, ctx.options["report_at"])
                and find_answer(read_answers(state), _message_id(event)) is not None
            )
        return True

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        if isinstance(event, ScheduledRunEvent):
            if event.schedule == "ask":
                self.ask(event, ctx)
            elif event.schedule == "report":
                self.report(event, ctx)
        elif isinstance(event, MessageAddEvent):
            self.collect(event, ctx)
        elif isinstance(event, (MessageUpdateEvent, MessageDeleteEvent)):
            self.amend(event, ctx)
        elif isinstance(event, CommandAddEvent):
            ctx.answer_command(self.status_text(ctx))

    # --- the morning question -----------------------------------------------------------------------
    def ask(self, event: ScheduledRunEvent, ctx: SkillContext) -> None:
        chat = ctx.options["chat"]
        day = event.local_due_at.date().isoformat()
        asked_at = event.local_due_at.isoformat()
        run = ctx.state_for(chat).get()
        if run.get("day") == day and run.get("asked_at", asked_at) != asked_at:
            return  # asked today already, before the admin moved the time: one standup a day
        if timezone.now() >= _report_instant(event.local_due_at, ctx.options["report_at"]):
            # A run kept back past the summary (the platform down, tried again within its catch-up window):
            # a question now could no longer be answered, and the summary went out or will not.
            log.warning("standup question not asked after its summary time portal=%s", ctx.portal_member_id)
            return
        try:
            users = ctx.list_chat_users(chat)
        except VibeApiError as error:
            if error.is_transient or not _refuses_person(error):
                raise
            if not ctx.options["participants"]:
                # Without the chat's members there is nobody to ask; /standup says why, not "no standup".
                with ctx.state_for(chat).update() as run:
                    run["ask_refused"] = {"day": day, "code": error.code}
                raise
            users = []  # the admin named the participants: their names come with their answers
        members = {user.id: user.name for user in users if not user.is_bot and user.is_active}
        languages = {user.id: user.language for user in users if user.language}
        ids = list(ctx.options["participants"]) or sorted(members)
        if any(i not in languages for i in ids):
            languages = {**listed_languages(ctx.list_portal_users, portal=ctx.portal_member_id), **languages}
        open_until = _report_instant(event.local_due_at, ctx.options["report_at"])
        zone = getattr(event.local_due_at.tzinfo, "key", "")  # its rules, for the summary's time (_asked_at)
        ctx.state_for(chat).set(
            {
                "day": day,
                "asked_at": asked_at,  # a retried run is this one again; another run today is not
                "participants": [{"id": i, "name": members.get(i, "")} for i in ids],
            }
        )
        for user_id in ids:
            with ctx.state_for(str(user_id)).update() as state:
                # A retried run keeps answers already given; another chat's run today starts afresh.
                if state.get("day") != day or state.get("asked_at") != asked_at:
                    language = state.get("language", "")
                    state.clear()
                    state.update(day=day, asked_at=asked_at, status="open", open_until=open_until.isoformat())
                    keep_answers(state, [])
                    if zone:
                        state["zone"] = zone
                    if language:
                        state["language"] = language
                # Each person is asked in their own language: the platform's, else the one they last wrote in
                # (else the portal's).
                language = languages.get(user_id) or state.get("language") or ctx.language
            question = ctx.options["question"] or question_for(language, event.local_due_at.hour)
            try:
                ctx.send(str(user_id), question)
            except VibeApiError as error:
                if error.is_transient or not _refuses_person(error):
                    # The run is retried, or waits for a credential; posts made carry their templateIds. A
                    # refused session or bot refuses every question: skipped, nobody was asked that day.
                    raise
                log.warning(
                    "standup question not delivered portal=%s user=%s: %s",
                    ctx.portal_member_id,
                    user_id,
                    error.code,
                )

    # --- answers through the day ----------------------------------------------------------------------
    def collect(self, event: MessageAddEvent, ctx: SkillContext) -> None:
        if ctx.state.get().get("status") == "closed":  # written while it was open (wants), after the summary
            ctx.reply(texts_for(ctx.language)["late"].format(time=ctx.options["report_at"]))
            return
        text = event.message.text.strip()
        name = event.user.name if event.user else ""
        with ctx.state.update() as state:
            answers = read_answers(state)
            first = not answers
            fitted = fit_answer(answers, text)
            refused = not fitted and bool(text)
            tell_refused = refused and not state.get("told_full")
            if refused:
                state["told_full"] = True
            else:
                keep_answers(state, [*answers, Answer(message_id=event.message.id, text=fitted)])
            if name:
                state["name"] = name
            if normalize_language(event.language):
                state["language"] = normalize_language(event.language)  # for tomorrow's question
        if tell_refused:
            ctx.reply(texts_for(ctx.language)["full"].format(count=ANSWER_ROOM))
        elif refused:
            return  # said once already
        elif first:
            ctx.reply(texts_for(ctx.language)["thanks"].format(time=ctx.options["report_at"]))
        else:
            ctx.react("like")

    def amend(self, event: MessageUpdateEvent | MessageDeleteEvent, ctx: SkillContext) -> None:
        """An answer edited or deleted before the summary: the summary shows it as it stands."""
        with ctx.state.update() as state:
            answers = read_answers(state)
            at = find_answer(answers, _message_id(event))
            if at is None:
                return  # taken out already (the handling runs again)
            text = event.message.text.strip() if isinstance(event, MessageUpdateEvent) else ""
            if text:
                # As long as the answer it replaces, or the room the others leave: never past ANSWER_ROOM.
                others = answers[:at] + answers[at + 1 :]
                answers[at]["text"] = fit_answer(others, text) or text[: len(answers[at]["text"])]
            else:
                del answers[at]
            keep_answers(state, answers)

    # --- the summary ------------------------------------------------------------------------------------
    def report(self, event: ScheduledRunEvent, ctx: SkillContext) -> None:
        chat = ctx.options["chat"]
        day = event.local_due_at.date().isoformat()
        run = ctx.state_for(chat).get()
        if run.get("day") != day or run.get("reported"):
            return  # no question went out today (the skill was off, the options changed), or posted already
        texts = texts_for(ctx.language)
        lines = [
            bb.bold(texts["summary_title"].format(day=day_text(event.local_due_at.date(), ctx.language)))
        ]
        for person in run.get("participants", []):
            state = ctx.state_for(str(person["id"])).get()
            answers = [a["text"] for a in read_answers(state)] if state.get("day") == day else []
            # Each person names themselves: one line, short, so that no name starts a line read as another's.
            shown = bb.plain_name(state.get("name") or person.get("name") or "")
            name = bb.bold(shown or f"#{person['id']}") + ": "
            # A mention as the name it shows, as the person saw it: repeated, it would ping them again.
            answer = "\n".join(bb.unmention(a) for a in answers) if answers else texts["no_answer"]
            lines.append(name + bb.shorten(answer, bb.MAX_TEXT_CHARS - len(name)))
        # In parts, each a whole message: the platform cuts a longer one (A §10), and the people at the end
        # with it.
        for part in bb.pack(lines, "\n"):
            ctx.send(chat, part)
        for person in run.get("participants", []):
            with ctx.state_for(str(person["id"])).update() as state:
                if state.get("day") == day:
                    state["status"] = "closed"
        with ctx.state_for(chat).update() as posted:
            posted["reported"] = True  # /standup says the summary went out, not that it is still to come

    def status_text(self, ctx: SkillContext) -> str:
        texts = texts_for(ctx.language)
        chat = ctx.options.get("chat")
        run = ctx.state_for(chat).get() if chat else {}
        now = timezone.now().astimezone(portal_zone(ctx.timezone))
        if run.get("day") != now.date().isoformat():
            refused = run.get("ask_refused") or {}
            if refused.get("day") == now.date().isoformat():
                return texts["ask_refused"].format(code=refused.get("code", ""))
            ask_at = ctx.options["ask_at"]
            day = next_question_day(now, ask_at, ctx.options["weekdays"])
            if day == now.date():
                return texts["no_standup_yet"].format(time=ask_at)
            return texts["no_standup_today"].format(day=day_text(day, ctx.language), time=ask_at)
        people = run.get("participants", [])
        answered = sum(1 for p in people if read_answers(ctx.state_for(str(p["id"])).get()))
        if run.get("reported"):
            ask_at = ctx.options["ask_at"]
            day = next_question_day(now, ask_at, ctx.options["weekdays"])
            return texts["reported"].format(
                answered=answered, total=len(people), day=day_text(day, ctx.language), time=ask_at
            )
        return texts["status"].format(answered=answered, total=len(people), time=ctx.options["report_at"])


def _refuses_person(error: VibeApiError) -> bool:
    """The platform refused this one request (a person or chat the bot may not reach), not the bot's
    credential or the bot itself, which no other question would get past either."""
    return not isinstance(error, VibeAuthError) and not error.concerns_bot


def _message_id(event: MessageUpdateEvent | MessageDeleteEvent) -> int:
    return event.message.id if isinstance(event, MessageUpdateEvent) else event.message_id


def _written_at(event: MessageAddEvent, ctx: SkillContext) -> datetime | None:
    """When the person wrote, on our clock: the platform's time of the message (else of its event), which
    the portal's clock dates. Compared as it stands with our times (the question's, the summary's), a portal
    clock two minutes ahead made an answer written at 17:29 one of 17:31, after a summary at 17:30, and one
    behind made a message written after the summary an answer that came too late (ctx.on_our_clock)."""
    written = event.message.date or event.date
    return ctx.on_our_clock(written) if written is not None else None


def _is_open(state: dict[str, Any], report_at: str) -> bool:
    """Whether the question is open now: asked, its summary not posted, and its closing time not come."""
    if state.get("status") != "open":
        return False
    closes = _closes_at(state, report_at)
    return closes is None or timezone.now() < closes


def _written_while_open(
    state: dict[str, Any], report_at: str, event: MessageAddEvent, ctx: SkillContext
) -> bool:
    """Whether the message was written (on our clock) while the day's question was open, though handled after
    it closed: an answer written a moment before the summary time reaches the bot a moment after it, before
    the summary is posted or after. When it was written is read last: reading the platform's time on our
    clock asks the database (ctx.on_our_clock), which a person never asked need not."""
    if state.get("status") not in ("open", "closed") or not state.get("asked_at"):
        return False
    closes = _closes_at(state, report_at)
    if closes is None:
        return False
    written = _written_at(event, ctx)
    return written is not None and _asked_at(state) <= written < closes


def _closes_at(state: dict[str, Any], report_at: str) -> datetime | None:
    """When a participant's question closes: at the report time the options say now (an admin may move it
    after the question went out), else at the one stored with the question."""
    if state.get("asked_at"):
        asked = _asked_at(state)
        report = _report_instant(asked, report_at)
        if report.date() == asked.date():  # moved before the question, it would hold it open overnight
            return report
    until = state.get("open_until")
    return datetime.fromisoformat(until) if until else None


def _asked_at(state: dict[str, Any]) -> datetime:
    """When the question went out, on the portal's clock: in its zone where the state kept it, so that the
    summary's time that day is read with the zone's rules (on a daylight-saving day the question's offset is
    not the summary's); else with the question's offset."""
    return read_on_clock(state["asked_at"], state.get("zone", ""))


def _report_instant(local_ask: datetime, report_at: str) -> datetime:
    """When today's summary is due: the report time on the question's day, on the portal's clock
    (`local_ask`'s zone; a time the clocks pass twice at its first passing, as the schedule fires it)."""
    hour, minute = (int(piece) for piece in report_at.split(":"))
    instant = datetime.combine(local_ask.date(), time(hour, minute), tzinfo=local_ask.tzinfo)
    return instant if instant > local_ask else instant + timedelta(days=1)


def next_question_day(now: datetime, ask_at: str, weekdays: list[int] | tuple[int, ...]) -> date:
    """The day the next question goes out: today while its time is still to come, else the next day the
    skill's own "ask" schedule (daily_cron, as schedules_for builds it) fires. `now`: the portal's clock."""
    fires = CronExpression.parse(daily_cron(ask_at, weekdays))
    asks = time.fromisoformat(ask_at)
    for ahead in range(8):
        day = now.date() + timedelta(days=ahead)
        if fires.matches(datetime.combine(day, asks)) and (ahead or now.time() < asks):
            return day
    raise ValueError(f"the ask schedule {fires.text!r} fires on no day of a week")
