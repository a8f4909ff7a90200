"""standup: question, answers and summary as units (RecordingContext), then a whole day against the sandbox
with the clock moved (time_machine moves this process's clock, the in-process sandbox's included)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from botcore.models import SkillRun
from botcore.services.skill_configs import configure_skill, validate_options
from botcore.services.skill_schedules import sweep_schedules
from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.builtin.help import HelpSkill
from botcore.skills.builtin.standup import StandupSkill
from botcore.skills.options import OptionsError
from botcore.skills.testing import (
    RecordingContext,
    make_command_event,
    make_message_delete_event,
    make_message_event,
    make_message_update_event,
    make_scheduled_event,
    make_user,
    route,
    run_skill,
    would_handle,
)
from botcore.vibe import bbcode as bb
from botcore.vibe.errors import VibeAuthError, VibeForbiddenError
from botcore.vibe.parse import parse_event
from tests.botcore.skills.conftest import STANDUP_WITH_HELP_AND_ECHO

OPTIONS = {"chat": "chat5", "ask_at": "09:30", "report_at": "17:30"}
TEAM = {
    "chat5": [
        make_user(7, "Anna Lee"),
        make_user(8, "Boris Ivanov"),
        make_user(99, "Helper Bot", is_bot=True),
    ]
}
ASK = make_scheduled_event("ask", local_due_at="2030-03-04T09:30:00+03:00")
REPORT = make_scheduled_event("report", local_due_at="2030-03-04T17:30:00+03:00")


def test_the_question_goes_privately_to_each_chat_member_but_bots():
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    assert [(p.dialog_id, p.text) for p in ctx.posts] == [
        ("7", "Good morning! What did you do yesterday, what are you planning today, what is blocking you?"),
        ("8", "Good morning! What did you do yesterday, what are you planning today, what is blocking you?"),
    ]
    assert ctx.state_of("7")["status"] == "open" and ctx.state_of("chat5")["day"] == "2030-03-04"


def test_participants_set_by_the_admin_and_a_custom_question_in_the_portals_language():
    options = {**OPTIONS, "participants": [8, 12], "question": "Как дела?"}
    ctx = run_skill(
        StandupSkill(),
        make_scheduled_event("ask", local_due_at="2030-03-04T09:30:00+03:00", language="ru"),
        options=options,
        chat_users=TEAM,
    )
    assert [(p.dialog_id, p.text) for p in ctx.posts] == [("8", "Как дела?"), ("12", "Как дела?")]
    default = run_skill(
        StandupSkill(),
        make_scheduled_event("ask", local_due_at="2030-03-04T09:30:00+03:00", language="ru"),
        options={**OPTIONS, "participants": [8]},
        chat_users=TEAM,
    )
    assert default.replies == ["Доброе утро! Что вы сделали вчера, что планируете сегодня, что вам мешает?"]


@pytest.mark.parametrize(
    ("local_time", "language", "greeting"),
    [
        ("09:30", "en", "Good morning!"),
        ("14:00", "en", "Good afternoon!"),
        ("19:00", "en", "Good evening!"),
        ("09:30", "ru", "Доброе утро!"),
        ("14:00", "ru", "Добрый день!"),
        ("19:00", "ru", "Добрый вечер!"),
    ],
)
def test_the_question_greets_as_the_hour_of_the_portals_day_it_goes_out_at(local_time, language, greeting):
    """A standup set to ask at 19:00 said "Good morning!" (and "Доброе утро!") at any hour."""
    ask = make_scheduled_event("ask", local_due_at=f"2030-03-04T{local_time}:00+03:00", language=language)
    options = {**OPTIONS, "ask_at": local_time, "report_at": "21:00", "participants": [8]}
    ctx = run_skill(StandupSkill(), ask, options=options, chat_users=TEAM)
    assert [p.text.split(" ")[0:2] for p in ctx.posts] == [greeting.split(" ")]


def test_answers_are_collected_until_the_summary_which_names_who_did_not_answer():
    skill = StandupSkill()
    ctx = run_skill(skill, ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        first = run_skill(
            skill, make_message_event("Shipped the API", user_id=7, user_name="Anna Lee"), ctx=ctx
        )
        assert first.replies[-1].startswith("Thanks! Your answer goes into today's summary at 17:30")
        run_skill(skill, make_message_event("Blocked on review", user_id=7, user_name="Anna Lee"), ctx=ctx)
        assert ctx.reactions == ["like"]
    run_skill(skill, REPORT, ctx=ctx)
    assert ctx.posts_to("chat5")[-1].text == (
        "[b]Standup for March 4[/b]\n[b]Anna Lee[/b]: Shipped the API\nBlocked on review\n"
        "[b]Boris Ivanov[/b]: — no answer"
    )
    assert ctx.state_of("7")["status"] == "closed"


def test_a_summary_longer_than_a_message_goes_in_parts_and_loses_no_one():
    """The summary went as one message, and the platform cuts a message at 20,000 characters (CONTRACT A
    §10): in a team writing long answers, the people at the end were cut out of it."""
    people = [make_user(200 + n, f"Person {n}") for n in range(30)]
    skill = StandupSkill()
    ctx = run_skill(skill, ASK, options=OPTIONS, chat_users={"chat5": people})
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        for n in range(30):
            run_skill(
                skill,
                make_message_event(f"[{n}] " + "x" * 1500, user_id=200 + n, user_name=f"Person {n}"),
                ctx=ctx,
            )
        run_skill(
            skill, make_message_event("y" * 30_000, user_id=200, user_name="Person 0"), ctx=ctx
        )  # over a message
    run_skill(skill, REPORT, ctx=ctx)
    parts = [p.text for p in ctx.posts_to("chat5")]
    assert len(parts) > 1 and all(len(part) <= bb.MAX_TEXT_CHARS for part in parts)
    summary = "\n".join(parts)
    assert all(f"[b]Person {n}[/b]: " in summary for n in range(30))
    assert summary.startswith("[b]Standup for March 4[/b]") and "y" * 1000 in summary


def test_a_participants_answers_are_kept_only_as_far_as_the_summary_shows_them():
    """Every answer was kept, and each one rewrote them all: a participant writing thousands of long messages
    grew their dialog's state without end (20 MB at 1,000 messages of 20,000 characters, each next one
    ~0.2 s of a worker's CPU and 20 MB written). The summary shows at most MAX_TEXT_CHARS of one person's
    answers, so no more is kept: the last answer is cut to the room left, a later one is refused once, with
    a word to its writer, and an edit cannot grow them past it either."""
    skill = StandupSkill()
    ctx = run_skill(skill, ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        for n in range(5):
            run_skill(skill, make_message_event(str(n) * 9000, user_id=7, message_id=70 + n), ctx=ctx)
        kept = ctx.state_of("7")["answers"]
        assert kept[:2] == ["0" * 9000, "1" * 9000] and len(kept) == 3
        assert len("\n".join(kept)) == bb.MAX_TEXT_CHARS and set(kept[2]) == {"2"}
        assert [answer["message_id"] for answer in ctx.state_of("7")["answer_messages"]] == [70, 71, 72]
        # The thanks, then the refusal once (the fourth and fifth answers met the same).
        assert ctx.replies[-2].startswith("Thanks!")
        assert ctx.replies[-1].startswith("Today's summary has no room for more of your answers")
        run_skill(skill, make_message_update_event("9" * 20_000, user_id=7, message_id=70), ctx=ctx)
        kept = ctx.state_of("7")["answers"]
        assert len("\n".join(kept)) == bb.MAX_TEXT_CHARS and kept[0] == "9" * 9000
        run_skill(skill, make_message_delete_event(72, user_id=7), ctx=ctx)
        run_skill(skill, make_message_event("and one more", user_id=7, message_id=79), ctx=ctx)
        assert ctx.state_of("7")["answers"][-1] == "and one more"
    run_skill(skill, REPORT, ctx=ctx)
    assert "and one more" in "\n".join(post.text for post in ctx.posts_to("chat5"))


def taken_by(event, **state) -> str | None:
    """The name of the skill the kit's route() gives `event` among help, standup (with OPTIONS) and echo, with
    the `state` or `state_store` given; None where none takes it."""
    routed = route(event, [HelpSkill(), StandupSkill(), EchoSkill()], options={"standup": OPTIONS}, **state)
    return routed.name if routed else None


def test_after_the_summary_a_participants_messages_go_to_echo_again():
    closed = {"7": {"day": "2030-03-04", "status": "closed", "answers": ["x"]}}
    assert taken_by(make_message_event("hi", user_id=7), state=closed) == "echo"
    late = {
        "7": {"day": "2030-03-04", "status": "open", "answers": [], "open_until": "2030-03-04T17:30:00+03:00"}
    }
    with time_machine.travel(datetime(2030, 3, 4, 15, 0, tzinfo=UTC)):
        assert taken_by(make_message_event("hi", user_id=7), state=late) == "echo"


def test_an_answer_written_before_the_summary_time_is_an_answer_however_late_it_is_handled():
    """An answer written at 17:29:59 and polled a moment after 17:30 went to echo ("you wrote: ..."): the
    question's window was judged by the clock at handling, not by when the person wrote."""
    skill = StandupSkill()
    ctx = run_skill(skill, ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 14, 29, 59, tzinfo=UTC)):  # 17:29:59 in Moscow
        last_minute = make_message_event("Fixed the build", user_id=7, user_name="Anna Lee")
        missed = make_message_event("Reviewing", user_id=8, user_name="Boris Ivanov")
    with time_machine.travel(datetime(2030, 3, 4, 14, 30, 2, tzinfo=UTC)):
        run_skill(skill, last_minute, ctx=ctx)  # fails when routing would not give it to the standup
        assert ctx.replies[-1].startswith("Thanks!")
        run_skill(skill, REPORT, ctx=ctx)
        assert "[b]Anna Lee[/b]: Fixed the build" in ctx.posts_to("chat5")[-1].text
        # Handled after the summary went out: said so, not echoed.
        run_skill(skill, missed, ctx=ctx)
        assert ctx.replies[-1] == (
            "Your answer came after today's summary was posted at 17:30, so it is not in it."
        )
        written_after = make_message_event("hi", user_id=8)
        assert taken_by(written_after, state_store=ctx.state_store) == "echo"


