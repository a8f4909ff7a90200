"""A failing skill fails its event (or run), never the bot: the next events are handled in the same cycle."""

from __future__ import annotations

import time

import pytest
from django_q.exceptions import TimeoutException

from botcore import conf
from botcore.models import Bot, EventLogEntry, SkillRun
from botcore.services.executor import execute_run
from botcore.services.skill_runs import claim_run
from botcore.skills.base import Skill
from botcore.skills.events import BackendEventType
from botcore.vibe.events import EventType, MessageAddEvent


class PickySkill(Skill):
    """Its wants() raises on one message; it replies to a dialog that does not exist on another."""

    name = "picky"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def wants(self, event, ctx) -> bool:
        if isinstance(event, MessageAddEvent) and event.message.text == "confuse":
            raise KeyError("no idea")
        if isinstance(event, MessageAddEvent) and event.message.text == "hang deciding":
            # an admin's pattern that backtracks for minutes (`(a+)+$`): the timeout stops it in wants()
            raise TimeoutException("Task exceeded maximum timeout value (90 seconds)")
        wanted = ("nowhere", "hang", "die", "misread")
        return isinstance(event, MessageAddEvent) and event.message.text in wanted

    def handle(self, event, ctx) -> None:
        if event.message.text == "hang":  # as django-q's alarm stops a task past its timeout
            raise TimeoutException("Task exceeded maximum timeout value (90 seconds)")
        if event.message.text == "die":  # the worker ends mid-skill unseen (SIGKILL, out of memory)
            raise SystemExit("worker killed")
        if event.message.text == "misread":  # an option it never declared (a typo, a field since renamed)
            ctx.reply(ctx.options["colour"])
        ctx.send("999999", "into the void")


class DiesOnceSkill(Skill):
    """Its worker dies mid-skill (SIGKILL, a restart) while `deaths` says so; then it replies."""

    name = "diesonce"
    event_types = frozenset({EventType.MESSAGE_ADD})
    deaths = 0

    def wants(self, event, ctx) -> bool:
        return isinstance(event, MessageAddEvent) and event.message.text == "die once"

    def handle(self, event, ctx) -> None:
        if DiesOnceSkill.deaths > 0:
            DiesOnceSkill.deaths -= 1
            raise SystemExit("worker killed")
        ctx.reply("survived")


class NightlySkill(Skill):
    """A scheduled skill with a bug whose message holds what a portal's admin must never read."""

    name = "nightly"
    event_types = frozenset({BackendEventType.SCHEDULED_RUN})

    def handle(self, event, ctx) -> None:
        raise RuntimeError("cannot reach db://vendor:hunter2@10.0.0.5")


class ReportSkill(Skill):
    """A scheduled skill that posts into a group chat (its `chat`, as an admin's option would give it), as the
    standup's summary does."""

    name = "report"
    event_types = frozenset({BackendEventType.SCHEDULED_RUN})
    chat = ""

    def handle(self, event, ctx) -> None:
        ctx.send(self.chat, "the day's report")


@pytest.fixture
def skill_paths():
    return [
        f"{__name__}.DiesOnceSkill",
        f"{__name__}.PickySkill",
        "tests.botcore.skills.probe.ProbeSkill",
        f"{__name__}.NightlySkill",
        f"{__name__}.ReportSkill",
    ]


def entries(world) -> list[tuple[str, str, str]]:
    rows = EventLogEntry.objects.filter(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD").order_by(
        "vibe_event_id"
    )
    return [(e.payload["data"]["message"]["text"], e.status, e.error.split(": No ")[0]) for e in rows]


