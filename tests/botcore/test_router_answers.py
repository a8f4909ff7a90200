"""A router's own answer for a path or method it has no handler for (the sandbox's `router-404` and
`router-405` faults: Spring Boot's error JSON, not the platform's envelope): the same every time, and nothing
was done.

Counted where it happens: the calls the sandbox received, the posts it holds, the events the backend stored
and handled. Read as a passing failure, each such call was sent 4 times, and a post in doubt whose chat read
met one held the bot's later events until the event's attempts ran out.
"""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from botcore.models import Bot, EventLogEntry, SkillRun
from botcore.services.bots import provision_bot
from botcore.services.executor import execute_run
from botcore.services.polling import poll_bot_once
from botcore.services.provisioning import provision_portal
from botcore.services.skill_runs import claim_run
from botcore.skills.base import Skill
from botcore.skills.events import BackendEventType
from botcore.tasks import poll_bot
from ops.fleet import gather_fleet
from tenants.models import SessionGrant
from tenants.operations import reverify_session
from tests.botcore.replying import SKILL_PATH, message_entry, replies
from tests.ops.test_metrics import scrape, value

CHAT = "/v1/bots/{bot_id}/chats/{dialog_id}"
MESSAGES = "/v1/bots/{bot_id}/messages"


class DigestSkill(Skill):
    """A scheduled skill that reads its group chat (its title, for the digest) before posting into it."""

    name = "digest"
    event_types = frozenset({BackendEventType.SCHEDULED_RUN})

    def handle(self, event, ctx) -> None:
        chat = ctx.client.get_chat(ctx.bot_id, "chat1")
        ctx.send("chat1", f"the digest of {chat.title}")


@pytest.fixture
def bot(sandbox_portal, settings) -> Bot:
    settings.BOTCORE_SKILLS = [SKILL_PATH]
    return provision_bot(sandbox_portal.portal)


def fault(sandbox_portal, method: str, path: str, kind: str, **more) -> None:
    rule = {"method": method, "path": path, "garbageRate": 1.0, "garbageKind": kind, **more}
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success


def calls_to(sandbox_portal, method: str, part: str) -> int:
    """Every call of `method` whose path holds `part` the sandbox received, a faulted one too (it names no
    bot: it never got past the router)."""
    calls = sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"]
    return sum(1 for c in calls if c["method"] == method and part in c["path"])


def say_and_handle(sandbox_portal, bot: Bot, text: str) -> EventLogEntry:
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    poll_bot_once(bot.pk)
    return message_entry(bot, text)


def test_a_post_in_doubt_whose_chat_read_meets_a_router_404_is_left_and_the_bot_goes_on(sandbox_portal, bot):
    """The reply's answer is lost after the platform posted it, on a platform where a repeat posts again: the
    next attempt reads the chat to judge it. A router's 404 to that read says the chat cannot tell, once:
    the post is left in doubt (not doubled), its event handled, and the next message answered at once."""
    sandbox_portal.speak("no-template-dedupe")
    assert say_and_handle(sandbox_portal, bot, "first").status == EventLogEntry.Status.HANDLED
    rule = {"method": "POST", "path": MESSAGES, "dropRate": 1.0, "afterAction": True}
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success
    entry = say_and_handle(sandbox_portal, bot, "second")
    assert entry.status == EventLogEntry.Status.RECEIVED and len(replies(sandbox_portal, bot, "second")) == 1
    sandbox_portal.control.delete("/_sandbox/faults")
    fault(sandbox_portal, "GET", CHAT, "router-404")
    reads_before = calls_to(sandbox_portal, "GET", "/chats/")

    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)

    entry.refresh_from_db()
    assert calls_to(sandbox_portal, "GET", "/chats/") - reads_before == 1
    assert entry.status == EventLogEntry.Status.HANDLED and "left in doubt" in entry.error
    assert len(replies(sandbox_portal, bot, "second")) == 1
    third = say_and_handle(sandbox_portal, bot, "third")
    assert third.status == EventLogEntry.Status.HANDLED and len(replies(sandbox_portal, bot, "third")) == 1