def test_a_message_whose_platform_time_has_no_offset_is_judged_by_the_clock_not_refused():
    """A participant's message after the summary, its date without an offset: comparing it with the question's
    time raised TypeError in routing, so the message was never handled (echo did not answer it)."""
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    run_skill(StandupSkill(), REPORT, ctx=ctx)
    payload = {
        "eventId": 9,
        "type": "ONIMBOTV2MESSAGEADD",
        "date": "2030-03-04T18:00:00",
        "data": {
            "message": {"id": 31, "chatId": 7, "authorId": 7, "text": "hi", "date": "2030-03-04T18:00:00"},
            "chat": {"id": 7, "dialogId": "7", "type": "private"},
            "user": {"id": 7, "name": "Anna Lee"},
        },
    }
    with time_machine.travel(datetime(2030, 3, 4, 15, 0, tzinfo=UTC)):  # 18:00 in Moscow
        event = parse_event(payload)
        assert taken_by(event, state_store=ctx.state_store) == "echo"


def test_a_summary_without_a_question_that_day_posts_nothing():
    assert run_skill(StandupSkill(), REPORT, options=OPTIONS).posts == []


def test_the_status_command_counts_answers():
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        run_skill(StandupSkill(), make_message_event("done", user_id=8), ctx=ctx)
        answer = run_skill(
            StandupSkill(), make_command_event("standup", language="ru"), ctx=ctx, timezone="Europe/Moscow"
        )
    assert answer.answers == ["Сегодняшний стендап: ответов — 1 из 2. Итоги будут в 17:30."]