@pytest.mark.slow
def test_a_raising_skill_fails_its_event_and_the_bot_goes_on(world, task_queue):
    for text in ("boom", "confuse", "nowhere", "after"):
        world.say(text)
    outcome = world.poll()
    assert outcome.status == "polled"
    assert entries(world) == [
        ("boom", "failed", "RuntimeError: the probe was told to fail"),
        ("confuse", "failed", "KeyError: 'no idea'"),
        ("nowhere", "failed", f"POST /v1/bots/{world.bot_id}/messages -> 404 USER_NOT_FOUND"),
        ("after", "handled", ""),
    ]
    shown = [m["text"] for m in world.messages()]
    assert "got: after" in shown
    # The skill's bugs (boom, confuse) are said to the person, once each, not left as silence; the platform's
    # refusal (nowhere) is not a bug to apologize for.
    assert sum(t.startswith("Sorry, something went wrong on our side") for t in shown) == 2
    world.bot.refresh_from_db()
    assert world.bot.status == Bot.Status.ACTIVE and world.bot.consecutive_failures == 0
    world.say("still here")
    world.poll()
    assert "got: still here" in [m["text"] for m in world.messages()]


@pytest.mark.slow
def test_a_skill_reading_an_option_it_never_declared_fails_its_event_naming_the_skill_and_the_option(
    world, task_queue, caplog
):
    """ctx.options["colour"] raised a bare KeyError: the stored error read `KeyError: 'colour'`. It is a
    skill's bug as any other: the person gets the apology once, the log names the skill, the bot goes on."""
    world.say("misread")
    world.say("after")
    with caplog.at_level("ERROR", logger="botcore.services.executor"):
        world.poll()
    missing = "MissingOptionError: the picky skill has no option 'colour' (it declares none)"
    assert entries(world) == [
        ("misread", "failed", missing),
        ("after", "handled", ""),
    ]
    shown = [m["text"] for m in world.messages()]
    assert sum(t.startswith("Sorry, something went wrong on our side") for t in shown) == 1
    assert "got: after" in shown
    [raised] = [r for r in caplog.records if "raised" in r.getMessage()]
    assert "skill=picky" in raised.getMessage() and raised.exc_info is not None


def fail_replies(world, code: str = "BITRIX_UNAVAILABLE") -> None:
    world.sp.control.post(
        "/_sandbox/faults",
        json={"method": "POST", "path": "/v1/bots/{bot_id}/messages", "errorRate": 1.0, "errorCode": code},
    )


def wait_for_retry(world) -> None:
    """Step past the backoff of the event that waits (as the cycle due after it would)."""
    assert EventLogEntry.objects.filter(bot=world.bot, next_attempt_at__isnull=False).count() == 1
    EventLogEntry.objects.filter(bot=world.bot).update(next_attempt_at=None)


def waiting_error(world) -> str:
    return EventLogEntry.objects.get(bot=world.bot, next_attempt_at__isnull=False).error


@pytest.mark.slow
def test_a_passing_platform_outage_on_a_reply_retries_the_event_after_a_backoff(world, task_queue, settings):
    settings.VIBE_MAX_ATTEMPTS = 1
    # Its retry waits until wait_for_retry says: a full-jitter backoff of 0-1 s had passed by the second poll
    # now and then (once in nine runs here), the message was tried beside it, left in doubt, never posted.
    settings.BOTCORE_HANDLE_RETRY_BASE_SECONDS = settings.BOTCORE_HANDLE_RETRY_MAX_SECONDS = 3600
    fail_replies(world)
    world.say("hello")
    assert world.poll().status == "polled"  # the poll itself went well
    # The join's greeting met the outage first: it waits for its retry, the message behind it.
    assert waiting_error(world).startswith(f"POST /v1/bots/{world.bot_id}/messages -> 502 BITRIX_UNAVAILABLE")
    assert entries(world) == [("hello", "received", "")]
    world.say("after")
    world.poll()  # the first event waits for its retry, and the next one waits behind it: order is kept
    assert [status for _, status, _ in entries(world)] == ["received", "received"]
    world.sp.control.delete("/_sandbox/faults")
    wait_for_retry(world)
    assert world.poll().status == "polled"
    assert [status for _, status, _ in entries(world)] == ["handled", "handled"]
    assert [m["text"] for m in world.messages()].count("got: hello") == 1


