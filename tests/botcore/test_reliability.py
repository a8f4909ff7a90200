"""Never lose, never repeat: each way the poll cycle once lost or repeated work, counted where it happens.

An instrumented skill counts its executions and its effects per event (a repeat shows even where the
platform would dedupe the message); the sandbox's call log counts what reached the platform.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core import checks
from django.db import connection
from django.utils import timezone

from botcore import conf
from botcore.models import Bot, EventLogEntry
from botcore.pacer import Pacer
from botcore.services import bots as bot_services
from botcore.services.bots import provision_bot
from botcore.services.eventlog import store_batch
from botcore.services.platform import client_for_bot
from botcore.services.polling import poll_bot_once
from botcore.skills.base import Skill
from botcore.vibe.events import EventType, MessageAddEvent
from botcore.vibe.parse import read_event_batch
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.errors import PortalBusyError
from tenants.identity import VerifiedIdentity
from tenants.models import Portal


class CountingSkill(Skill):
    """Replies to every message and counts, per event id, each execution and each effect it performed."""

    name = "counting"
    event_types = frozenset({EventType.MESSAGE_ADD})
    executions: Counter = Counter()
    effects: Counter = Counter()
    during = None  # a hook a test sets: called with (event, ctx) before the skill acts

    def handle(self, event, ctx) -> None:
        assert isinstance(event, MessageAddEvent)
        key = (event.bot.id, event.event_id)  # event ids are unique per platform bot only
        type(self).executions[key] += 1
        if type(self).during is not None:
            type(self).during(event, ctx)
        ctx.reply(f"got: {event.message.text}")
        with ctx.state.update() as data:
            data["seen"] = data.get("seen", 0) + 1
        for kind, performed in ctx.effects:
            if performed:
                type(self).effects[(key, kind)] += 1


@pytest.fixture
def counting(settings):
    settings.BOTCORE_SKILLS = [f"{__name__}.CountingSkill"]
    CountingSkill.executions = Counter()
    CountingSkill.effects = Counter()
    CountingSkill.during = None
    yield CountingSkill
    CountingSkill.during = None


@pytest.fixture
def bot(sandbox_portal, counting) -> Bot:
    return provision_bot(sandbox_portal.portal)


def lease(bot: Bot) -> str:
    """Lease the bot as the pacer would, and return the token the pacer hands its cycle."""
    token = f"pacer-{bot.pk}"
    Bot.objects.filter(pk=bot.pk).update(
        lease_token=token, lease_until=timezone.now() + timedelta(seconds=15)
    )
    return token


def message_ids(bot: Bot) -> list[int]:
    return list(
        EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
        .order_by("pk")
        .values_list("vibe_event_id", flat=True)
    )


def no_repeats(counter: Counter) -> bool:
    return all(count == 1 for count in counter.values())


# --- 1. two cycles on one bot -----------------------------------------------------------------------
@pytest.mark.slow
def test_a_cycle_delivered_twice_at_once_runs_once(sandbox_portal, bot, counting):
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    token = lease(bot)
    duplicates = []

    def the_queue_delivers_the_same_task_again(event, ctx):
        if not duplicates:
            duplicates.append(poll_bot_once(bot.pk, lease_token=token).status)

    counting.during = the_queue_delivers_the_same_task_again
    assert poll_bot_once(bot.pk, lease_token=token).status == "polled"
    assert duplicates == ["skipped"]
    assert list(counting.executions.values()) == [1] and no_repeats(counting.effects)


@pytest.mark.slow
def test_a_cycle_that_lost_its_lease_hands_on_no_further_event(sandbox_portal, bot, counting):
    for text in ("one", "two"):
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    token = lease(bot)

    def another_cycle_takes_the_bot(event, ctx):
        Bot.objects.filter(pk=bot.pk).update(lease_token="another-cycle")

    counting.during = another_cycle_takes_the_bot
    poll_bot_once(bot.pk, lease_token=token)
    first, second = message_ids(bot)
    assert counting.executions == Counter({(bot.vibe_bot_id, first): 1})
    assert EventLogEntry.objects.get(bot=bot, vibe_event_id=second).status == EventLogEntry.Status.RECEIVED


def test_lease_outlasts_the_task_timeout_which_outlasts_the_cycle_deadline(settings):
    assert conf.check_cycle_timing() == []
    assert checks.run_checks(tags=[checks.Tags.compatibility]) == []
    settings.BOTCORE_LEASE_SECONDS = 60  # the first wave's lease, shorter than the 90 s task timeout
    problems = conf.check_cycle_timing()
    assert len(problems) == 1 and "BOTCORE_LEASE_SECONDS (60)" in problems[0]
    assert [m.id for m in checks.run_checks(tags=[checks.Tags.compatibility])] == ["botcore.E010"]
    settings.BOTCORE_LEASE_SECONDS = 120
    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 100
    assert "BOTCORE_CYCLE_DEADLINE_SECONDS" in conf.check_cycle_timing()[0]


def test_a_cycle_killed_mid_skill_leaves_a_backoff(sandbox_portal, bot, counting):
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    token = lease(bot)

    def killed(event, ctx):
        raise SystemExit("the task queue's timeout killed the worker")

    counting.during = killed
    with pytest.raises(SystemExit):
        poll_bot_once(bot.pk, lease_token=token)
    bot.refresh_from_db()
    assert bot.consecutive_failures == 1
    assert bot.next_poll_at > bot.lease_until  # not due again the moment its lease runs out


# --- 2. poison events ------------------------------------------------------------------------------
@pytest.mark.slow
def test_poison_events_are_kept_as_malformed_and_the_offset_moves(sandbox_portal, bot, counting):
    base = {"type": "ONIMBOTV2MESSAGEADD", "date": "2026-11-24T10:00:00+03:00"}
    nested: dict = {}
    for _ in range(200):
        nested = {"x": nested}
    good = sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="fine")
    items = [
        # Message ids no real message of the test has: a message is added once (message-id de-duplication).
        {**base, "eventId": 101, "data": {"message": {"id": 900_001, "text": "nul \x00 inside"}}},
        {**base, "eventId": 2**70, "data": {}},
        {**base, "eventId": 103, "data": nested},
        ["not", "an", "object"],
        {**base, "eventId": 104, "data": {"count": 2**80, "message": {"id": 900_002, "text": "\x00"}}},
    ]
    batch = read_event_batch({"events": items, "nextOffset": 105})
    assert store_batch(bot.pk, batch, vibe_bot_id=bot.vibe_bot_id, lease_token=None) == 5
    bot.refresh_from_db()
    assert bot.event_offset == 105
    malformed = EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.MALFORMED)
    assert malformed.count() == 3  # the huge id, the nesting, the list
    assert all(entry.payload["raw_text"] for entry in malformed)
    kept = EventLogEntry.objects.get(bot=bot, vibe_event_id=101)
    assert kept.payload["data"]["message"]["text"] == "nul \ufffd inside"
    assert EventLogEntry.objects.get(bot=bot, vibe_event_id=104).payload["data"]["count"] == str(2**80)
    assert good  # the real message still arrives through the platform afterwards
    Bot.objects.filter(pk=bot.pk).update(event_offset=0)
    poll_bot_once(bot.pk)
    assert any(m["text"] == "got: fine" for m in sandbox_portal.bot_messages(bot.vibe_bot_id))


# --- 3. one odd answer -----------------------------------------------------------------------------
@pytest.mark.slow
def test_an_html_answer_to_a_reply_leaves_the_event_to_be_retried_not_failed(
    sandbox_portal, bot, counting, settings
):
    settings.VIBE_MAX_ATTEMPTS = 1
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    fault = {"method": "POST", "path": f"/v1/bots/{bot.vibe_bot_id}/messages", "garbageRate": 1.0}
    sandbox_portal.control.post("/_sandbox/faults", json=fault)
    poll_bot_once(bot.pk)
    [entry] = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.RECEIVED and entry.next_attempt_at is not None
    sandbox_portal.control.delete("/_sandbox/faults")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.HANDLED
    assert [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)].count("got: one") == 1
    key = (bot.vibe_bot_id, entry.vibe_event_id)
    assert counting.effects[(key, "post")] == 1 and counting.effects[(key, "state")] == 1


@pytest.mark.parametrize("kind", ["proxy-413", "proxy-431"])
def test_a_reply_a_proxy_refuses_as_too_large_fails_its_event_once_and_the_next_event_is_answered(
    sandbox_portal, bot, counting, kind
):
    """From an outside trial: a proxy's 413 (or 431) to a reply, its own page and not the platform's
    envelope, was taken for a passing failure: one message made 5 send attempts and 20 reaction calls over
    its retries. The same request is refused again however often it is sent: one send, the event failed with
    the reason for an operator, and the bot goes on with the next event."""
    messages = f"/v1/bots/{bot.vibe_bot_id}/messages"

    def react_first(event, ctx):
        ctx.react("like")

    counting.during = react_first
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="too large")
    fault = {"method": "POST", "path": messages, "garbageRate": 1.0, "garbageKind": kind}
    rule = sandbox_portal.control.post("/_sandbox/faults", json=fault).json()["data"]["id"]
    for _ in range(3):  # what the next cycles would find: nothing left to try again
        EventLogEntry.objects.filter(bot=bot).update(next_attempt_at=None)
        poll_bot_once(bot.pk)

    [entry] = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.FAILED and entry.attempts == 1
    assert kind[-3:] in entry.error and "gave up" not in entry.error
    # Every call on record: one a fault answered names no bot (it never got past the proxy).
    calls = sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"]
    assert sum(c["method"] == "POST" and c["path"] == messages for c in calls) == 1
    assert sum(c["path"].endswith("/reactions") for c in calls) == 1
    sandbox_portal.control.delete(f"/_sandbox/faults/{rule}")
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="small")
    poll_bot_once(bot.pk)
    assert [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)] == ["got: small"]


@pytest.mark.slow
def test_a_failed_typing_or_reaction_never_fails_the_event(sandbox_portal, bot, counting, settings):
    settings.VIBE_MAX_ATTEMPTS = 1
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    for path in ("/v1/bots/{bot_id}/typing", "/v1/bots/{bot_id}/messages/{message_id}/reactions"):
        fault = {"method": "POST", "path": path, "errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"}
        sandbox_portal.control.post("/_sandbox/faults", json=fault)

    def best_effort(event, ctx):
        ctx.typing()
        assert ctx.react("like") is False

    counting.during = best_effort
    poll_bot_once(bot.pk)
    [entry] = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.HANDLED


# --- 5. re-provisioning ----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_reprovisioned_bot_starts_its_new_platform_bot_at_offset_zero(sandbox_portal, bot, counting):
    for text in ("one", "two", "three"):
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    poll_bot_once(bot.pk)
    bot.refresh_from_db()
    assert bot.event_offset > 3
    old_id = bot.vibe_bot_id
    client_for_bot(bot).delete_bot(old_id)  # gone on the platform: the next cycle has it registered anew
    assert poll_bot_once(bot.pk).status == "reprovision"
    new = provision_bot(sandbox_portal.portal)  # what the provisioning the cycle requested runs
    assert new.vibe_bot_id != old_id and new.event_offset == 0 and new.status == Bot.Status.ACTIVE
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=new.vibe_bot_id, text="after")
    poll_bot_once(bot.pk)
    assert "got: after" in [m["text"] for m in sandbox_portal.bot_messages(new.vibe_bot_id)]
    assert no_repeats(counting.executions) and no_repeats(counting.effects)


# --- 6. a personal key -----------------------------------------------------------------------------
def personal_key(sandbox_portal, *, user_id: int | None = None) -> str:
    user_id = sandbox_portal.admin_id if user_id is None else user_id
    response = sandbox_portal.control.post("/_sandbox/keys", json={"userId": user_id})
    return response.json()["data"]["key"]


def bots_on_platform(sandbox_portal) -> set[int]:
    listed = sandbox_portal.control.get("/_sandbox/bots").json()["data"]["bots"]
    return {b["id"] for b in listed if not b.get("deleted")}


# Codes per key (the default reading), or per portal: each move registers the new key's bot while the old
# one, still to be drained, holds the code (CONTRACT B §7.1; botcore/services/bot_codes.py).
BOT_CODES = [pytest.param(None, id="codes-per-key"), pytest.param("portal-bot-codes", id="portal-bot-codes")]


@pytest.mark.slow
@pytest.mark.parametrize("dialect", BOT_CODES)
def test_a_personal_key_moves_the_bot_and_removing_it_moves_it_back(
    sandbox_portal, bot, counting, task_queue, dialect
):
    sandbox_portal.speak(*filter(None, [dialect]))
    portal = sandbox_portal.portal
    session_bot = bot.vibe_bot_id
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=session_bot, text="before")
    tenant_services.set_portal_api_key(
        portal, api_key=personal_key(sandbox_portal), added_by_user_id=sandbox_portal.admin_id
    )
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.credential_kind == "personal" and bot.vibe_bot_id != session_bot and bot.event_offset == 0
    assert "personal key" in bot.status_note
    assert session_bot not in bots_on_platform(sandbox_portal)  # the old bot left users' chats
    assert [b["id"] for b in sandbox_portal.portal_bots()] == [bot.vibe_bot_id]
    # What the user wrote to the old bot before the move was drained, and is answered by the new one.
    assert EventLogEntry.objects.filter(
        bot=bot, vibe_bot_id=session_bot, event_type="ONIMBOTV2MESSAGEADD"
    ).exists()
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="with the key")
    assert poll_bot_once(bot.pk).status == "polled"
    polls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/events")]
    assert polls and all(c["keyKind"] == "api" and not c["hadBearer"] for c in polls)
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert "got: before" in texts and "got: with the key" in texts
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE

    personal_bot = bot.vibe_bot_id
    tenant_services.remove_portal_api_key(portal)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.credential_kind == "session" and bot.vibe_bot_id not in (personal_bot, session_bot)
    assert personal_bot not in bots_on_platform(sandbox_portal)
    assert [b["id"] for b in sandbox_portal.portal_bots()] == [bot.vibe_bot_id]
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="back")
    assert poll_bot_once(bot.pk).status == "polled"
    assert "got: back" in [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert len(counting.executions) == 3  # before, with the key, back: each answered once
    assert no_repeats(counting.executions) and no_repeats(counting.effects)


@pytest.mark.slow
@pytest.mark.parametrize("dialect", BOT_CODES)
def test_another_personal_key_moves_the_bot_to_a_bot_of_that_key(
    sandbox_portal, bot, counting, task_queue, dialect
):
    """A platform bot answers only to the key that registered it: a portal that swaps one personal key for
    another (an admin leaves, a key is rotated) gets a bot of the new key, and the old key's bot is drained
    and unregistered while that key still works. Saving the same key again moves nothing."""
    sandbox_portal.speak(*filter(None, [dialect]))
    portal, admin = sandbox_portal.portal, sandbox_portal.admin_id
    first_key = personal_key(sandbox_portal)
    tenant_services.set_portal_api_key(portal, api_key=first_key, added_by_user_id=admin)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    first_bot = bot.vibe_bot_id
    assert bot.credential_kind == "personal"

    tenant_services.set_portal_api_key(portal, api_key=first_key, added_by_user_id=admin)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id == first_bot  # the same key: the same bot

    sandbox_portal.say(user_id=admin, bot_id=first_bot, text="to the first key's bot")
    second_key = personal_key(sandbox_portal, user_id=sandbox_portal.member_id)
    tenant_services.set_portal_api_key(portal, api_key=second_key, added_by_user_id=sandbox_portal.member_id)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.credential_kind == "personal"
    assert bot.vibe_bot_id != first_bot and bot.event_offset == 0
    assert first_bot not in bots_on_platform(sandbox_portal)  # unregistered with the first key
    assert [b["id"] for b in sandbox_portal.portal_bots()] == [bot.vibe_bot_id]
    sandbox_portal.say(user_id=admin, bot_id=bot.vibe_bot_id, text="to the second key's bot")
    assert poll_bot_once(bot.pk).status == "polled"
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE, bot.broken_reason
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert "got: to the first key's bot" in texts and "got: to the second key's bot" in texts
    polls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/events")]
    assert polls and all(c["keyKind"] == "api" for c in polls)
    assert no_repeats(counting.executions) and no_repeats(counting.effects)
    assert len(counting.executions) == 2


@pytest.mark.slow
def test_a_key_saved_while_the_bot_moves_to_another_leaves_one_platform_bot(
    sandbox_portal, bot, task_queue, monkeypatch
):
    """Two personal keys saved a moment apart: the second is saved while the move to the first is still
    registering its bot. The moves and the saves take their turns, so one platform bot is left, the second
    key's, and the first key's bot is unregistered, not orphaned."""
    portal, admin, member = sandbox_portal.portal, sandbox_portal.admin_id, sandbox_portal.member_id
    first_key, second_key = personal_key(sandbox_portal), personal_key(sandbox_portal, user_id=member)
    save_done = threading.Event()
    saver: list[threading.Thread] = []

    def save_second_key() -> None:
        try:
            tenant_services.set_portal_api_key(
                Portal.objects.get(pk=portal.pk), api_key=second_key, added_by_user_id=member
            )
        finally:
            save_done.set()
            connection.close()

    registering = bot_services.register_commands

    def second_save_meanwhile(*args, **kwargs):
        registering(*args, **kwargs)
        if not saver:  # the first move, its bot registered under the first key and not yet recorded
            saver.append(threading.Thread(target=save_second_key))
            saver[0].start()
            save_done.wait(timeout=2)  # taking turns, the save waits for this move to end

    tenant_services.set_portal_api_key(portal, api_key=first_key, added_by_user_id=admin)
    monkeypatch.setattr(bot_services, "register_commands", second_save_meanwhile)
    task_queue.run("botcore.tasks.move_portal_bot")
    saver[0].join(timeout=30)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.credential_kind == "personal" and bot.status == Bot.Status.ACTIVE
    assert bots_on_platform(sandbox_portal) == {bot.vibe_bot_id}
    with client_for_bot(bot) as client:  # the bot answers to the key the portal has now
        assert client.get_bot(bot.vibe_bot_id).bot.id == bot.vibe_bot_id


def test_a_bot_being_registered_holds_no_database_lock_over_its_platform_calls(sandbox_portal, monkeypatch):
    """From a mass install (200 portals at once on SQLite): each provisioning held the portal's turn as a
    transaction, which on SQLite holds the whole database, over platform calls waiting at the platform's
    rate; every other writer waited behind it (replies a minute late, provisionings failed "database is
    locked"). The turn is a lease now: others write while a bot is registered."""
    other = Portal.objects.create(member_id="other-member", vibe_portal_id="other-portal", domain="o.example")
    registering = bot_services.register_commands
    written: list[bool] = []

    def write_meanwhile(*args, **kwargs):
        def write() -> None:
            try:
                Portal.objects.filter(pk=other.pk).update(name="written while a bot registers")
                written.append(True)
            finally:
                connection.close()

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=5)  # the database's own busy timeout is 30 s: a lock held would outlast this
        return registering(*args, **kwargs)

    monkeypatch.setattr(bot_services, "register_commands", write_meanwhile)
    provision_bot(sandbox_portal.portal)
    assert written == [True]