def test_after_the_summary_the_status_command_says_it_was_posted_and_when_the_next_question_is():
    """At 18:00 /standup said "The summary is posted at 17:30.", a time gone by, as if still to come."""
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        run_skill(StandupSkill(), make_message_event("done", user_id=8), ctx=ctx)
    run_skill(StandupSkill(), REPORT, ctx=ctx)
    with time_machine.travel(datetime(2030, 3, 4, 15, 0, tzinfo=UTC)):  # 18:00 in Moscow, Monday
        said = [
            run_skill(
                StandupSkill(), make_command_event("standup", language=language), ctx=ctx,
                timezone="Europe/Moscow",
            ).answers[-1]
            for language in ("en", "ru")
        ]  # fmt: skip
    assert said == [
        "Today's summary is posted in the chat: 1 of 2 answered. The next question goes out on March 5 "
        "at 09:30.",
        "Итоги сегодняшнего стендапа опубликованы в чате, ответов — 1 из 2. "
        "Следующий вопрос будет задан 5 марта в 09:30.",
    ]


def test_times_moved_after_the_days_question_neither_ask_again_nor_post_a_second_summary():
    """The admin moved the times after the day's question (trying the standup out): everyone was asked again,
    their answers then went to echo (the day's state was closed), and a second summary repeated the first."""

    def questions():
        return [p.dialog_id for p in ctx.posts if "What did you do yesterday" in p.text]

    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        run_skill(StandupSkill(), make_message_event("done", user_id=8), ctx=ctx)
    run_skill(StandupSkill(), REPORT, ctx=ctx)
    moved = {**OPTIONS, "ask_at": "18:00", "report_at": "19:00"}
    run_skill(
        StandupSkill(),
        make_scheduled_event("ask", local_due_at="2030-03-04T18:00:00+03:00"),
        ctx=ctx,
        options=moved,
    )
    run_skill(
        StandupSkill(),
        make_scheduled_event("report", local_due_at="2030-03-04T19:00:00+03:00"),
        ctx=ctx,
        options=moved,
    )
    assert questions() == ["7", "8"]
    assert len(ctx.posts_to("chat5")) == 1
    # The next day is a day like any other.
    run_skill(
        StandupSkill(),
        make_scheduled_event("ask", local_due_at="2030-03-05T18:00:00+03:00"),
        ctx=ctx,
        options=moved,
    )
    assert questions() == ["7", "8", "7", "8"]


