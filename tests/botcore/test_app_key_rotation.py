"""Rotating the app key (VIBE_APP_KEY) with an overlap (VIBE_APP_KEY_PREVIOUS), against the sandbox over HTTP.

From a trial: after the switch each portal's old bot was left behind, never drained (the platform refuses
it to the new key, BOT_ACCESS_DENIED), and 14 of 4,405 messages written to old bots went unanswered. Each
message written to the old bot is answered once, by that bot with the previous key, until the portal's bot
of the new key is there; then the old one is drained and unregistered, and no call carries the wrong key.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from botcore.checks import check_previous_app_key
from botcore.models import Bot
from botcore.services.app_key_rotation import RETIRED_NOTE
from botcore.services.bots import pause_bot, provision_bot, resume_bot
from botcore.services.platform import app_key_digest
from botcore.services.polling import poll_bot_once
from tests.botcore.test_reliability import bots_on_platform, no_repeats
from tests.botcore.test_reliability import counting as counting  # the fixture, shared

pytestmark = pytest.mark.django_db(transaction=True)


def sandbox_digest(key: str) -> str:
    """How the sandbox names a key in its call log (its own reading, not the app's code)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def open_app(sandbox_portal, *, app_key: str) -> None:
    """The admin opens the app in Bitrix24: the platform mints a session, the gateway hands it to the app,
    which asks GET /v1/me with its own (current) key before storing it."""
    body = {"appKey": app_key, "userId": sandbox_portal.admin_id}
    token = sandbox_portal.control.post("/_sandbox/sessions", json=body).json()["data"]["token"]
    response = Client().get(
        "/",
        headers={
            "X-Vibe-Authorization": f"Bearer {token}",
            "X-Vibe-Portal-Id": sandbox_portal.sandbox_portal_id,
            "X-Vibe-User-Id": str(sandbox_portal.admin_id),
            "X-Vibe-User-Role": "ADMIN",
        },
    )
    assert response.status_code in (200, 302), response.content[:300]


def answers(sandbox_portal, vibe_bot_id: int) -> Counter:
    return Counter(m["text"] for m in sandbox_portal.bot_messages(vibe_bot_id))


# Codes per key (the default reading), or per portal: the new key's bot is registered while the old one,
# still to be drained, holds the code (CONTRACT B §7.1; botcore/services/bot_codes.py).
BOT_CODES = [pytest.param(None, id="codes-per-key"), pytest.param("portal-bot-codes", id="portal-bot-codes")]


@pytest.mark.slow
@pytest.mark.parametrize("dialect", BOT_CODES)
def test_a_rotated_app_key_drains_and_retires_each_old_bot_with_the_previous_key(
    sandbox_portal, counting, settings, task_queue, caplog, dialect
):
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    sandbox_portal.speak(*filter(None, [dialect]))
    first_key = sandbox_portal.app_key
    bot = provision_bot(sandbox_portal.portal)
    old_bot, admin = bot.vibe_bot_id, sandbox_portal.admin_id
    assert bot.app_key_digest == app_key_digest(first_key)
    sandbox_portal.say(user_id=admin, bot_id=old_bot, text="answered before the switch")
    assert poll_bot_once(bot.pk).handled == 1
    sandbox_portal.say(user_id=admin, bot_id=old_bot, text="waiting at the switch")

    # The vendor rotates the key in the catalog; the backend restarts with both.
    second_key = sandbox_portal.control.post("/_sandbox/apps/keys", json={"appKey": first_key}).json()["data"]
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = second_key["key"], first_key
    second_key = second_key["key"]
    switched = max(c["seq"] for c in sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"])
    assert poll_bot_once(bot.pk).handled == 1  # the old bot, still polled and answered with its own key
    sandbox_portal.say(user_id=admin, bot_id=old_bot, text="written after the switch")
    sandbox_portal.say(user_id=admin, bot_id=old_bot, text="written just before the admin comes")

    with caplog.at_level(logging.INFO):
        open_app(sandbox_portal, app_key=second_key)
        task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    new_bot = bot.vibe_bot_id
    assert new_bot != old_bot and bot.status == Bot.Status.ACTIVE, bot.last_error
    assert bot.app_key_digest == app_key_digest(second_key) and bot.status_note == RETIRED_NOTE
    assert old_bot not in bots_on_platform(sandbox_portal)  # unregistered, with the key it answers to
    assert [b["id"] for b in sandbox_portal.portal_bots()] == [new_bot]  # one bot: no second, none left
    sandbox_portal.say(user_id=admin, bot_id=new_bot, text="to the new bot")
    assert poll_bot_once(bot.pk).handled == 1

    written = [
        "answered before the switch",
        "waiting at the switch",
        "written after the switch",
        "written just before the admin comes",
    ]
    assert answers(sandbox_portal, old_bot) == Counter(f"got: {text}" for text in written)
    assert answers(sandbox_portal, new_bot) == Counter(["got: to the new bot"])
    assert no_repeats(counting.executions) and len(counting.executions) == 5

    calls = sandbox_portal.control.get("/_sandbox/calls", params={"since": switched}).json()["data"]["calls"]
    platform_calls = [c for c in calls if c["path"].startswith("/v1/")]
    assert {c["keyDigest"] for c in platform_calls if c["botId"] == old_bot} == {sandbox_digest(first_key)}
    assert {c["keyDigest"] for c in platform_calls if c["botId"] != old_bot} == {sandbox_digest(second_key)}
    assert not [c for c in platform_calls if c["errorCode"] == "BOT_ACCESS_DENIED"]
    assert "not retired" not in caplog.text and "not drained" not in caplog.text
    assert first_key not in caplog.text and second_key not in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("dialect", BOT_CODES)
def test_an_old_bot_that_cannot_be_drained_is_said_once_and_the_portal_gets_its_new_bot(
    sandbox_portal, counting, settings, task_queue, caplog, dialect
):
    """The previous key revoked before the portal's admin came back (the overlap cut short after a leak):
    nothing more can be read from the old bot. One WARNING says so, the bot's status note keeps it for the
    operator, and the portal's bot is registered anew under the current key, answering from then on. (The
    old bot stays on the platform: nothing may unregister it. Under portal-bot-codes it keeps the code, and
    the new bot has a derived one for good, a re-provision keeping it.)"""
    sandbox_portal.speak(*filter(None, [dialect]))
    first_key = sandbox_portal.app_key
    bot = provision_bot(sandbox_portal.portal)
    old_bot, admin = bot.vibe_bot_id, sandbox_portal.admin_id
    assert poll_bot_once(bot.pk).status == "polled"
    sandbox_portal.say(user_id=admin, bot_id=old_bot, text="lost with the revoked key")
    second_key = sandbox_portal.control.post("/_sandbox/apps/keys", json={"appKey": first_key}).json()["data"]
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = second_key["key"], first_key
    sandbox_portal.control.post("/_sandbox/keys/revoke", json={"key": first_key})

    with caplog.at_level(logging.INFO):
        assert poll_bot_once(bot.pk).status == "reprovision"
        task_queue.run()
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.ACTIVE, bot.last_error
    assert bot.app_key_digest == app_key_digest(second_key["key"])
    assert "could not be drained" in bot.status_note and "KEY_REVOKED" in bot.status_note
    said = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "not drained" in r.getMessage()
    ]
    assert len(said) == 1 and "what was written to it since its last poll is not answered" in said[0]
    assert "fix VIBE_APP_KEY" not in caplog.text
    assert [b["id"] for b in sandbox_portal.portal_bots()] == [old_bot, bot.vibe_bot_id]
    assert provision_bot(sandbox_portal.portal).vibe_bot_id == bot.vibe_bot_id  # the same bot again
    assert [b["id"] for b in sandbox_portal.portal_bots()] == [old_bot, bot.vibe_bot_id]
    sandbox_portal.say(user_id=admin, bot_id=bot.vibe_bot_id, text="to the new bot")
    assert poll_bot_once(bot.pk).handled == 1
    assert answers(sandbox_portal, bot.vibe_bot_id) == Counter(["got: to the new bot"])


@pytest.mark.slow
def test_an_old_bot_whose_session_ran_out_is_drained_when_a_user_comes_back(
    sandbox_portal, counting, settings, task_queue, caplog
):
    """The portal's sessions ran out during the overlap: its old bot can be polled no more, and one WARNING
    (and the bot's status note) says that what people write to it waits for a portal user's visit; that
    visit's session drains it with the previous key, each message answered once by the bot it was written
    to."""
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    first_key = sandbox_portal.app_key
    bot = provision_bot(sandbox_portal.portal)
    old_bot, admin = bot.vibe_bot_id, sandbox_portal.admin_id
    second_key = sandbox_portal.control.post("/_sandbox/apps/keys", json={"appKey": first_key}).json()["data"]
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = second_key["key"], first_key
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})
    sandbox_portal.say(user_id=admin, bot_id=old_bot, text="written while no session was left")

    with caplog.at_level(logging.INFO):
        assert poll_bot_once(bot.pk).status == "no_session"  # the platform refused the expired session
        assert poll_bot_once(bot.pk).status == "not_active"  # the second says so: waits for a session
    bot.refresh_from_db()
    assert bot.status == Bot.Status.WAITING_SESSION and "no session left" in bot.status_note
    said = [r.getMessage() for r in caplog.records if "previous app key lost" in r.getMessage()]
    assert len(said) == 1

    open_app(sandbox_portal, app_key=second_key["key"])
    task_queue.run()
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.ACTIVE and bot.status_note == RETIRED_NOTE
    assert answers(sandbox_portal, old_bot) == Counter(["got: written while no session was left"])
    assert old_bot not in bots_on_platform(sandbox_portal)
    assert no_repeats(counting.executions)