@pytest.mark.slow
def test_an_event_failing_transiently_every_time_is_failed_with_the_reason_after_the_attempt_limit(
    world, task_queue, settings
):
    settings.VIBE_MAX_ATTEMPTS = 1
    settings.BOTCORE_HANDLE_MAX_ATTEMPTS = 3
    settings.BOTCORE_HANDLE_RETRY_WINDOW_SECONDS = 0  # the limit alone (test_platform_outage_retries.py)
    fail_replies(world, "INTERNAL_ERROR")
    world.say("hello")
    for _ in range(6):  # three attempts at the join's greeting, then three at the message's reply
        world.poll()
        if EventLogEntry.objects.filter(bot=world.bot, next_attempt_at__isnull=False).exists():
            wait_for_retry(world)
    [(_text, status, error)] = entries(world)
    assert status == "failed" and error.startswith("gave up after 3 attempts") and "INTERNAL_ERROR" in error
    assert not EventLogEntry.objects.filter(bot=world.bot, status="received").exists()
    world.bot.refresh_from_db()
    assert world.bot.status == Bot.Status.ACTIVE


def test_a_failing_run_is_stored_failed_and_other_runs_still_run(world, task_queue):
    portal = world.bot.portal
    broken = claim_run(
        portal_id=portal.pk,
        skill_name="probe",
        kind=SkillRun.Kind.DEFERRED,
        run_key="defer:x:1",
        payload={"job": "slow", "data": {}, "origin": None},
    )  # no "asked": the probe raises KeyError
    fine = claim_run(
        portal_id=portal.pk,
        skill_name="probe",
        kind=SkillRun.Kind.INSTALLED,
        run_key="installed:x",
        payload={},
    )
    assert execute_run(broken.pk) == "failed" and execute_run(fine.pk) == "done"
    broken.refresh_from_db()
    assert broken.error.startswith("KeyError")
    assert execute_run(fine.pk) == "skipped"  # a task delivered twice runs once


def test_a_run_for_a_skill_the_portal_turned_off_is_skipped(world, task_queue):
    from botcore.services.skill_configs import configure_skill

    configure_skill(world.bot.portal, skill_name="probe", is_enabled=False)
    run = claim_run(
        portal_id=world.bot.portal_id,
        skill_name="probe",
        kind=SkillRun.Kind.INSTALLED,
        run_key="i",
        payload={},
    )
    assert execute_run(run.pk) == "skipped"


def scheduled_run(world, skill: str, at: str) -> SkillRun:
    """The run of `skill`'s schedule of its name due `at`, claimed as the schedule sweep claims it."""
    return claim_run(
        portal_id=world.bot.portal_id,
        skill_name=skill,
        kind=SkillRun.Kind.SCHEDULED,
        run_key=f"schedule:{skill}:{at}",
        payload={"schedule": skill, "due_at": at, "local_due_at": at},
    )


def nightly_run(world) -> SkillRun:
    """The nightly skill's 03:00 run."""
    return scheduled_run(world, "nightly", "2030-03-04T03:00:00+00:00")


def test_a_failed_scheduled_run_is_told_to_the_portals_admins_without_the_skills_internals(world, task_queue):
    run = nightly_run(world)
    assert execute_run(run.pk) == "failed"
    [notice] = [m["text"] for m in world.messages() if "did not run as planned" in m["text"]]
    assert notice.startswith("“nightly” did not run as planned at 2030-03-04 03:00:")
    assert "the app's vendor can see the details" in notice and "hunter2" not in notice
    run.refresh_from_db()
    # The operators' event log keeps the reason for the skill's author, with a URL's password redacted.
    assert "cannot reach db://vendor:<redacted>@10.0.0.5" in run.error and "hunter2" not in run.error


def test_a_run_refused_a_group_chat_the_bot_is_not_in_tells_the_admins_to_add_it_there(world, monkeypatch):
    """From an upgrade trial: after the app key's rotation the portal's bot was a new one, in none of the
    group chats the old one had been in, and the standup's summary was refused (ACCESS_DENIED: the bot is not
    a member of the chat). The admin read "the platform refused it (ACCESS_DENIED) ... check its settings",
    which were right; what they had to do was add the bot to the chat."""
    team = world.act("chats", userId=world.sp.admin_id, title="Team", memberIds=[world.sp.member_id])["chat"]
    monkeypatch.setattr(ReportSkill, "chat", team["dialogId"])
    run = scheduled_run(world, "report", "2030-03-04T17:30:00+00:00")
    assert execute_run(run.pk) == "failed"
    [notice] = [m["text"] for m in world.messages() if "did not run as planned" in m["text"]]
    assert "the bot is not a member of the chat it posts to" in notice and "add it to that chat" in notice
    run.refresh_from_db()
    assert "ACCESS_DENIED" in run.error  # the operators' record keeps the platform's word