def test_a_chat_changed_the_same_day_runs_its_own_standup_with_fresh_answers():
    """The admin picked another chat after the day's summary: everyone was asked again, but their answers
    went to echo (the day's state was closed) and the new chat's summary repeated the first chat's answers."""
    first = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        run_skill(StandupSkill(), make_message_event("first chat's answer", user_id=8), ctx=first)
    run_skill(StandupSkill(), REPORT, ctx=first)
    ctx = RecordingContext(
        skill=StandupSkill(),
        options={**OPTIONS, "chat": "chat6", "ask_at": "18:00", "report_at": "19:00"},
        chat_users={"chat6": TEAM["chat5"]},
        state_store=first.state_store,
    )
    run_skill(StandupSkill(), make_scheduled_event("ask", local_due_at="2030-03-04T18:00:00+03:00"), ctx=ctx)
    with time_machine.travel(datetime(2030, 3, 4, 15, 30, tzinfo=UTC)):  # 18:30 in Moscow
        # run_skill fails the test when routing would not give the skill the answer (echo would take it).
        run_skill(
            StandupSkill(),
            make_message_event("second chat's answer", user_id=8, user_name="Boris Ivanov"),
            ctx=ctx,
        )
    run_skill(
        StandupSkill(), make_scheduled_event("report", local_due_at="2030-03-04T19:00:00+03:00"), ctx=ctx
    )
    assert ctx.posts_to("chat6")[-1].text.splitlines()[1:] == [
        "[b]Anna Lee[/b]: — no answer",
        "[b]Boris Ivanov[/b]: second chat's answer",
    ]


def test_a_days_state_written_before_runs_were_told_apart_is_another_run():
    """Closed by a summary before the state named its run (no asked_at), it stayed closed for the new run."""
    earlier = {
        "8": {"day": "2030-03-04", "status": "closed", "answers": ["x"], "open_until": "2030-03-04T09:00"}
    }
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM, state=earlier)
    assert ctx.state_of("8")["status"] == "open" and ctx.state_of("8")["answers"] == []


def test_an_answer_edited_or_deleted_before_the_summary_shows_as_it_stands():
    """An answer's typo fixed in the dialog, or an answer deleted, went into the summary as first written."""
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        for message_id, text in ((71, "Shiped the API"), (72, "meant for another chat")):
            run_skill(StandupSkill(), make_message_event(text, user_id=7, message_id=message_id), ctx=ctx)
        run_skill(
            StandupSkill(), make_message_update_event("Shipped the API", user_id=7, message_id=71), ctx=ctx
        )
        run_skill(StandupSkill(), make_message_delete_event(72, user_id=7), ctx=ctx)
        # Not an answer (an edit of an older message): nobody's business.
        unknown = make_message_update_event("old", user_id=7, message_id=50)
        assert taken_by(unknown, state_store=ctx.state_store) is None
    run_skill(StandupSkill(), REPORT, ctx=ctx)
    assert ctx.posts_to("chat5")[-1].text.splitlines()[1] == "[b]John Smith[/b]: Shipped the API"


def test_a_summary_moved_later_after_the_question_still_takes_the_answers_until_it():
    """Moved from 17:30 to 19:00 after the question, an answer at 18:00 went to echo: the question had closed
    at the old time, while the thanks named the new one and the summary came at it without the answer."""
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    later = RecordingContext(
        skill=StandupSkill(), options={**OPTIONS, "report_at": "19:00"}, state_store=ctx.state_store
    )
    with time_machine.travel(datetime(2030, 3, 4, 15, 0, tzinfo=UTC)):  # 18:00 in Moscow
        # run_skill fails the test when routing would not give the skill the answer (echo would take it).
        run_skill(StandupSkill(), make_message_event("late but in", user_id=7), ctx=later)
    assert later.replies[-1].startswith("Thanks! Your answer goes into today's summary at 19:00")
    # Moved before the question's time, the summary does not hold it open overnight: it closes as asked.
    hello = make_message_event("hi", user_id=8)
    earlier = RecordingContext(
        skill=StandupSkill(),
        event=hello,
        options={**OPTIONS, "ask_at": "07:00", "report_at": "08:00"},
        state_store=ctx.state_store,
    )
    with time_machine.travel(datetime(2030, 3, 4, 15, 0, tzinfo=UTC)):
        assert not would_handle(StandupSkill(), hello, earlier)