@pytest.mark.slow
def test_a_rotated_key_s_move_is_queued_once_however_many_people_open_the_app_meanwhile(
    sandbox_portal, settings, task_queue
):
    """From an attacker trial: each session stored while the portal's bot was still the previous key's queued
    a move of its own (a morning's visits after a rotation; a portal's people signing in again and again), and
    each move task past the first waited up to 30 s for the portal's turn, holding a task queue worker: a
    portal's visits could hold every worker, and every portal's bots with them. The move's stamp (as a bot
    whose credential is gone takes it) queues one; the visits after the move queue none."""
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    first_key = sandbox_portal.app_key
    bot = provision_bot(sandbox_portal.portal)
    old_bot = bot.vibe_bot_id
    second_key = sandbox_portal.control.post("/_sandbox/apps/keys", json={"appKey": first_key}).json()["data"]
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = second_key["key"], first_key

    for _ in range(5):
        open_app(sandbox_portal, app_key=second_key["key"])
    assert task_queue.names().count("botcore.tasks.move_portal_bot") == 1
    task_queue.run()
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.ACTIVE, bot.last_error
    open_app(sandbox_portal, app_key=second_key["key"])
    assert "botcore.tasks.move_portal_bot" not in task_queue.names()


@pytest.mark.slow
def test_a_paused_bot_s_move_to_the_new_key_answers_nothing_until_an_operator_resumes_it(
    sandbox_portal, counting, settings, task_queue
):
    """From an attacker's trial: any portal user opening the app during the overlap had the old bot drained,
    and the drain answered every message waiting on it although an operator had paused the bot (a pause
    means no skill runs for it). The paused bot is moved and its old bot's messages kept, not answered; the
    operator's resume has them answered, once each."""
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    first_key = sandbox_portal.app_key
    bot = provision_bot(sandbox_portal.portal)
    old_bot, admin = bot.vibe_bot_id, sandbox_portal.admin_id
    assert pause_bot(bot, operator="ops")
    for text in ("written while paused", "written while paused too"):
        sandbox_portal.say(user_id=admin, bot_id=old_bot, text=text)
    second_key = sandbox_portal.control.post("/_sandbox/apps/keys", json={"appKey": first_key}).json()["data"]
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = second_key["key"], first_key

    open_app(sandbox_portal, app_key=second_key["key"])
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.PAUSED
    assert bot.app_key_digest == app_key_digest(second_key["key"])
    assert old_bot not in bots_on_platform(sandbox_portal)
    posts = [
        c for c in sandbox_portal.calls(old_bot) if c["method"] == "POST" and c["path"].endswith("/messages")
    ]
    assert not counting.executions and posts == []

    assert resume_bot(bot, operator="ops")
    poll_bot_once(bot.pk)
    assert len(counting.executions) == 2 and no_repeats(counting.executions)