def test_an_event_whose_every_attempt_died_unfinished_says_what_that_means(world):
    """From a skill author's trial: a handler slower than the task queue's timeout was killed five times and
    the event failed with only "gave up after 5 attempts", nothing on why or what to do."""
    world.say("first")
    world.poll()
    done = EventLogEntry.objects.get(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD")
    EventLogEntry.objects.create(
        bot=world.bot,
        vibe_bot_id=world.bot_id,
        vibe_event_id=done.vibe_event_id + 100,
        event_type=done.event_type,
        payload={**done.payload, "eventId": done.vibe_event_id + 100},
        attempts=conf.handle_max_attempts(),  # each attempt counted, and its worker killed before it settled
    )
    world.poll()
    [dead] = EventLogEntry.objects.filter(bot=world.bot, vibe_event_id=done.vibe_event_id + 100)
    assert dead.status == "failed" and dead.error.startswith("gave up after")
    assert "none of them finished" in dead.error and "90 s" in dead.error and "ctx.defer" in dead.error


def test_an_event_tried_again_after_an_unfinished_attempt_says_so_while_its_bot_waits(world):
    """From an operator trial: a handler killed at the task queue's timeout left its event "Received" with
    no skill and no error for the ten minutes of its five attempts, while the bot's later messages went
    unanswered behind it; nothing in the admin said why."""
    world.say("die")
    world.say("after")
    for attempt in (1, 2):
        with pytest.raises(SystemExit):
            world.poll()
        hung = EventLogEntry.objects.get(bot=world.bot, payload__data__message__text="die")
        assert hung.status == "received" and hung.attempts == attempt
    assert hung.skill == "picky" and hung.error.startswith("an earlier attempt did not finish")
    assert "90 s" in hung.error and "attempt 2 of 5" in hung.error and "later events wait" in hung.error
    assert EventLogEntry.objects.get(payload__data__message__text="after").status == "received"

    EventLogEntry.objects.filter(pk=hung.pk).update(attempts=conf.handle_max_attempts())
    world.poll()
    hung.refresh_from_db()
    assert hung.status == "failed" and hung.skill == "picky"  # counted among the skill's failures
    assert hung.error.startswith("gave up after 5 attempts: none of them finished")
    assert "before that" not in hung.error
    # The person who wrote hears of it, as after a skill's bug, rather than ten minutes of silence.
    [apology] = [m for m in world.messages() if m["text"].startswith("Sorry, something went wrong")]
    assert apology["id"] > hung.payload["data"]["message"]["id"]
    assert EventLogEntry.objects.get(payload__data__message__text="after").status == "handled"


def test_an_event_whose_worker_died_once_past_its_attempts_is_tried_again_inside_the_retry_window(world):
    """From the chaos benchmark's full profile (seed 31): a reply met four passing failures in 13 s (garbled
    200s, 500s), each a retry, and the fifth attempt's worker was SIGKILLed (its qcluster killed): the event
    was failed as if "none of them finished", 13 s into the 300 s a passing failure is retried for, and the
    person was sent the apology. A worker dying once since a settled retry (a restart, a deploy) is a passing
    trouble too; two deaths in a row still fail it (the test above)."""
    DiesOnceSkill.deaths = 1
    world.say("die once")
    with pytest.raises(SystemExit):
        world.poll()
    entry = EventLogEntry.objects.get(bot=world.bot, payload__data__message__text="die once")
    # As four passing failures, each judged a retry, and then the claim of a fifth attempt, left it:
    EventLogEntry.objects.filter(pk=entry.pk).update(
        attempts=conf.handle_max_attempts(), error="500 INTERNAL_ERROR: Internal server error"
    )
    world.poll()
    entry.refresh_from_db()
    assert entry.status == "handled" and entry.attempts == conf.handle_max_attempts() + 1
    shown = [m["text"] for m in world.messages()]
    assert shown.count("survived") == 1
    assert not [t for t in shown if t.startswith("Sorry, something went wrong")]

    DiesOnceSkill.deaths = 2  # its worker dies again, and again on the try after: failed, and told
    world.say("die once")
    with pytest.raises(SystemExit):
        world.poll()
    again = EventLogEntry.objects.filter(payload__data__message__text="die once").latest("vibe_event_id")
    EventLogEntry.objects.filter(pk=again.pk).update(
        attempts=conf.handle_max_attempts(), error="500 INTERNAL_ERROR: Internal server error"
    )
    with pytest.raises(SystemExit):
        world.poll()
    world.poll()
    again.refresh_from_db()
    assert again.status == "failed" and again.error.startswith("gave up after 6 attempts")
    shown = [m["text"] for m in world.messages()]
    assert shown.count("survived") == 1
    assert len([t for t in shown if t.startswith("Sorry, something went wrong")]) == 1


# "hang" hangs in handle(), "hang deciding" in wants() (PickySkill).
@pytest.mark.parametrize("text", ["hang", "hang deciding"], ids=["in-handle", "in-wants"])
def test_a_skill_that_runs_past_the_task_timeout_twice_is_given_up_and_the_person_told(world, text):
    """From a newcomer's trial: a handler that hung (`/bad slow100`) was stopped at the task queue's timeout
    five times, about two minutes apart, and the portal's bot answered nobody for ten minutes before the
    apology. An attempt stopped by the timeout is known as such (django-q2 raises in it): one more try, then
    the event fails, the person hears so, and the bot's later events go on.

    From a skill author's trial: a relay's wants() ran the admin's pattern `(a+)+$` on a line of a's; each
    cycle was stopped at the task queue's timeout in routing, where the stop was counted as an attempt that
    died unseen (five of them, past the five-minute window) rather than a timed-out one (two), and the bot's
    later events waited behind it all that time. Given up, the person is told through the skill the stops
    were in, without routing (asking wants() again would hang the cycle once more)."""
    world.say(text)
    world.say("after")
    for attempt in (1, 2):
        with pytest.raises(TimeoutException):
            world.poll()
        hung = EventLogEntry.objects.get(bot=world.bot, payload__data__message__text=text)
        assert hung.status == "received" and (hung.attempts, hung.timed_out_attempts) == (attempt, attempt)
        assert hung.skill == "picky" and "ran past the task queue's timeout of 90 s" in hung.error
    world.poll()  # the third cycle tries the skill no more
    hung.refresh_from_db()
    assert hung.status == "failed" and hung.attempts == 2
    assert hung.error.startswith("gave up after 2 attempts that ran past the task queue's timeout of 90 s")
    assert "ctx.defer" in hung.error
    apologies = [m for m in world.messages() if m["text"].startswith("Sorry, something went wrong")]
    assert len(apologies) == 1
    assert EventLogEntry.objects.get(payload__data__message__text="after").status == "handled"


def test_an_attempt_killed_after_a_retry_says_so_too_and_a_refusal_is_no_unfinished_attempt(world):
    """From an operator trial (by reading): the note needed an empty error, so an event retried after a
    passing failure (its error says that failure) whose next attempt was killed said nothing of it; and an
    attempt given back after a refusal must not read as one that died."""
    world.say("die")
    with pytest.raises(SystemExit):
        world.poll()
    hung = EventLogEntry.objects.get(bot=world.bot, payload__data__message__text="die")
    # As a 429's retry, and then the claim of the next attempt (which clears its time), left it:
    EventLogEntry.objects.filter(pk=hung.pk).update(attempts=2, error="429 RATE_LIMIT: slow down")
    with pytest.raises(SystemExit):
        world.poll()
    hung.refresh_from_db()
    assert hung.error.startswith("an earlier attempt did not finish") and "attempt 3 of 5" in hung.error

    from botcore.services.executor import settle_refused_attempt

    settle_refused_attempt(hung, error="401 TOKEN_EXPIRED: the session expired")
    hung.refresh_from_db()
    assert hung.attempts == 2 and hung.next_attempt_at is not None  # not read as an attempt that died
    assert hung.error.startswith("401 TOKEN_EXPIRED")


class Dawdler(Skill):
    name = "dawdler"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        time.sleep(0.1)


def test_a_handling_slower_than_a_cycle_is_logged_for_its_author(settings, caplog):
    """From a skill author's trial: a 35 s handler held the portal's other users for 35 s, and nothing said
    so (no skill is stopped for it: past the task queue's timeout the worker is)."""
    from botcore.services.executor import run_skill

    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 0.05
    verdict = run_skill(Dawdler(), None, None, attempts=1, what="bot=1", retry_base=1, retry_cap=1)
    assert verdict.status == "done"
    [line] = [r.getMessage() for r in caplog.records if "dawdler" in r.getMessage()]
    assert "past a cycle's" in line and "ctx.defer" in line


def test_a_run_slower_than_a_cycle_is_logged_with_what_it_held_up_never_told_to_use_ctx_defer(
    world, settings, caplog
):
    """From a skill author's trial: a deferred job that waited 30 s on another service was logged "the bot's
    next events waited; hand slow work to ctx.defer", though it was deferred already and held no event."""
    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 1e-6
    run = claim_run(
        portal_id=world.bot.portal.pk,
        skill_name="probe",
        kind=SkillRun.Kind.INSTALLED,
        run_key="installed:slow",
        payload={},
    )
    assert execute_run(run.pk) == "done"
    [line] = [r.getMessage() for r in caplog.records if "past a cycle's" in r.getMessage()]
    assert "the skill's later runs on this portal waited" in line and "ctx.defer" not in line


def test_a_scheduled_run_whose_every_attempt_died_is_failed_and_told_to_the_admins(world, task_queue):
    """A run that hangs past the task queue's timeout each time is failed by the minute sweep once its
    catch-up window has passed too (until then it is handed back, as the executor retries a passing
    trouble); its admins heard nothing of it (only a run that raised told them)."""
    from datetime import datetime, timedelta

    from django.utils import timezone

    from botcore.services.skill_schedules import sweep_schedules

    run = nightly_run(world)
    long_ago = timezone.now() - timedelta(hours=1)
    SkillRun.objects.filter(pk=run.pk).update(
        status=SkillRun.Status.RUNNING, started_at=long_ago, attempts=conf.handle_max_attempts()
    )
    planned = datetime.fromisoformat(run.payload["due_at"])
    past_window = planned + timedelta(minutes=conf.schedule_catch_up_minutes() + 1)
    sweep_schedules(past_window)
    run.refresh_from_db()
    assert run.status == "failed" and "none of them finished" in run.error
    assert "ctx.defer" not in run.error  # a run is deferred already: it is told to split the work instead
    [notice] = [m["text"] for m in world.messages() if "did not run as planned" in m["text"]]
    assert "“nightly” did not run as planned at 2030-03-04 03:00: it never finished" in notice
    sweep_schedules(past_window)  # a second sweep finds nothing more to fail or tell
    assert len([m for m in world.messages() if "did not run as planned" in m["text"]]) == 1


@pytest.mark.slow
def test_a_failed_runs_notice_the_platform_refused_for_a_while_reaches_the_admins_once_it_is_back(
    world, task_queue, settings
):
    """A run failing because the platform is down meets the same outage with its notice: tried once, the
    admins never heard that the day's run did not happen. The minute sweep tries it again, once each."""
    from datetime import timedelta

    from django.utils import timezone

    from botcore.services.skill_schedules import sweep_schedules

    settings.VIBE_MAX_ATTEMPTS = 1  # the client's own retries would wait out nothing here
    run = nightly_run(world)
    world.sp.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/messages", "errorRate": 1, "errorCode": "BITRIX_UNAVAILABLE"},
    )
    assert execute_run(run.pk) == "failed"
    now = timezone.now()
    sweep_schedules(now + timedelta(seconds=conf.backoff_max_seconds() + 1))  # still down: kept for later
    world.sp.control.delete("/_sandbox/faults")
    assert not [m for m in world.messages() if "did not run as planned" in m["text"]]
    sweep_schedules(now + timedelta(seconds=conf.backoff_max_seconds() - 5))  # not due yet
    assert not [m for m in world.messages() if "did not run as planned" in m["text"]]
    for minutes in (11, 12, 30):
        sweep_schedules(now + timedelta(minutes=minutes))
    [notice] = [m["text"] for m in world.messages() if "did not run as planned" in m["text"]]
    assert notice.startswith("“nightly” did not run as planned at 2030-03-04 03:00:")
    run.refresh_from_db()
    assert run.status == "failed" and run.notice_due_at is None