@pytest.mark.parametrize(
    ("moment", "language", "expected"),
    [
        # Monday 08:00 in Moscow, before the question.
        (
            datetime(2030, 3, 4, 5, 0, tzinfo=UTC),
            "en",
            "No standup yet today: the question goes out at 09:30.",
        ),
        # Friday 20:18, the standup just turned on (a newcomer was told the question "goes out at 09:30").
        (
            datetime(2030, 3, 8, 17, 18, tzinfo=UTC),
            "en",
            "No standup today. The next question goes out on March 11 at 09:30.",
        ),
        # Saturday, not a standup day.
        (
            datetime(2030, 3, 9, 7, 0, tzinfo=UTC),
            "ru",
            "Сегодня стендапа нет. Следующий вопрос будет задан 11 марта в 09:30.",
        ),
    ],
)
def test_the_status_command_without_a_question_today_says_when_the_next_one_goes_out(
    moment, language, expected
):
    with time_machine.travel(moment):
        answer = run_skill(
            StandupSkill(), make_command_event("standup", language=language), options=OPTIONS,
            timezone="Europe/Moscow",
        )  # fmt: skip
    assert answer.answers == [expected]


def test_no_chat_no_schedules_and_a_summary_before_the_question_is_refused():
    skill = StandupSkill()
    assert skill.schedules_for(skill.options_schema.resolve({})) == []
    assert [s.cron for s in skill.schedules_for({**skill.options_schema.resolve({}), **OPTIONS})] == [
        "30 9 * * 1,2,3,4,5",
        "30 17 * * 1,2,3,4,5",
    ]
    with pytest.raises(OptionsError) as refused:
        validate_options(skill, {**OPTIONS, "report_at": "08:00"})
    assert refused.value.errors == {"report_at": "must be later in the day than the question"}


# --- a day against the sandbox ----------------------------------------------------------------------------
MONDAY_5_UTC = datetime(2030, 3, 4, 5, 0, tzinfo=UTC)  # 08:00 in Moscow


@pytest.fixture
def clock():
    """Started before the sandbox portal, so its session is issued on the moved clock too."""
    traveller = time_machine.travel(MONDAY_5_UTC, tick=True)
    yield traveller.start()
    traveller.stop()


@pytest.fixture
def skill_paths():
    return STANDUP_WITH_HELP_AND_ECHO


@pytest.mark.slow
def test_a_standup_day(clock, world, task_queue):
    from tenants.models import PortalSettings

    sp = world.sp
    PortalSettings.objects.update_or_create(portal=sp.portal, defaults={"timezone": "Europe/Moscow"})
    team = world.team(quiet_member="Carol Quiet")
    configure_skill(sp.portal, skill_name="standup", is_enabled=True, options={"chat": f"chat{team['id']}"})
    task_queue.run()  # the switch re-registers the bot's commands: /standup now

    world.say("morning!")  # before the question: echo's
    world.poll()
    assert sweep_schedules() == 0

    clock.move_to(datetime(2030, 3, 4, 6, 30, 20, tzinfo=UTC))  # 09:30 in Moscow
    assert sweep_schedules() == 1 and sweep_schedules() == 0
    task_queue.run()
    texts = [m["text"] for m in world.messages()]
    questions = [t.split("!")[0] for t in texts if t.startswith(("Good morning!", "Доброе утро!"))]
    # Alice, Boris and Carol, each in their 1:1 dialog; Boris in Russian, as the platform lists him.
    assert sorted(questions) == ["Good morning", "Good morning", "Доброе утро"]

    world.say("Yesterday: the API. Today: tests.")
    world.say("Вчера: ревью.", user_id=sp.member_id)
    world.say("Сегодня: стендап-бот.", user_id=sp.member_id)
    world.poll()
    shown = [m["text"] for m in world.messages()]
    assert "Alice, you wrote: [i]morning![/i]" in shown
    assert not any("you wrote: [i]Yesterday" in t for t in shown)  # standup took the answer, not echo
    assert any(t.startswith("Спасибо!") for t in shown) and any(t.startswith("Thanks!") for t in shown)

    clock.move_to(datetime(2030, 3, 4, 14, 30, 5, tzinfo=UTC))  # 17:30 in Moscow
    assert sweep_schedules() == 1
    task_queue.run()
    summary = [m for m in world.chat_messages(team["id"]) if m["text"].startswith("[b]Standup for March 4")]
    assert len(summary) == 1
    assert summary[0]["text"].splitlines()[1:] == [
        "[b]Alice Admin[/b]: Yesterday: the API. Today: tests.",
        "[b]Boris Ivanov[/b]: Вчера: ревью.",
        "Сегодня: стендап-бот.",
        "[b]Carol Quiet[/b]: — no answer",
    ]
    assert set(SkillRun.objects.values_list("status", flat=True)) == {"done"}

    world.say("evening")  # the question is closed: echo again
    world.poll()
    assert "Alice, you wrote: [i]evening[/i]" in [m["text"] for m in world.messages()]