def test_a_portal_turn_waits_for_the_holder_and_frees_itself_when_its_holder_died(sandbox_portal):
    portal = sandbox_portal.portal
    with tenant_services.portal_turn(portal), pytest.raises(PortalBusyError):  # noqa: SIM117 (in turn)
        with tenant_services.portal_turn(portal, wait=0.3):
            pass
    with tenant_services.portal_turn(portal):  # given back at the end of the first
        pass
    # A holder that died with the turn: it is free once the lease it took has run out.
    Portal.objects.filter(pk=portal.pk).update(
        turn_token="dead-holder", turn_until=timezone.now() - timedelta(seconds=1)
    )
    with tenant_services.portal_turn(portal, wait=0.3):
        assert Portal.objects.get(pk=portal.pk).turn_token not in ("", "dead-holder")
    assert Portal.objects.get(pk=portal.pk).turn_token == ""


def test_a_refusal_read_before_a_move_does_not_break_the_moved_bot(sandbox_portal, bot):
    """A cycle that read the bot, then was refused (BOT_ACCESS_DENIED: the key was replaced meanwhile), ends
    after the move registered the bot anew: the refusal is of the old platform bot, not of the new one."""
    stale = Bot.objects.select_related("portal").get(pk=bot.pk)
    Bot.objects.filter(pk=bot.pk).update(vibe_bot_id=bot.vibe_bot_id + 1000)  # the move, meanwhile
    assert bot_services.mark_bot_broken(stale, reason="BOT_ACCESS_DENIED: another key") is False
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.broken_reason == ""
    assert bot_services.mark_bot_broken(bot, reason="BOT_ACCESS_DENIED: another key") is True
    bot.refresh_from_db()
    assert bot.status == Bot.Status.BROKEN