def test_a_failed_runs_notice_the_platform_never_takes_is_given_up_after_a_day(
    world, task_queue, settings, caplog
):
    from datetime import timedelta

    from django.utils import timezone

    from botcore.services.skill_schedules import sweep_schedules

    settings.VIBE_MAX_ATTEMPTS = 1
    run = nightly_run(world)
    world.sp.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/messages", "errorRate": 1, "errorCode": "BITRIX_UNAVAILABLE"},
    )
    assert execute_run(run.pk) == "failed"
    run.refresh_from_db()
    assert run.notice_due_at is not None
    sweep_schedules(timezone.now() + timedelta(days=1, minutes=1))
    world.sp.control.delete("/_sandbox/faults")
    run.refresh_from_db()
    assert run.notice_due_at is None and "given up" in caplog.text
    sweep_schedules(timezone.now() + timedelta(days=1, minutes=20))
    assert not [m for m in world.messages() if "did not run as planned" in m["text"]]


def test_a_failed_runs_notice_speaks_each_admins_own_language(world, task_queue, settings):
    """The notice was written once, in the portal's language, for every admin: Boris, an admin whose
    Bitrix24 speaks Russian, read English (and the retried notice was that stored text again). Each admin
    reads it in their own language as the portal's directory lists it, told now or by the sweep later."""
    from datetime import timedelta

    from django.utils import timezone

    from botcore.services.skill_schedules import sweep_schedules
    from tenants.testing import store_sandbox_session

    sp = world.sp
    boris = sp.control.patch(f"/_sandbox/users/{sp.member_id}", json={"isAdmin": True}).json()["data"]["user"]
    portal = next(
        p
        for p in sp.control.get("/_sandbox/portals").json()["data"]["portals"]
        if p["id"] == sp.sandbox_portal_id
    )
    session = sp.control.post("/_sandbox/sessions", json={"appKey": sp.app_key, "userId": boris["id"]})
    store_sandbox_session(portal=portal, user=boris, session=session.json()["data"])

    def notices(day: str) -> list[str]:
        """The day's notices, the English one first."""
        texts = [m["text"] for m in world.messages() if "nightly" in m["text"] and day in m["text"]]
        return sorted(texts, key=lambda text: not text.startswith("“nightly”"))

    english = "“nightly” did not run as planned at {}: the skill ran into an error"
    russian = "Навык «nightly» не выполнился в запланированное время ({}): в навыке произошла ошибка"
    assert execute_run(nightly_run(world).pk) == "failed"
    told = notices("03")
    assert len(told) == 2, told
    assert told[0].startswith(english.format("2030-03-04 03:00")), told
    assert told[1].startswith(russian.format("04.03.2030 03:00")), told

    # Told by the sweep, once the platform takes it: each in their language again.
    settings.VIBE_MAX_ATTEMPTS = 1
    run = scheduled_run(world, "nightly", "2030-03-05T03:00:00+00:00")
    sp.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/messages", "errorRate": 1, "errorCode": "BITRIX_UNAVAILABLE"},
    )
    assert execute_run(run.pk) == "failed"
    sp.control.delete("/_sandbox/faults")
    sweep_schedules(timezone.now() + timedelta(minutes=11))
    later = [t for t in notices("05") if "2030-03-05" in t or "05.03.2030" in t]
    assert len(later) == 2, later
    assert later[0].startswith(english.format("2030-03-05 03:00")), later
    assert later[1].startswith(russian.format("05.03.2030 03:00")), later