@pytest.mark.slow
def test_the_drain_answers_within_a_cycle_s_deadline_and_leaves_the_rest_to_the_new_bot(
    sandbox_portal, counting, settings, task_queue
):
    """From an attacker's trial: a portal user who had written 1,000 messages to the old bot opened the app;
    the drain answered them one by one with no deadline, past the task queue's 90 s, and the worker was
    killed mid-move (an ERROR, the new platform bot left unused, the old one still registered). The drain
    answers what fits in a cycle's deadline (none here: the deadline has passed at its first event) and
    leaves the rest in the log, answered once each by the new bot."""
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    first_key = sandbox_portal.app_key
    bot = provision_bot(sandbox_portal.portal)
    old_bot, admin = bot.vibe_bot_id, sandbox_portal.admin_id
    for n in range(3):
        sandbox_portal.say(user_id=admin, bot_id=old_bot, text=f"waiting {n}")
    second_key = sandbox_portal.control.post("/_sandbox/apps/keys", json={"appKey": first_key}).json()["data"]
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = second_key["key"], first_key

    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 1e-9
    open_app(sandbox_portal, app_key=second_key["key"])
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.ACTIVE and bot.status_note == RETIRED_NOTE
    assert old_bot not in bots_on_platform(sandbox_portal)
    assert not counting.executions  # stored, none answered past the deadline

    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 30.0
    assert poll_bot_once(bot.pk).handled == 3
    assert len(counting.executions) == 3 and no_repeats(counting.executions)