# --- 7. a stale cycle and a fresh token --------------------------------------------------------------
def test_a_refusal_invalidates_exactly_the_refused_token_not_a_fresher_one(sandbox_portal):
    portal = sandbox_portal.portal
    stale = tenant_selectors.get_portal_credential(portal)
    grant = portal.grants.get()
    fresh = sandbox_portal.control.post(
        "/_sandbox/sessions", json={"appKey": sandbox_portal.app_key, "userId": sandbox_portal.admin_id}
    ).json()["data"]
    identity = VerifiedIdentity(
        vibe_portal_id=portal.vibe_portal_id,
        member_id=portal.member_id,
        domain=portal.domain,
        portal_name=portal.name,
        bitrix_user_id=grant.bitrix_user_id,
        user_name=grant.user_name,
        is_admin=True,
        expires_at=grant.expires_at + timedelta(hours=1),
    )
    tenant_services.store_session_grant(identity=identity, session_token=fresh["token"], source="gateway")
    tenant_services.report_credential_refused(portal, credential=stale)  # a cycle still on the old token
    portal.refresh_from_db()
    assert portal.status == portal.Status.ACTIVE
    assert tenant_selectors.get_portal_credential(portal).secret == fresh["token"]
    tenant_services.report_credential_refused(
        portal, credential=tenant_selectors.get_portal_credential(portal)
    )
    portal.refresh_from_db()
    assert portal.status == portal.Status.NEEDS_SESSION