@pytest.mark.parametrize("kind", ["router-404", "router-405"])
def test_a_reply_a_router_refuses_is_sent_once_its_event_failed_and_the_next_answered(
    sandbox_portal, bot, kind
):
    """No handler ran, so nothing was posted and no repeat passes: one send, the event failed at once with
    the status for an operator (not "gave up" after its attempts), and the bot goes on with the next."""
    fault(sandbox_portal, "POST", MESSAGES, kind)
    entry = say_and_handle(sandbox_portal, bot, "refused")
    assert calls_to(sandbox_portal, "POST", "/messages") == 1
    assert entry.status == EventLogEntry.Status.FAILED and entry.attempts == 1
    assert kind[-3:] in entry.error and "gave up" not in entry.error
    sandbox_portal.control.delete("/_sandbox/faults")
    assert say_and_handle(sandbox_portal, bot, "next").status == EventLogEntry.Status.HANDLED
    assert replies(sandbox_portal, bot, "refused") == [] and len(replies(sandbox_portal, bot, "next")) == 1


def test_a_poll_a_router_refuses_backs_off_and_loses_no_stored_event(sandbox_portal, bot):
    """The events path answered by a router (a wrong base URL, a proxy's route): the cycle backs off as for
    any failure, one call; the event it stored before and could not answer yet is answered once the path
    answers again."""
    fault(sandbox_portal, "POST", MESSAGES, "html")  # a passing failure: the event waits for its retry
    entry = say_and_handle(sandbox_portal, bot, "kept")
    assert entry.status == EventLogEntry.Status.RECEIVED
    sandbox_portal.control.delete("/_sandbox/faults")
    fault(sandbox_portal, "GET", "/v1/bots/{bot_id}/events", "router-404")
    polls_before = calls_to(sandbox_portal, "GET", "/events")

    assert poll_bot_once(bot.pk).status == "no_such_path"

    assert calls_to(sandbox_portal, "GET", "/events") - polls_before == 1
    bot.refresh_from_db()
    assert bot.consecutive_failures == 1 and "404" in bot.last_error
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.RECEIVED
    sandbox_portal.control.delete("/_sandbox/faults")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.HANDLED and len(replies(sandbox_portal, bot, "kept")) == 1


def test_a_poll_a_router_refuses_is_said_once_with_what_to_check_and_counted_as_failing_polls(
    sandbox_portal, bot, caplog
):
    """A wrong base URL (or a platform without the events path): each backoff step of the bot's poll was a
    WARNING `cycle failed ... 404 no code`, none saying what it meant. Said once, at ERROR, with what to
    check; quieter after. An operator who reads no log sees it too: the polls count as `no_such_path` (and
    as backoffs), the fleet view counts the bot backing off, and its last error reads what to check."""
    fault(sandbox_portal, "GET", "/v1/bots/{bot_id}/events", "router-404")
    before = scrape()

    with caplog.at_level(logging.INFO):
        outcomes = [poll_bot(bot.pk) for _ in range(4)]

    assert outcomes == ["no_such_path"] * 4
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in loud] == [logging.ERROR], [r.getMessage() for r in loud]
    said = loud[0].getMessage()
    assert "cannot poll" in said and "Check VIBE_BASE_URL" in said and "127.0.0.1" in said
    assert len([r for r in caplog.records if "still cannot poll (said before)" in r.getMessage()]) == 3
    after = scrape()
    polls = "vibeapp_polls_total"
    assert value(after, polls, outcome="no_such_path") - value(before, polls, outcome="no_such_path") == 4
    backoffs = "vibeapp_poll_backoffs_total"
    assert value(after, backoffs) - value(before, backoffs) == 4
    bot.refresh_from_db()
    assert bot.consecutive_failures == 4 and bot.backoff_until > timezone.now()
    assert bot.last_error.startswith("the poll (GET /v1/bots/:id/events) was answered 404") and (
        "Check VIBE_BASE_URL" in bot.last_error
    )
    assert gather_fleet().bots_backing_off.value == 1


@pytest.mark.slow
def test_the_poller_hands_a_router_404_of_its_watch_to_the_cycle_which_does_not_ask_again(
    sandbox_portal, task_queue, settings, caplog
):
    """The poller's watch met the router's 404 and handed the bot to its cycle, which asked again and met it
    again: two events calls at each backoff step of a wrong base URL's spell, for every bot. The cycle takes
    the watch's answer (as it does a 429's or a refusal as built), one call a step, and says it once."""
    import time

    from django.db import close_old_connections

    from tests.botcore.livestack import wait_for
    from tests.botcore.test_poller import RunningPoller, events_asked, settled_bot

    settings.BOTCORE_LONG_POLL_SECONDS = 0
    settings.BOTCORE_POLL_FAST_SECONDS = 0.05
    settings.BOTCORE_POLL_SLOW_SECONDS = 0.5
    bot = settled_bot(sandbox_portal)
    fault(sandbox_portal, "GET", "/v1/bots/{bot_id}/events", "router-404")
    before = events_asked(sandbox_portal, bot)
    caplog.set_level(logging.INFO)
    outcomes: list[str] = []
    with RunningPoller():
        wait_for(lambda: events_asked(sandbox_portal, bot) > before, timeout=30, what="the bot's first watch")
        while len(outcomes) < 3:
            outcomes += task_queue.run()
            time.sleep(0.05)
    outcomes += task_queue.run()  # a cycle the last watch handed over as the poller stopped
    close_old_connections()

    asked = events_asked(sandbox_portal, bot) - before
    assert set(outcomes) == {"no_such_path"}
    # A watch the poller's stop cut off after it was sent hands no cycle over: at most one call more.
    assert len(outcomes) <= asked <= len(outcomes) + 1, (asked, outcomes)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "Check VIBE_BASE_URL" in errors[0], errors