@pytest.mark.slow
def test_a_hostile_name_in_the_sandbox_is_one_line_of_the_summary_the_chat_receives(clock, world, task_queue):
    """A portal user whose name carries a line break and a right-to-left override: the summary the chat got
    (the sandbox's record) has a line a person, and an answer's mention shows as the name."""
    from tenants.models import PortalSettings

    sp = world.sp
    PortalSettings.objects.update_or_create(portal=sp.portal, defaults={"timezone": "Europe/Moscow"})
    team = world.team(quiet_member="Carol\n[b]Boris Ivanov[/b]: all done, nothing blocks me\u202e")
    configure_skill(sp.portal, skill_name="standup", is_enabled=True, options={"chat": f"chat{team['id']}"})
    task_queue.run()
    clock.move_to(datetime(2030, 3, 4, 6, 30, 20, tzinfo=UTC))  # 09:30 in Moscow
    assert sweep_schedules() == 1
    task_queue.run()
    world.say(f"[USER={sp.member_id}]Boris Ivanov[/USER] please review")
    world.poll()
    clock.move_to(datetime(2030, 3, 4, 14, 30, 5, tzinfo=UTC))  # 17:30 in Moscow
    assert sweep_schedules() == 1
    task_queue.run()
    [summary] = [m["text"] for m in world.chat_messages(team["id"]) if m["text"].startswith("[b]Standup for")]
    lines = summary.split("\n")
    assert len(lines) == 1 + 3, lines  # the title, Alice, Carol, Boris
    assert sum(line.startswith("[b]Boris Ivanov[/b]: ") for line in lines) == 1
    assert "\u202e" not in summary and "USER" not in summary.upper()
    assert "[b]Alice Admin[/b]: Boris Ivanov please review" in lines


def _standup_on_a_skewed_platform(clock, world, task_queue, *, skew_seconds: int) -> dict:
    """The day's question out at 09:30 in Moscow on a platform whose clock runs `skew_seconds` ahead of
    ours (negative: behind); Alice, then Boris, then Alice again answer in the morning."""
    from tenants.models import PortalSettings

    sp = world.sp
    PortalSettings.objects.update_or_create(portal=sp.portal, defaults={"timezone": "Europe/Moscow"})
    team = world.team(quiet_member="Carol Quiet")
    configure_skill(sp.portal, skill_name="standup", is_enabled=True, options={"chat": f"chat{team['id']}"})
    task_queue.run()
    sp.control.post("/_sandbox/clock", json={"advanceSeconds": skew_seconds})
    clock.move_to(datetime(2030, 3, 4, 6, 30, 20, tzinfo=UTC))  # 09:30 in Moscow
    assert sweep_schedules() == 1
    task_queue.run()
    for text, user_id in (("The API.", sp.admin_id), ("Ревью.", sp.member_id), ("And tests.", sp.admin_id)):
        world.say(text, user_id=user_id)
        world.poll()
    return team


def _shown(world) -> list[str]:
    return [m["text"] for m in world.messages()]


def _handled_by(world, message: dict) -> str:
    """The skill the bot gave a person's message to."""
    from botcore.models import EventLogEntry

    [entry] = EventLogEntry.objects.filter(bot=world.bot, message_id=message["id"])
    return entry.skill


@pytest.mark.slow
def test_an_answer_written_before_the_summary_time_counts_on_a_portal_clock_two_minutes_ahead(
    clock, world, task_queue
):
    """The portal's clock two minutes ahead of ours dates an answer written at 17:29:30 17:31:30: polled a
    moment after 17:30, before the summary, it was taken for a message written after the summary time,
    echoed, and left out of the summary. The platform's dates are read on our clock."""
    team = _standup_on_a_skewed_platform(clock, world, task_queue, skew_seconds=120)
    clock.move_to(datetime(2030, 3, 4, 14, 29, 30, tzinfo=UTC))  # 17:29:30 in Moscow, 17:31:30 on the portal
    said = world.say("Сегодня: стендап-бот.", user_id=world.sp.member_id)
    clock.move_to(datetime(2030, 3, 4, 14, 30, 5, tzinfo=UTC))
    world.poll()
    assert sweep_schedules() == 1
    task_queue.run()
    assert _handled_by(world, said) == "standup"  # an answer (thanked), not echo's
    [summary] = [m for m in world.chat_messages(team["id"]) if m["text"].startswith("[b]Standup for")]
    assert summary["text"].splitlines()[1:] == [
        "[b]Alice Admin[/b]: The API.",
        "And tests.",
        "[b]Boris Ivanov[/b]: Ревью.",
        "Сегодня: стендап-бот.",
        "[b]Carol Quiet[/b]: — no answer",
    ]