# --- 8. a broker outage ----------------------------------------------------------------------------
def test_a_failed_enqueue_releases_the_lease_at_once(sandbox_portal, bot, settings, monkeypatch):
    settings.VIBE_BUDGET_PER_SECOND = 0

    def broker_down(*args, **kwargs):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr("botcore.cycle_queue.async_task", broker_down)
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now())
    assert Pacer().tick() == 0
    bot.refresh_from_db()
    assert bot.lease_token == "" and bot.lease_until is None
    monkeypatch.undo()
    assert Pacer().tick() == 1  # no lease to wait out when the broker is back


# --- idle cycles are quiet --------------------------------------------------------------------------
@pytest.mark.slow
def test_an_idle_cycle_logs_nothing_at_info(sandbox_portal, bot, caplog):
    poll_bot_once(bot.pk)  # the join event
    caplog.clear()
    caplog.set_level(logging.INFO)
    for _ in range(3):
        assert poll_bot_once(bot.pk).stored == 0
    assert not [r for r in caplog.records if r.name.startswith("botcore") and r.levelno >= logging.INFO]


def test_a_reply_hanging_past_the_call_deadline_is_a_recorded_retry_not_a_killed_worker(
    sandbox_portal, bot, counting, settings
):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 3}
    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 1  # calls end by (1 + 3) / 2 = 2 s from the cycle's start
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    fault = {"method": "POST", "path": "/v1/bots/{bot_id}/messages", "latencyMs": 6000}
    sandbox_portal.control.post("/_sandbox/faults", json=fault)
    outcome = poll_bot_once(bot.pk)  # would outlive the task timeout without the call deadline
    assert outcome.status == "polled"
    [entry] = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.RECEIVED and entry.next_attempt_at is not None
    assert entry.attempts == 1 and entry.error  # judged and recorded: the attempt is not lost silently