def test_a_registration_a_router_refuses_backs_off_and_does_not_break_the_bot(sandbox_portal, settings):
    """Not the platform's refusal of this bot: every portal meets it alike until the base URL or the proxy
    is fixed, so the bot is not broken for an operator's re-provision but tried again after a backoff; one
    call per attempt."""
    fault(sandbox_portal, "POST", "/v1/bots", "router-404")
    assert provision_portal(sandbox_portal.portal) == "backoff"
    [bot] = Bot.objects.filter(portal=sandbox_portal.portal)
    assert bot.status == Bot.Status.PENDING and bot.backoff_until is not None and "404" in bot.last_error
    assert calls_to(sandbox_portal, "POST", "/v1/bots") == 1
    sandbox_portal.control.delete("/_sandbox/faults")
    assert provision_portal(sandbox_portal.portal) == "provisioned"


def test_a_router_404_for_the_identity_check_keeps_the_session_asked_about(sandbox_portal):
    """The reference does not document /v1/me: a platform without it answers its router's 404. That refuses
    no credential (it is no verdict of the platform's), so an operator's re-verify keeps the session, asked
    once, not 4 times."""
    fault(sandbox_portal, "GET", "/v1/me", "router-404")

    result = reverify_session(sandbox_portal.portal, operator="olga")

    assert not result.ok and "kept" in result.message
    assert SessionGrant.objects.filter(portal=sandbox_portal.portal, invalidated_at__isnull=True).count() == 1
    assert calls_to(sandbox_portal, "GET", "/v1/me") == 1


def test_a_scheduled_run_a_router_refuses_tells_the_admins_it_is_the_vendors_to_fix(
    sandbox_portal, bot, settings
):
    """The run's chat read met a router's 404 (the app's address for the platform wrong, or a platform
    without that path): no setting of the portal's can fix it. The admins read "the platform refused it (404)
    ... Please open the app and check its settings", and looked through settings that were right. The notice
    itself goes out (its path answers): it says the app's vendor has to fix the app's setup."""
    settings.BOTCORE_SKILLS = [f"{__name__}.DigestSkill"]
    fault(sandbox_portal, "GET", CHAT, "router-404")
    run = claim_run(
        portal_id=bot.portal_id, skill_name="digest", kind=SkillRun.Kind.SCHEDULED,
        run_key="schedule:digest:2030-03-04T17:30:00+00:00",
        payload={"schedule": "digest", "due_at": "2030-03-04T17:30:00+00:00",
                 "local_due_at": "2030-03-04T17:30:00+00:00"},
    )  # fmt: skip

    assert execute_run(run.pk) == "failed"

    assert calls_to(sandbox_portal, "GET", "/chats/") >= 1 and "404" in SkillRun.objects.get(pk=run.pk).error
    [notice] = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if "did not run" in m["text"]]
    assert notice.startswith("“digest” did not run as planned at 2030-03-04 17:30:"), notice
    assert "no such function (404" in notice and "the app's vendor has to correct the app's setup" in notice
    assert "check its settings" not in notice and "the platform refused it" not in notice


def test_a_router_refusal_is_a_fact_beside_the_refusal_the_release_before_reads():
    """The facts are stored on the run while its notice is retried, and read by the release before while an
    upgrade rolls: that one still finds the refusal and its code, and tells it as it did."""
    from botcore.services.notices import _failure_facts
    from botcore.vibe.errors import VibeProtocolError

    routed = VibeProtocolError(status=405, code=None, message="HTTP 405", method="GET", path="/v1/bots/1/x")
    proxied = VibeProtocolError(status=413, code=None, message="HTTP 413", method="POST", path="/v1/bots/1/x")
    assert _failure_facts(routed) == {"why": "refused", "code": "405", "address": "no_such_path"}
    assert _failure_facts(proxied) == {"why": "refused", "code": "413"}