@pytest.mark.slow
def test_a_message_written_after_the_summary_is_not_told_it_came_late_on_a_portal_clock_behind(
    clock, world, task_queue
):
    """The portal's clock two minutes behind ours dates a message written at 17:31, after the summary went
    out, 17:29: it was told it came too late for the summary, as if written before its time; a message
    after the summary goes to the next skill (echo), as it does on a clock that agrees with ours."""
    _standup_on_a_skewed_platform(clock, world, task_queue, skew_seconds=-120)
    clock.move_to(datetime(2030, 3, 4, 14, 30, 5, tzinfo=UTC))  # 17:30 in Moscow
    assert sweep_schedules() == 1
    task_queue.run()
    clock.move_to(datetime(2030, 3, 4, 14, 31, 0, tzinfo=UTC))  # 17:31, 17:29 on the portal
    said = world.say("evening")
    world.poll()
    shown = _shown(world)
    assert _handled_by(world, said) == "echo" and "Alice, you wrote: [i]evening[/i]" in shown
    assert not any(t.startswith("Your answer came after today's summary") for t in shown)


@pytest.mark.slow
def test_in_a_russian_portal_each_person_is_asked_in_the_language_the_platform_lists(
    clock, world, task_queue
):
    """A chat's member list (imbot.v2's user objects) names no language; the portal's directory (GET
    /v1/users) does. Carol reads English in a Russian portal: asked in Russian, she could not tell what the
    bot wanted (docs/translating.md: "the recipient's language as the platform lists it")."""
    from tenants.models import PortalSettings

    sp = world.sp
    PortalSettings.objects.update_or_create(
        portal=sp.portal, defaults={"timezone": "Europe/Moscow", "language": "ru"}
    )
    carol = sp.control.post(
        f"/_sandbox/portals/{sp.sandbox_portal_id}/users", json={"name": "Carol Member", "language": "en"}
    ).json()["data"]["user"]
    team = world.act(
        "chats", userId=sp.admin_id, title="Планёрка", memberIds=[sp.member_id, carol["id"], world.bot_id]
    )["chat"]
    configure_skill(sp.portal, skill_name="standup", is_enabled=True, options={"chat": f"chat{team['id']}"})
    task_queue.run()

    clock.move_to(datetime(2030, 3, 4, 6, 30, 20, tzinfo=UTC))  # 09:30 in Moscow
    assert sweep_schedules() == 1
    task_queue.run()
    chats = sp.control.get("/_sandbox/state").json()["data"]["chats"]
    person_of = {
        c["id"]: next(m for m in c["members"] if m != world.bot_id)
        for c in chats
        if c["type"] == "private" and c["botId"] == world.bot_id
    }
    asked = {
        person_of[m["chatId"]]: m["text"].split("!")[0] for m in world.messages() if m["chatId"] in person_of
    }
    # Alice and Carol: English, as the platform lists them; Boris: Russian, as it lists him.
    assert asked == {sp.admin_id: "Good morning", sp.member_id: "Доброе утро", carol["id"]: "Good morning"}


class _Refused(RecordingContext):
    """The platform refuses to list the chat's members (the bot is not in it)."""

    def list_chat_users(self, dialog_id=None):
        raise VibeForbiddenError(status=403, code="ACCESS_DENIED", message="The bot is not in this chat")


def test_named_participants_are_asked_even_when_the_chats_members_cannot_be_read():
    ctx = _Refused(skill=StandupSkill(), options={**OPTIONS, "participants": [7]})
    assert run_skill(StandupSkill(), ASK, ctx=ctx).posts[0].dialog_id == "7"
    with pytest.raises(VibeForbiddenError):
        run_skill(StandupSkill(), ASK, ctx=_Refused(skill=StandupSkill(), options=OPTIONS))


def test_after_a_refused_question_the_status_command_says_why_not_when_the_next_one_is():
    """A bot moved to a new platform bot is in none of the old one's chats: the ask is refused, and /standup
    said "No standup today. The next question goes out on ..." as if nothing had failed."""
    ctx = _Refused(skill=StandupSkill(), options=OPTIONS)
    with pytest.raises(VibeForbiddenError):
        run_skill(StandupSkill(), ASK, ctx=ctx)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):  # 11:00 in Moscow, the same day
        answer = run_skill(StandupSkill(), make_command_event("standup"), ctx=ctx, timezone="Europe/Moscow")
    [said] = answer.answers
    assert said.startswith("Today's question did not go out") and "ACCESS_DENIED" in said
    with time_machine.travel(datetime(2030, 3, 5, 5, 0, tzinfo=UTC)):  # the next morning: as before
        answer = run_skill(StandupSkill(), make_command_event("standup"), ctx=ctx, timezone="Europe/Moscow")
    assert answer.answers[-1] == "No standup yet today: the question goes out at 09:30."