def test_the_drain_waits_for_the_bot_s_lease_less_than_the_task_may_run(
    sandbox_portal, settings, monkeypatch
):
    """The drain waited for a cycle's lease as long as a lease lasts (120 s), inside a task the queue kills at
    90 s: a bot whose cycles kept its lease had its move's worker killed. It waits at most a cycle's deadline
    (a cycle holding it is done by then), then says the bot could not be drained."""
    from botcore.services import app_key_rotation

    bot = provision_bot(sandbox_portal.portal)
    Bot.objects.filter(pk=bot.pk).update(
        lease_token="a-cycle", lease_until=timezone.now() + timedelta(hours=1)
    )
    clock = {"now": 0.0}

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return clock["now"]

        @staticmethod
        def sleep(seconds: float) -> None:
            clock["now"] += seconds

    monkeypatch.setattr(app_key_rotation, "time", Clock)
    note = app_key_rotation.drain_previous_key_bot(bot)
    assert note is not None and "held it throughout" in note
    assert clock["now"] <= settings.BOTCORE_CYCLE_DEADLINE_SECONDS + 1 < settings.Q_CLUSTER["timeout"]


@pytest.mark.parametrize("previous", ["same", "sk-not-an-app-key"])
def test_a_previous_app_key_that_keeps_no_bot_is_warned_of(settings, previous):
    settings.VIBE_APP_KEY = "vibe_app_" + "n" * 40
    settings.VIBE_APP_KEY_PREVIOUS = settings.VIBE_APP_KEY if previous == "same" else previous
    (warning,) = check_previous_app_key()
    assert warning.id == "botcore.W013" and settings.VIBE_APP_KEY not in warning.msg + warning.hint
    settings.VIBE_APP_KEY_PREVIOUS = "vibe_app_" + "o" * 40
    assert check_previous_app_key() == []