def test_ledger_keys_of_any_length_fit_their_column():
    """A backend run's effect keys carry its run key (long); PostgreSQL refuses what exceeds the column."""
    from botcore.models import ActionRecord
    from botcore.skills.ledger import KEY_LENGTH, stored_key

    assert ActionRecord._meta.get_field("key").max_length == KEY_LENGTH
    long_key = "7:run:standup:scheduled:standup:2030-03-04T06:30:00+00:00:state:1"
    assert len(stored_key(long_key)) <= KEY_LENGTH and stored_key(long_key) == stored_key(long_key)
    assert stored_key(long_key) != stored_key(long_key.replace(":1", ":2"))
    assert stored_key("5d0c2a36-0f6b-4d0e-9a57-3b8f2f6b1e01") == "5d0c2a36-0f6b-4d0e-9a57-3b8f2f6b1e01"


def test_a_skill_asking_for_what_no_url_can_carry_fails_its_event_plainly_with_nothing_sent(
    sandbox_portal, bot, counting, caplog
):
    """A skill's ctx.get_chat() with an id of 100,000 digits (one a person typed, passed on): httpx refused
    the URL with its own exception, taken for the skill's bug (a traceback, and an apology posted to the
    person). The client refuses it before sending, as a permanent VibeError: the event fails once, plainly."""

    def ask_for_a_long_chat(event, ctx):
        ctx.get_chat("chat" + "9" * 100_000)

    counting.during = ask_for_a_long_chat
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="which chat?")
    before = len(sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"])
    for _ in range(2):
        EventLogEntry.objects.filter(bot=bot).update(next_attempt_at=None)
        poll_bot_once(bot.pk)
    [entry] = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.FAILED and entry.attempts == 1
    assert "not sent" in entry.error and len(entry.error) < 1000
    calls = sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"][before:]
    assert not [c for c in calls if "/chats/" in c["path"] or c["method"] == "POST"], calls  # nor an apology
    assert not [r for r in caplog.records if r.exc_info], caplog.text