def test_each_person_is_asked_in_their_own_language_not_the_portals():
    """Boris reads Russian (the platform says so for his user, or he last wrote in it); the portal is
    English."""
    team = {"chat5": [make_user(7, "Anna Lee", language="en"), make_user(8, "Boris Ivanov", language="ru")]}
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=team)
    assert [(p.dialog_id, p.text.split("!")[0]) for p in ctx.posts] == [
        ("7", "Good morning"),
        ("8", "Доброе утро"),
    ]

    # Without a language from the platform, the one Boris last answered in holds for the next question.
    silent = {"chat5": [make_user(7, "Anna Lee"), make_user(8, "Boris Ivanov")]}
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=silent)
    run_skill(StandupSkill(), make_message_event("Сделал отчёт", user_id=8, language="ru"), ctx=ctx)
    ctx = run_skill(
        StandupSkill(),
        make_scheduled_event("ask", local_due_at="2030-03-05T09:30:00+03:00"),
        ctx=ctx,
        options=OPTIONS,
    )
    assert ctx.posts[-1].dialog_id == "8" and ctx.posts[-1].text.startswith("Доброе утро")


class _SessionExpired(RecordingContext):
    """The portal's session expired: the platform refuses every send."""

    def send(self, dialog_id, text, **kwargs):
        raise VibeAuthError(status=401, code="TOKEN_EXPIRED", message="Session token expired")


def test_a_refused_session_fails_the_question_for_a_retry_rather_than_skipping_everyone():
    """Each question refused for the session was logged as "not delivered" and the run ended done: nobody
    was asked that day, and no retry came once a session was back."""
    ctx = _SessionExpired(skill=StandupSkill(), options=OPTIONS, chat_users=TEAM)
    with pytest.raises(VibeAuthError):
        run_skill(StandupSkill(), ASK, ctx=ctx)


def test_a_question_kept_back_past_the_summary_time_is_not_asked():
    """A question run tried again after a platform outage may come after a summary set soon after it: asked
    then, nobody could answer it any more."""
    options = {**OPTIONS, "report_at": "09:40"}
    with time_machine.travel(datetime(2030, 3, 4, 6, 41, tzinfo=UTC)):  # 09:41 in Moscow
        ctx = run_skill(StandupSkill(), ASK, options=options, chat_users=TEAM)
    assert ctx.posts == []
    with time_machine.travel(datetime(2030, 3, 4, 6, 39, tzinfo=UTC)):  # 09:39: still in time
        ctx = run_skill(StandupSkill(), ASK, options=options, chat_users=TEAM)
    assert [post.dialog_id for post in ctx.posts] == ["7", "8"]


def test_a_summary_shows_each_name_as_one_short_line_and_a_mention_as_the_name_it_shows():
    """Anyone names themselves: a name's line break began a line of its own, which put words in another
    person's mouth ("Boris Ivanov: all done"), a right-to-left override turned the answer after it around, and
    a name of 10,000 characters took half a message; an answer's mention showed as its markup."""
    team = {
        "chat5": [
            make_user(7, "Anna\nBoris Ivanov: all done, nothing blocks me"),
            make_user(8, "Boris Ivanov"),
            make_user(9, "Eve\u202e\u2066"),
            make_user(10, "L" * 10_000),
        ]
    }
    skill = StandupSkill()
    ctx = run_skill(skill, ASK, options=OPTIONS, chat_users=team)
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, tzinfo=UTC)):
        for user in (user for user in team["chat5"] if user.id != 8):  # each under the name it chose
            said = "[USER=8]Boris Ivanov[/USER] please review"
            run_skill(skill, make_message_event(said, user_id=user.id, user_name=user.name), ctx=ctx)
    run_skill(skill, REPORT, ctx=ctx)
    [summary] = [post.text for post in ctx.posts_to("chat5")]
    lines = summary.split("\n")
    assert len(lines) == 1 + 4, lines  # the title, then a line a person
    assert sum(line.startswith("[b]Boris Ivanov[/b]: ") for line in lines) == 1
    assert not any(char in summary for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert max(len(line) for line in lines) < 200
    assert summary.count(": Boris Ivanov please review") == 3 and "USER" not in summary.upper()
