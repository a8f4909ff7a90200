"""The poll cycle against the live sandbox: provisioning, store-then-ack, routing, every outcome."""

from __future__ import annotations

import html
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from botcore import conf
from botcore.models import Bot, BotCommand, EventLogEntry
from botcore.services.action_ledger import DatabaseLedger
from botcore.services.bots import provision_bot
from botcore.services.platform import client_for_bot
from botcore.services.polling import (
    RENEW_AFTER_SHARE,
    CycleOutcome,
    lease_renewal,
    poll_bot_once,
    quiet_interval,
    watched_batch,
    watched_for_cycle,
    watched_rate_limit,
)
from botcore.skills.base import CommandSpec, Skill
from botcore.vibe import VibeClient
from botcore.vibe.errors import VibeSessionExpiredError
from botcore.vibe.events import EventType
from botcore.vibe.keyboards import Keyboard
from botcore.vibe.parse import read_event_batch
from tenants.models import Portal, SessionGrant
from tenants.services import uninstall_portal


@pytest.fixture
def bot(sandbox_portal) -> Bot:
    return provision_bot(sandbox_portal.portal)


@pytest.mark.slow
def test_provisioning_registers_the_bot_and_its_commands_and_is_idempotent(sandbox_portal, bot):
    assert bot.status == Bot.Status.ACTIVE and bot.vibe_bot_id
    assert set(BotCommand.objects.filter(bot=bot).values_list("command", flat=True)) == {"ping", "help"}
    again = provision_bot(sandbox_portal.portal)
    assert again.vibe_bot_id == bot.vibe_bot_id
    assert BotCommand.objects.filter(bot=bot).count() == 2


@pytest.mark.slow
def test_a_message_is_stored_acknowledged_and_answered_by_echo(sandbox_portal, bot):
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="Hello, bot!")
    outcome = poll_bot_once(bot.pk)
    assert outcome.status == "polled"
    entries = list(EventLogEntry.objects.filter(bot=bot).order_by("vibe_event_id"))
    assert [e.event_type for e in entries] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]
    assert all(e.status == EventLogEntry.Status.HANDLED and e.skill == "echo" for e in entries)
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert any("you wrote: [i]Hello, bot![/i]" in t or "you wrote: [I]Hello, bot![/I]" in t for t in texts), (
        texts
    )
    bot.refresh_from_db()
    assert bot.event_offset == entries[-1].vibe_event_id + 1
    # The next cycle acknowledges with that offset and finds nothing new.
    assert poll_bot_once(bot.pk).stored == 0
    calls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/events")]
    assert calls[-1]["query"]["offset"] == str(bot.event_offset)
    assert all(c["keyKind"] == "app" and c["hadBearer"] for c in sandbox_portal.calls(bot.vibe_bot_id))


@pytest.mark.slow
def test_a_worker_killed_after_the_reply_loses_nothing_and_posts_nothing_twice(
    sandbox_portal, bot, monkeypatch
):
    from botcore.services import executor

    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    real_finish = executor._finish

    def killed_before_recording(entry, status, **kwargs):
        if entry.event_type == "ONIMBOTV2MESSAGEADD":
            raise SystemExit("worker killed")  # the reply went out; the entry is not marked handled
        return real_finish(entry, status, **kwargs)

    monkeypatch.setattr(executor, "_finish", killed_before_recording)
    with pytest.raises(SystemExit):
        poll_bot_once(bot.pk)
    assert (
        EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD").status
        == EventLogEntry.Status.RECEIVED
    )
    monkeypatch.undo()
    poll_bot_once(bot.pk)
    assert not EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.RECEIVED).exists()
    # Counted where the side effect happens: one send reached the platform, the retry replayed it.
    sends = [
        c
        for c in sandbox_portal.calls(bot.vibe_bot_id)
        if c["method"] == "POST" and c["path"].endswith("/messages")
    ]
    assert len([m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if "one" in m["text"]]) == 1
    assert len(sends) == 2  # the join's greeting and the echo, each once


def statements_of_a_cycle(sandbox_portal, bot, *, messages: int, leased: bool = False) -> int:
    for number in range(messages):
        sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text=f"message {number}")
    token = None
    if leased:  # as the poller hands a bot over
        token = "handed-over"
        Bot.objects.filter(pk=bot.pk).update(
            lease_token=token, lease_until=timezone.now() + timedelta(seconds=15)
        )
    with CaptureQueriesContext(connection) as statements:
        assert poll_bot_once(bot.pk, lease_token=token).handled == messages
    return len(statements.captured_queries)


def cycle_killed_before_the_outcome(bot, monkeypatch) -> None:
    """One cycle of `bot` whose worker dies once a message's reaction and reply went out, before its outcome
    is recorded (the message's entry stays received, its attempt counted)."""
    from botcore.services import executor

    real_finish = executor._finish

    def killed_before_recording(entry, status, **kwargs):
        if entry.event_type == "ONIMBOTV2MESSAGEADD":
            raise SystemExit("worker killed")  # the reaction and the reply went out
        return real_finish(entry, status, **kwargs)

    monkeypatch.setattr(executor, "_finish", killed_before_recording)
    with pytest.raises(SystemExit):
        poll_bot_once(bot.pk)
    monkeypatch.undo()


@pytest.mark.slow
def test_an_operators_replay_of_an_answered_event_posts_and_reacts_nothing_again(
    sandbox_portal, bot, monkeypatch
):
    """A replay sets the entry back as it was stored (attempts 0, no retry time), so its claim looks like a
    first attempt's, yet the ledger holds what the earlier attempt did: a handling that trusted a first claim
    to find nothing recorded would post and react again (counted where the effects happen, on the
    platform)."""
    from botcore.services.eventlog import give_up_entries, replay_entries

    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    cycle_killed_before_the_outcome(bot, monkeypatch)
    message = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert give_up_entries(message, operator="op") == 1
    assert replay_entries(message, operator="op").replayed == 1
    assert message.get().attempts == 0 and message.get().next_attempt_at is None
    poll_bot_once(bot.pk)
    assert message.get().status == EventLogEntry.Status.HANDLED
    calls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["method"] == "POST"]
    assert len([c for c in calls if c["path"].endswith("/messages")]) == 2  # the greeting and the echo
    assert len([c for c in calls if c["path"].endswith("/reactions")]) == 1


def test_an_event_its_old_platform_bot_received_keeps_its_keys_after_the_bot_moved(
    sandbox_portal, bot, monkeypatch
):
    """A platform whose events name no bot (`no-event-bot`): a handling's keys were made from the bot's
    platform bot of the moment, so an event of the old platform bot handled again after a move (a new key, a
    personal key) was keyed anew, and its reply and reaction, made before the move, were made again (counted
    on the platform). Keyed by the platform bot the event came to, as its log entry says."""
    sandbox_portal.speak("no-event-bot")
    old_platform_bot = bot.vibe_bot_id
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=old_platform_bot, text="one")
    cycle_killed_before_the_outcome(bot, monkeypatch)
    moved_to = client_for_bot(bot).register_bot(code="vibe_moved", name="Vibe").id  # as a move registers it
    Bot.objects.filter(pk=bot.pk).update(vibe_bot_id=moved_to, event_offset=0)
    message = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert message.vibe_bot_id == old_platform_bot and message.status == EventLogEntry.Status.RECEIVED

    poll_bot_once(bot.pk)  # the leftover event, handled by the moved bot

    message.refresh_from_db()
    assert message.status == EventLogEntry.Status.HANDLED
    posts = [
        c
        for platform_bot in (old_platform_bot, moved_to)
        for c in sandbox_portal.calls(platform_bot)
        if c["method"] == "POST" and c["path"].endswith(("/messages", "/reactions"))
    ]
    assert sorted(c["path"].rsplit("/", 1)[1] for c in posts) == ["messages", "messages", "reactions"]


@pytest.mark.slow
def test_a_cycle_costs_the_database_a_fixed_count_per_message_however_long_the_history(
    sandbox_portal, bot, settings
):
    """Pinned on both backends, so that a change that adds statements to every message says so here.

    An empty cycle: the bot, then its offset and schedule settled in one UPDATE made only while no stored
    event waits (the pending check was a statement of its own), the credential read once, then recalled
    while the portal's credentials stand. One message with echo: the bot (with its portal's settings),
    store_batch's transaction, the pending entries, the portal's skills, then per message 5 (the claim;
    the handling's one ledger look-up, for the reaction and the reply both; their records, one statement
    each; the outcome), and the schedule. A poll cycle with a lease adds the lease swap, and no renewal
    while the lease is fresh (a renewal per message used to add one). Each handling looked the reaction and
    the reply up apart: 6 a message.
    """
    settings.VIBE_BUDGET_BACKEND = "off"  # a best-effort call the budget skipped would record nothing
    # A history of handled events first (the dialog's join among them): the count must not grow with it.
    for number in range(6):
        sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text=f"earlier {number}")
        poll_bot_once(bot.pk)
    counts = [statements_of_a_cycle(sandbox_portal, bot, messages=messages) for messages in (0, 1, 3)]
    assert counts == [2, 17, 17 + 2 * 5]
    leased = [statements_of_a_cycle(sandbox_portal, bot, messages=n, leased=True) for n in (0, 1, 3)]
    assert leased == [2 + 1, 17 + 1, 17 + 2 * 5 + 1]


@pytest.mark.slow
def test_where_a_repeat_posts_again_a_message_costs_a_fixed_count_however_many_actions_came_before(
    sandbox_portal, bot, settings
):
    """Where the platform does not de-duplicate a post's templateId (`no-template-dedupe`), each reply's doubt
    is written ahead and judged against the newest message known in its chat: per message 8 (the claim; the
    handling's one ledger look-up; the reaction's record; the newest person's message stored there and the
    newest post of the bot's own recorded there, a statement each; the reply's doubt written ahead, then
    settled; the outcome): 9 while the reaction and the reply were looked up apart. The bot's own newest post
    there was looked for among its newest 50 records, read whole; it is one row of an index now, however
    many records the bot made before (60 here, elsewhere: tests/botcore/test_recorded_posts.py)."""
    settings.VIBE_BUDGET_BACKEND = "off"  # a best-effort call the budget skipped would record nothing
    sandbox_portal.speak("no-template-dedupe")
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="earlier")
    poll_bot_once(bot.pk)  # the dialog's join (its greeting) and a first answer
    ledger = DatabaseLedger(bot_pk=bot.pk)
    for number in range(60):  # a busy bot's actions elsewhere since
        ledger.record(f"elsewhere {number}", {"id": 10**6 + number, "posted_in": "chat999"})
    counts = [statements_of_a_cycle(sandbox_portal, bot, messages=messages) for messages in (1, 3)]
    assert counts == [12 + 8, 12 + 3 * 8]  # the cycle's own 12: the test above's 17 less its message's 5


def test_a_cycle_renews_its_lease_once_a_quarter_of_it_has_gone_by_and_says_when_it_is_lost(bot):
    lease = conf.lease_seconds()
    Bot.objects.filter(pk=bot.pk).update(lease_token="mine", lease_until=timezone.now())
    fresh = lease_renewal(bot.pk, "mine", backoff=1.0, taken_at=time.monotonic())
    with CaptureQueriesContext(connection) as statements:
        assert fresh() is True
    assert statements.captured_queries == []  # just taken: nothing to write
    aging = lease_renewal(bot.pk, "mine", backoff=1.0, taken_at=time.monotonic() - lease * RENEW_AFTER_SHARE)
    before = timezone.now()
    assert aging() is True
    renewed = Bot.objects.get(pk=bot.pk)
    assert renewed.lease_until >= before + timedelta(seconds=lease - 1)
    assert renewed.next_poll_at >= renewed.lease_until  # a killed cycle's backoff stays after the lease
    with CaptureQueriesContext(connection) as statements:
        assert aging() is True  # renewed a moment ago
    assert statements.captured_queries == []
    Bot.objects.filter(pk=bot.pk).update(lease_token="someone-else")
    lost = lease_renewal(bot.pk, "mine", backoff=1.0, taken_at=time.monotonic() - lease)
    assert lost() is False


def test_a_credential_this_process_cannot_open_backs_the_bot_off_and_hands_its_lease_back(
    sandbox_portal, bot, settings, caplog
):
    """A key rotation's rolling restart: a web process on the new key list stored the portal's session,
    and this worker, still on the old list, cannot open it. The cycle used to raise before anything was
    recorded, so the bot stayed leased for a whole BOTCORE_LEASE_SECONDS (two minutes) after the worker
    got the new keys; now it backs off and hands the lease back, saying which setting is at fault."""
    from cryptography.fernet import Fernet

    from tenants import selectors

    settings.TENANTS_FERNET_KEYS = [Fernet.generate_key().decode()]  # opens nothing stored
    selectors._recalled.clear()  # what the provisioning read with the right keys
    Bot.objects.filter(pk=bot.pk).update(
        lease_token="handed-over", lease_until=timezone.now() + timedelta(seconds=15)
    )
    outcome = poll_bot_once(bot.pk, lease_token="handed-over")
    assert outcome.status == "backoff"
    bot.refresh_from_db()
    assert bot.lease_token == "" and bot.lease_until is None
    assert bot.backoff_until is not None and bot.consecutive_failures == 1
    assert "VIBE_FERNET_KEYS" in bot.last_error
    assert any(r.levelname == "ERROR" and "VIBE_FERNET_KEYS" in r.getMessage() for r in caplog.records)


def test_a_lost_lease_stores_nothing(sandbox_portal, bot):
    Bot.objects.filter(pk=bot.pk).update(lease_token="someone-else")
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="hi")
    assert poll_bot_once(bot.pk, lease_token="mine").status == "skipped"
    assert not EventLogEntry.objects.filter(bot=bot).exists()


def test_rate_limit_waits_retry_after(sandbox_portal, bot):
    Bot.objects.filter(pk=bot.pk).update(consecutive_failures=3)  # an outage before it
    sandbox_portal.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/events", "errorRate": 1.0, "errorCode": "RATE_LIMIT"},
    )
    assert poll_bot_once(bot.pk).status == "rate_limited"
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and "429" in bot.last_error and bot.backoff_until is not None
    # The platform answered: the failures are over, and the poller never calls back a rate limit's wait.
    assert bot.consecutive_failures == 0


@pytest.mark.slow
def test_server_errors_back_off_exponentially_and_keep_the_bot(sandbox_portal, bot, settings):
    settings.VIBE_MAX_ATTEMPTS = 1
    sandbox_portal.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/events", "errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"},
    )
    for expected_failures in (1, 2, 3):
        assert poll_bot_once(bot.pk).status == "backoff"
        bot.refresh_from_db()
        assert bot.consecutive_failures == expected_failures
    sandbox_portal.control.delete("/_sandbox/faults")
    assert poll_bot_once(bot.pk).status == "polled"
    bot.refresh_from_db()
    assert bot.consecutive_failures == 0


def test_a_refusal_echoing_the_credential_is_stored_redacted(sandbox_portal, bot, monkeypatch):
    """A refused session stored the platform's words as they came in the bot's last error (the admin and
    /api/ops/bots/ show it), where every other failure is stored redacted as log lines are: a platform that
    names the token it refuses put the token there."""
    token = "vibe_session_" + "S3cret" * 6

    def refuse(self, *args, **kwargs):
        raise VibeSessionExpiredError(
            status=401, code="TOKEN_EXPIRED", message=f"{token} has expired", hint=f"Bearer {token}"
        )

    monkeypatch.setattr(VibeClient, "get_events", refuse)
    assert poll_bot_once(bot.pk).status == "no_session"
    bot.refresh_from_db()
    assert "TOKEN_EXPIRED" in bot.last_error and "S3cret" not in bot.last_error


def test_an_expired_session_pauses_the_portals_bots(sandbox_portal, bot):
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 2 * 24 * 3600})
    assert poll_bot_once(bot.pk).status == "no_session"
    sandbox_portal.portal.refresh_from_db()
    bot.refresh_from_db()
    assert sandbox_portal.portal.status == Portal.Status.NEEDS_SESSION
    assert bot.status == Bot.Status.WAITING_SESSION


def test_a_bot_deleted_elsewhere_is_marked_broken(sandbox_portal, bot):
    sandbox_portal.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/events", "errorRate": 1.0, "errorCode": "BOT_ACCESS_DENIED"},
    )
    assert poll_bot_once(bot.pk).status == "broken"
    bot.refresh_from_db()
    assert bot.status == Bot.Status.BROKEN and "BOT_ACCESS_DENIED" in bot.broken_reason


def test_invalid_bot_id_to_a_path_naming_the_bot_by_number_leaves_the_bot_alone(sandbox_portal, bot):
    """CONTRACT A §9 answers a non-numeric message, command or file id with INVALID_BOT_ID too. The client
    names its bot by a number always, so such an answer is about another id of that one call: the bot was
    stopped as broken for it (and, having answered before, registered anew)."""
    fault = {"method": "POST", "path": "/v1/bots/{bot_id}/messages", "errorRate": 1.0}
    sandbox_portal.control.post("/_sandbox/faults", json={**fault, "errorCode": "INVALID_BOT_ID"})
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="Hello, bot!")
    outcome = poll_bot_once(bot.pk)
    assert outcome.status not in ("broken", "reprovision"), outcome
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and not bot.broken_reason and bot.vibe_bot_gone_at is None
    calls = sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"]
    sends = [c for c in calls if c["method"] == "POST" and c["path"].endswith("/messages")]
    registers = [c for c in calls if c["method"] == "POST" and c["path"] == "/v1/bots"]
    # the welcome and the echo, each refused once (a bad request is not retried); no bot registered anew
    assert [c["status"] for c in sends] == [400, 400] and len(registers) == 1


def test_a_bot_broken_on_access_denied_says_why_and_what_to_do_and_an_uninstall_still_unregisters_it(
    sandbox_portal, bot
):
    """BOT_ACCESS_DENIED says the bot is there, under another key (CONTRACT A §7, B §7.1): not gone, so an
    uninstall still asks to unregister it (the key that owns it may be back by then; a bot marked gone is
    never asked). Its broken reason said only the platform's "belongs to a different API key": what it means
    and what to do are told beside it."""
    fault = {"path": "/v1/bots/{bot_id}/events", "errorRate": 1.0, "errorCode": "BOT_ACCESS_DENIED"}
    sandbox_portal.control.post("/_sandbox/faults", json=fault)
    assert poll_bot_once(bot.pk).status == "broken"
    bot.refresh_from_db()
    assert bot.status == Bot.Status.BROKEN and bot.vibe_bot_gone_at is None
    assert bot.broken_reason == "BOT_ACCESS_DENIED: The bot belongs to a different API key"  # the platform's
    operator = Client()
    operator.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-tests-only"))
    page = html.unescape(operator.get(f"/admin/botcore/bot/{bot.pk}/change/").content.decode())
    assert "It is not gone: an uninstall still asks the platform to unregister it." in page
    assert "Put back the key that registered it and resume the bot, or re-provision it" in page

    sandbox_portal.control.delete("/_sandbox/faults")  # the key that owns it is back
    uninstall_portal(sandbox_portal.portal, reason="admin")
    deletes = [
        c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["method"] == "DELETE" and c["status"] == 200
    ]
    assert [c["path"] for c in deletes] == [f"/v1/bots/{bot.vibe_bot_id}"]
    bot.refresh_from_db()
    assert bot.status == Bot.Status.RETIRED and bot.vibe_bot_gone_at is not None


def test_the_platform_deleting_the_bot_uninstalls_the_portal(sandbox_portal, bot):
    sandbox_portal.control.post(
        f"/_sandbox/act/bots/{bot.vibe_bot_id}/delete", json={"userId": sandbox_portal.admin_id}
    )
    poll_bot_once(bot.pk)
    sandbox_portal.portal.refresh_from_db()
    bot.refresh_from_db()
    assert sandbox_portal.portal.status == Portal.Status.UNINSTALLED
    assert bot.status == Bot.Status.RETIRED


@pytest.mark.parametrize(
    "data",
    [{"bot": {"id": 999_999}}, {"bot": {"id": "999999"}}, {}],
    ids=["another-bot", "another-bot-as-text", "no-bot-named"],
)
def test_a_delete_event_naming_another_bot_or_none_keeps_the_install_and_its_credentials(
    sandbox_portal, bot, data
):
    """From an outside trial: one ONIMBOTV2DELETE naming another bot destroyed the portal's tokens and key.
    Uninstalling is irreversible, so the event must name this bot."""
    sandbox_portal.control.post(
        "/_sandbox/act/raw-events", json={"botId": bot.vibe_bot_id, "type": "ONIMBOTV2DELETE", "data": data}
    )
    poll_bot_once(bot.pk)

    sandbox_portal.portal.refresh_from_db()
    bot.refresh_from_db()
    assert sandbox_portal.portal.status == Portal.Status.ACTIVE
    assert bot.status == Bot.Status.ACTIVE
    assert SessionGrant.objects.filter(portal=sandbox_portal.portal).exists()
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="still there?")
    assert poll_bot_once(bot.pk).status == "polled"
    assert any("still there?" in m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id))


@pytest.mark.slow
def test_handling_an_event_again_posts_nothing_twice(sandbox_portal, bot):
    """A worker killed after the skill replied but before the entry was marked handled retries the event:
    the replies carry the same templateIds, so the platform answers with the messages it already has."""
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="twice?")
    poll_bot_once(bot.pk)
    before = sandbox_portal.bot_messages(bot.vibe_bot_id)
    EventLogEntry.objects.filter(bot=bot).update(status=EventLogEntry.Status.RECEIVED, attempts=1)
    poll_bot_once(bot.pk)
    assert EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.HANDLED).count() == 2
    assert sandbox_portal.bot_messages(bot.vibe_bot_id) == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("html", ("Protocol", "JSON")),
        # `events` that no reading takes (a string) beside a nextOffset: read as an empty batch, its
        # nextOffset acknowledged the events no one had read.
        ("events-unreadable", ("events cannot be read (events a str)",)),
        # A server that keeps sending: read no further than the answer's limit.
        ("endless", ("larger than 16 MiB",)),
        # A Content-Encoding the body does not match, JSON past the parser's depth: httpx's DecodingError and
        # a RecursionError left the cycle as bugs, not the platform's failure to back off from.
        ("wrong-encoding", ("does not decode",)),
        ("deep", ("does not parse",)),
    ],
)
def test_garbage_from_the_platform_backs_off_acknowledges_nothing_and_loses_nothing(
    sandbox_portal, bot, settings, kind, said
):
    settings.VIBE_MAX_ATTEMPTS = 1
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="still here?")
    sandbox_portal.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/events", "garbageRate": 1.0, "garbageKind": kind},
    )
    assert poll_bot_once(bot.pk).status == "backoff"
    bot.refresh_from_db()
    assert bot.event_offset == 0
    assert any(words in bot.last_error for words in said), bot.last_error
    sandbox_portal.control.delete("/_sandbox/faults")
    assert poll_bot_once(bot.pk).status == "polled"
    assert (
        EventLogEntry.objects.filter(
            bot=bot, event_type="ONIMBOTV2MESSAGEADD", status=EventLogEntry.Status.HANDLED
        ).count()
        == 1
    )


@pytest.mark.slow
def test_events_answered_without_a_next_offset_are_acknowledged_past_the_last_one(
    sandbox_portal, bot, settings
):
    """Under no-next-offset the cycle kept its offset (the reference's echo bot does): the platform sent the
    same batch for ever, and an event behind a full batch never came."""
    settings.BOTCORE_POLL_BATCH_SIZE = 2
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["no-next-offset"]})
    for text in ("one", "two", "three"):
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    for _ in range(3):
        poll_bot_once(bot.pk)
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("three" in t for t in texts) == 1, texts
    last = EventLogEntry.objects.filter(bot=bot).order_by("-vibe_event_id").first()
    bot.refresh_from_db()
    assert last is not None and bot.event_offset == last.vibe_event_id + 1


@pytest.mark.slow
def test_a_next_offset_naming_the_last_event_is_passed_once_the_event_comes_back(sandbox_portal, bot):
    """Under last-id-next-offset the cycle sent the last event's id back and got that event again, on every
    cycle for ever (about once a second through the poller's watch): nothing repeated, yet the platform kept
    it waiting and the bot never stood still."""
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["last-id-next-offset"]})
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="one")
    for _ in range(3):
        poll_bot_once(bot.pk)
    last = EventLogEntry.objects.filter(bot=bot).order_by("-vibe_event_id").first()
    bot.refresh_from_db()
    assert last is not None and bot.event_offset == last.vibe_event_id + 1
    assert client_for_bot(bot).get_events(bot.vibe_bot_id, offset=None).is_empty  # from the stored offset
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("one" in t for t in texts) == 1, texts


def test_an_offset_the_platform_refuses_is_dropped_for_the_one_it_stored(sandbox_portal, bot, settings):
    """A stored offset the platform answers INVALID_OFFSET (its queue restored, an offset of an older
    reading): the bot backed off on it for ever and no message reached a skill. From offset 0, which
    acknowledges nothing, the platform resumes from the one it stored (A §8); nothing is answered twice."""
    settings.VIBE_MAX_ATTEMPTS = 1
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="before")
    assert poll_bot_once(bot.pk).status == "polled"
    Bot.objects.filter(pk=bot.pk).update(event_offset=10**18)  # past what the sandbox takes
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="after")
    outcomes = [poll_bot_once(bot.pk).status for _ in range(3)]
    assert outcomes[0] == "backoff", outcomes
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("before" in t for t in texts) == 1 and sum("after" in t for t in texts) == 1, texts
    last = EventLogEntry.objects.filter(bot=bot).order_by("-vibe_event_id").first()
    bot.refresh_from_db()
    assert last is not None and bot.event_offset == last.vibe_event_id + 1
    assert bot.consecutive_failures == 0 and bot.last_error == ""


def test_a_malformed_event_is_kept_as_malformed_and_the_offset_moves(sandbox_portal, bot):
    from botcore.services.eventlog import store_batch
    from botcore.vibe.parse import read_event_batch

    good = {
        "eventId": 1,
        "type": "ONIMBOTV2MESSAGEADD",
        "date": "2026-11-24T10:00:00+03:00",
        "data": {"bot": {"id": bot.vibe_bot_id}, "message": {"id": 7, "text": "hi"}},
    }
    nameless = {"type": "ONIMBOTV2MESSAGEADD", "data": {}}
    textless = {"eventId": 2, "type": "ONIMBOTV2MESSAGEADD", "data": {"dialogId": "1"}}  # no message
    batch = read_event_batch({"events": [good, nameless, "junk", textless], "nextOffset": 3})
    stored = store_batch(bot.pk, batch, vibe_bot_id=bot.vibe_bot_id, lease_token=None)
    assert stored == 4
    malformed = EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.MALFORMED)
    assert malformed.count() == 3
    # The reason is the client's own, from its one reading of the event.
    assert any("without what it needs" in entry.error for entry in malformed)
    kept = EventLogEntry.objects.get(bot=bot, vibe_event_id=1)
    assert kept.status == EventLogEntry.Status.RECEIVED and kept.payload == good
    bot.refresh_from_db()
    assert bot.event_offset == 3
    # From an operator trial: a malformed event with a readable id is logged under it (it had a random
    # negative one, its id only in the error text), so a redelivery of it is known and not kept twice.
    assert malformed.filter(vibe_event_id=2).exists() and malformed.filter(vibe_event_id__lt=0).count() == 2
    assert store_batch(bot.pk, batch, vibe_bot_id=bot.vibe_bot_id, lease_token=None) == 2  # the id-less ones
    assert EventLogEntry.objects.filter(bot=bot, vibe_event_id=2).count() == 1


@pytest.mark.slow
def test_no_token_or_key_reaches_the_logs_through_any_outcome(sandbox_portal, caplog, settings):
    import logging

    from tenants.selectors import get_portal_credential

    caplog.set_level(logging.DEBUG)
    settings.VIBE_MAX_ATTEMPTS = 2
    token = get_portal_credential(sandbox_portal.portal).secret
    bot = provision_bot(sandbox_portal.portal)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="hello")
    poll_bot_once(bot.pk)
    for fault in (
        {"errorRate": 1.0, "errorCode": "RATE_LIMIT"},
        {"errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"},
        {"dropRate": 1.0},
        {"garbageRate": 1.0},
        {"errorRate": 1.0, "errorCode": "BOT_ACCESS_DENIED"},
    ):
        sandbox_portal.control.delete("/_sandbox/faults")
        sandbox_portal.control.post("/_sandbox/faults", json={"path": "/v1/bots/{bot_id}/events", **fault})
        Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.ACTIVE)
        poll_bot_once(bot.pk)
    sandbox_portal.control.delete("/_sandbox/faults")
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 3 * 24 * 3600})
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.ACTIVE)
    poll_bot_once(bot.pk)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert len(caplog.records) > 5
    assert token not in logged and sandbox_portal.app_key not in logged
    assert token[len("vibe_session_") :][:12] not in logged


def test_the_cycle_takes_a_watched_batch_only_from_where_its_bot_stands():
    answer = {"events": [{"eventId": 10, "type": "ONIMBOTV2MESSAGEADD", "date": "2026-12-03T10:00:00+00:00",
                          "data": {}}], "nextOffset": 11, "hasMore": False}  # fmt: skip
    bot = Bot(vibe_bot_id=7, event_offset=10)
    watched = watched_for_cycle(7, 10, answer)
    assert watched == {"vibe_bot_id": 7, "offset": 10, "answer": answer}
    batch = watched_batch(bot, watched)
    assert batch == read_event_batch(answer, bot_id=7)
    assert batch is not None and batch.next_offset == 11
    assert watched_batch(bot, {**watched, "offset": 9}) is None  # the bot moved on since
    assert watched_batch(bot, {**watched, "vibe_bot_id": 8}) is None  # re-provisioned as another bot
    assert watched_batch(Bot(vibe_bot_id=7, event_offset=None), watched) is None  # the platform's offset
    assert watched_for_cycle(7, 10, None) is None  # too large to carry: the cycle fetches
    assert watched_batch(bot, {**watched, "answer": None}) is None
    assert watched_batch(bot, None) is None


@pytest.mark.slow
def test_the_cycle_counts_answered_ignored_and_failed_events_apart(sandbox_portal, bot, caplog):
    """An event no skill wanted was counted among the handled ones in the cycle's line and outcome, while its
    entry said Ignored: an operator reading "handled=2" looked for two answers."""
    sandbox_portal.control.post(
        "/_sandbox/act/raw-events",
        json={"botId": bot.vibe_bot_id, "type": "ONIMBOTV2SOMETHINGNEW", "data": {}},
    )
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="Hello, bot!")
    with caplog.at_level("INFO", logger="botcore.services.polling"):
        outcome = poll_bot_once(bot.pk)
    statuses = sorted(EventLogEntry.objects.filter(bot=bot).values_list("status", flat=True))
    answered = statuses.count(EventLogEntry.Status.HANDLED)
    assert EventLogEntry.Status.IGNORED in statuses and (outcome.stored, outcome.handled) == (3, answered)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("cycle bot="))
    assert line.endswith(f"stored=3 handled={answered} ignored=1 failed=0"), line


@pytest.mark.slow
def test_an_events_log_context_ends_with_its_handling(sandbox_portal, bot, caplog):
    # The cycle's summary line carried the last event handled ("cycle bot=1 ... event=1"), as if it were
    # about that event: each event's fields are bound while it is handled, and only then.
    from ops.logs import _context, log_context

    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="Hello, bot!")
    with log_context(task="poll_bot"), caplog.at_level("INFO", logger="botcore"):
        assert poll_bot_once(bot.pk).handled == 2
        after = dict(_context.get())

    assert "event" not in after and after["task"] == "poll_bot"
    assert any(r.getMessage().startswith("cycle bot=") for r in caplog.records)


def test_a_429_the_pollers_watch_met_is_waited_out_without_asking_again(sandbox_portal, bot):
    """From an outside trial: the cycle a 429 was handed to polled again at once, one more request inside
    every Retry-After window."""
    from botcore.vibe.errors import VibeRateLimitError

    error = VibeRateLimitError(status=429, code="RATE_LIMIT", message="slow down", retry_after=20)
    asked_before = len(sandbox_portal.calls(bot.vibe_bot_id))
    started = timezone.now()

    outcome = poll_bot_once(bot.pk, watched=watched_rate_limit(bot.vibe_bot_id, bot.event_offset or 0, error))

    assert outcome.status == "rate_limited"
    assert len(sandbox_portal.calls(bot.vibe_bot_id)) == asked_before  # nothing asked
    bot.refresh_from_db()
    assert bot.next_poll_at >= started + timedelta(seconds=19) and "429" in bot.last_error
    other = watched_rate_limit(bot.vibe_bot_id + 1, 0, error)  # read for another platform bot: not this one's
    assert poll_bot_once(bot.pk, watched=other).status == "polled"


@pytest.mark.parametrize("together", [True, False], ids=["in-one-batch", "in-a-later-batch"])
def test_a_message_delivered_again_under_another_event_id_is_answered_once(sandbox_portal, bot, together):
    """From a trial on a platform written from the reference: the same message under event ids 11 and 12 got
    two replies. CONTRACT B 7.2: de-duplicate by eventId / message.id."""
    said = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="only once")
    original = said["events"][-1]
    if not together:
        poll_bot_once(bot.pk)
    again = {"botId": bot.vibe_bot_id, "type": original["type"], "data": original["data"]}
    sandbox_portal.control.post("/_sandbox/act/raw-events", json=again)
    poll_bot_once(bot.pk)

    replies = [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if "only once" in m["text"]]
    assert len(replies) == 1
    entries = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD").order_by(
        "vibe_event_id"
    )
    assert [e.status for e in entries] == ["handled", "ignored"]
    assert f"duplicate of event {original['eventId']}" in entries[1].error


@pytest.mark.parametrize("message_first", [True, False], ids=["message-first", "command-first"])
def test_a_command_the_platform_also_raises_as_a_message_is_answered_once(sandbox_portal, bot, message_first):
    """From a trial on a platform written from the reference: a typed /ping raised both a COMMANDADD and a
    MESSAGEADD of the same message (legacy Bitrix24 bots heard a command message through both handlers),
    and the bot answered the command and echoed "/ping" as well (dialect `command-message`)."""
    if message_first:
        sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["command-message"]})
        said = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="/ping")
        assert [e["type"] for e in said["events"]] == ["ONIMBOTV2MESSAGEADD", "ONIMBOTV2COMMANDADD"]
    else:
        said = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="/ping")
        data = {k: v for k, v in said["events"][-1]["data"].items() if k != "command"}
        also = {"botId": bot.vibe_bot_id, "type": "ONIMBOTV2MESSAGEADD", "data": data}
        assert sandbox_portal.control.post("/_sandbox/act/raw-events", json=also).is_success
    poll_bot_once(bot.pk)

    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("[B]Понг![/B]" in text for text in texts) == 1, texts  # the member speaks Russian
    assert not any("[i]/ping[/i]" in text for text in texts), texts  # not echoed (the greeting comes first)
    entry = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == "ignored" and "is the command of event" in entry.error


def test_a_command_raised_as_a_message_at_the_end_of_one_batch_and_a_command_in_the_next_is_answered_once(
    sandbox_portal, bot, settings
):
    """Under `command-message` a typed /ping raises its MESSAGEADD, then its COMMANDADD; where a batch ended
    between the two, the message was echoed in one cycle and the command answered in the next: two replies
    to one message (an outside trial's own platform, with batches of 2)."""
    poll_bot_once(bot.pk)  # the join events: nothing waits
    settings.BOTCORE_POLL_BATCH_SIZE = 1
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["command-message"]})
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="/ping")
    for _ in range(3):
        poll_bot_once(bot.pk)

    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("[B]Понг![/B]" in text for text in texts) == 1, texts
    assert not any("[i]/ping[/i]" in text for text in texts), texts
    entry = EventLogEntry.objects.get(
        bot=bot,
        event_type="ONIMBOTV2MESSAGEADD",
        message_id__isnull=False,
        payload__data__message__text="/ping",
    )
    assert entry.status == "ignored" and "is the command of event" in entry.error


def test_a_command_word_raised_only_as_a_message_is_still_answered_once_when_more_events_follow(
    sandbox_portal, bot, settings
):
    """A MESSAGEADD "/ping" the platform raised alone (the command not registered there, say) waits only
    while the rest of the batch is fetched: it is answered once, as the message it is, in order."""
    poll_bot_once(bot.pk)
    settings.BOTCORE_POLL_BATCH_SIZE = 1
    said = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="plain words")
    data = dict(said["events"][-1]["data"])
    data["message"] = {**data["message"], "id": data["message"]["id"] + 1000, "text": "/ping"}
    alone = {"botId": bot.vibe_bot_id, "type": "ONIMBOTV2MESSAGEADD", "data": data}
    assert sandbox_portal.control.post("/_sandbox/act/raw-events", json=alone).is_success
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="after it")
    for _ in range(5):
        poll_bot_once(bot.pk)

    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    echoed = [t for t in texts if "[i]" in t]
    assert [w for t in echoed for w in ("plain words", "/ping", "after it") if f"[i]{w}[/i]" in t] == [
        "plain words",
        "/ping",
        "after it",
    ], texts


@pytest.mark.parametrize("dialects", [["own-messages"], ["own-messages", "no-event-bot"]])
def test_the_bots_own_post_coming_back_is_not_answered(sandbox_portal, bot, dialects):
    """From a trial on a platform written from the reference: the bot's replies came back to it as messages,
    in events that named no bot (the poll's path does), and the echo answered each of its own replies, for
    ever. The reference's echo bot skips `authorId === BOT_ID`."""
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": dialects})
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="say it once")
    for _ in range(4):
        poll_bot_once(bot.pk)

    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("say it once" in text for text in texts) == 1, texts
    back = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD").exclude(
        payload__data__message__authorId=sandbox_portal.admin_id
    )
    assert back.exists() and {e.status for e in back} == {"ignored"}


def test_a_batch_listed_newest_first_is_answered_oldest_first(sandbox_portal, bot):
    """From a trial on a platform written from the reference: a batch listed newest first (dialect
    `newest-first`) was answered in reverse, the last message's reply first."""
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["newest-first"]})
    for word in ("one", "two", "three"):
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=f"word {word}")
    poll_bot_once(bot.pk)

    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if "word " in m["text"]]
    assert [text.split("word ")[1].split("[")[0] for text in texts] == ["one", "two", "three"], texts


class PressSkill(Skill):
    """/count answers with a button that runs /count again; every run says whose it was."""

    name = "presses"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("count", title={"en": "Count"}),)

    def handle(self, event, ctx) -> None:
        keyboard = Keyboard().button("Again", command="count", command_params=event.command.params)
        ctx.answer_command(f"counted for {event.user.id}: {event.command.params}", keyboard=keyboard)


def test_every_press_of_a_keyboard_button_is_handled(sandbox_portal, settings):
    """From an outside trial: a poll counted only its first vote. Every press names the message holding the
    keyboard, so presses are not one message delivered again: each is handled, by whoever presses."""
    settings.BOTCORE_SKILLS = [f"{__name__}.PressSkill"]
    bot = provision_bot(sandbox_portal.portal)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="/count votes")
    poll_bot_once(bot.pk)
    [keyboard_message] = [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m.get("keyboard")]
    for user_id in (sandbox_portal.admin_id, sandbox_portal.admin_id, sandbox_portal.member_id):
        press = {"userId": user_id, "messageId": keyboard_message["id"], "index": 0}
        if user_id == sandbox_portal.member_id:  # the member's own dialog: the bot's keyboard there
            sandbox_portal.say(user_id=user_id, bot_id=bot.vibe_bot_id, text="/count votes")
            poll_bot_once(bot.pk)
            mine = [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m.get("keyboard")][-1]
            press["messageId"] = mine["id"]
        assert sandbox_portal.control.post("/_sandbox/act/buttons", json=press).is_success
        poll_bot_once(bot.pk)

    answers = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert answers.count(f"counted for {sandbox_portal.admin_id}: votes") == 3  # typed once, pressed twice
    assert answers.count(f"counted for {sandbox_portal.member_id}: votes") == 2  # typed once, pressed once
    assert not EventLogEntry.objects.filter(bot=bot, error__startswith="duplicate").exists()


def test_each_command_of_one_message_is_handled_once(sandbox_portal, settings):
    """A message holding several commands raises one COMMANDADD each (CONTRACT 7.2): not duplicates of each
    other, while each one delivered again under another event id still is."""
    settings.BOTCORE_SKILLS = [f"{__name__}.PressSkill"]
    bot = provision_bot(sandbox_portal.portal)
    said = sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="/count one")
    original = said["events"][-1]
    second = {**original["data"], "command": {**original["data"]["command"], "params": "two"}}
    for data in (second, original["data"]):  # the message's second command, then the first one again
        event = {"botId": bot.vibe_bot_id, "type": original["type"], "data": data}
        assert sandbox_portal.control.post("/_sandbox/act/raw-events", json=event).is_success
    poll_bot_once(bot.pk)

    answers = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert answers.count(f"counted for {sandbox_portal.admin_id}: one") == 1
    assert answers.count(f"counted for {sandbox_portal.admin_id}: two") == 1
    statuses = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2COMMANDADD").order_by(
        "vibe_event_id"
    )
    assert [e.status for e in statuses] == ["handled", "handled", "ignored"]


class LeakySkill(Skill):
    name = "leaky"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        raise RuntimeError(f"failed with vibe_app_{event.message.text} and Bearer {event.message.text}xyz")


def test_a_failed_event_keeps_its_error_with_no_secret_in_it(sandbox_portal, settings):
    """From an outside trial: the log line redacted a skill's exception, the event log's error column (shown
    to operators in the admin) kept it whole."""
    settings.BOTCORE_SKILLS = [f"{__name__}.LeakySkill"]
    bot = provision_bot(sandbox_portal.portal)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="SECRET123abc")
    poll_bot_once(bot.pk)

    entry = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.FAILED and "RuntimeError" in entry.error
    assert "SECRET123" not in entry.error and "vibe_app_<redacted>" in entry.error


def test_an_edit_and_a_reaction_on_a_message_are_not_duplicates_of_it(sandbox_portal, bot):
    said = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="edit me")
    message_id = said["message"]["id"]
    sandbox_portal.control.post(
        f"/_sandbox/act/messages/{message_id}/edit",
        json={"userId": sandbox_portal.member_id, "text": "edited"},
    )
    poll_bot_once(bot.pk)

    assert EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEUPDATE").exists()
    assert not EventLogEntry.objects.filter(bot=bot, error__startswith="duplicate").exists()


@pytest.mark.slow
def test_a_cycle_that_finds_nothing_is_answered_at_once_where_polls_are_held_by_default(sandbox_portal, bot):
    """The reference heads its plain GET "Receive events (long-polling)": a platform may hold a poll that
    names no timeout (`held-polls`: 25 s). A cycle's fetch named none, so every empty cycle held a worker
    25 s (and the old bot's drain on a move, 25 s more). Every events call now names its timeout."""
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["held-polls"]})
    assert poll_bot_once(bot.pk).status == "polled"  # the bot's join events
    assert poll_bot_once(bot.pk) == poll_bot_once(bot.pk)  # nothing new: two empty cycles
    fetches = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/events")]
    assert len(fetches) == 3 and all(c["query"]["timeout"] == "0" for c in fetches)


def test_a_cycle_that_finds_nothing_is_not_held_a_platforms_full_hold_where_every_poll_is_held(
    sandbox_portal, bot, monkeypatch
):
    """`always-held-polls`: the platform holds every empty poll its full hold (25 s; 3 s here), timeout=0
    too. Every cycle that found nothing held its worker that long. Once a held empty answer shows the
    platform does so, a cycle's fetch waits HELD_FETCH_SECONDS for an answer to begin and reads none as
    nothing new (the poll acknowledged nothing the cycle had not stored, so nothing is lost)."""
    monkeypatch.setattr("sandbox.api.events.DEFAULT_HOLD_SECONDS", 3.0)
    monkeypatch.setattr("botcore.vibe.endpoints.events.HELD_SIGN_SECONDS", 1.5)
    monkeypatch.setattr("botcore.vibe.endpoints.events.HELD_FETCH_SECONDS", 0.5)
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["always-held-polls"]})
    assert poll_bot_once(bot.pk).status == "polled"  # the bot's join events
    poll_bot_once(bot.pk)  # nothing new, held its full 3 s: the platform holds every poll
    took = []
    for _ in range(2):
        started = time.monotonic()
        assert poll_bot_once(bot.pk) == CycleOutcome("polled", stored=0, handled=0)
        took.append(time.monotonic() - started)
    assert max(took) < 1.5, took
    assert Bot.objects.get(pk=bot.pk).consecutive_failures == 0  # nothing new is no failure
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="after the holds")
    poll_bot_once(bot.pk)
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("after the holds" in text for text in texts) == 1, texts


def test_a_platform_holding_every_poll_past_a_cycles_call_deadline_costs_one_backoff_not_one_a_cycle(
    sandbox_portal, bot, monkeypatch, settings
):
    """`always-held-polls` with a call deadline shorter than the platform's hold (the chaos run's 6.5 s under
    its 25 s): no empty answer ever came, so nothing showed the hold, and every idle cycle failed at its
    deadline and backed off. A poll asking for no hold that times out shows it too: that cycle backs off
    once, the later ones read the hold as nothing new."""
    monkeypatch.setattr("sandbox.api.events.DEFAULT_HOLD_SECONDS", 4.0)
    monkeypatch.setattr("botcore.vibe.endpoints.events.HELD_FETCH_SECONDS", 0.5)
    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 1.0
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 2}  # the call deadline: 1.5 s
    assert poll_bot_once(bot.pk).status == "polled"  # the bot's join events
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["always-held-polls"]})
    outcomes = [poll_bot_once(bot.pk).status for _ in range(4)]
    assert outcomes == ["backoff", "polled", "polled", "polled"], outcomes
    assert Bot.objects.get(pk=bot.pk).consecutive_failures == 0


def test_an_item_that_moves_the_offset_nowhere_is_kept_once_and_its_bot_polled_at_its_own_cadence(
    sandbox_portal, bot, settings
):
    """From a trial with a proxy of its own: an answer whose item had no usable id and no usable nextOffset
    (NaN there; here the `no-next-offset` dialect and an id past int64) comes again at every poll, and each
    cycle kept it as one more MALFORMED row under a fresh synthetic id, a cycle every second or so: rows
    without end for one event. It is kept once; its repeats are no activity of the bot's, so its cadence
    slows as a quiet bot's does (test_poller counts the polls). Held at the slow cadence instead, the bot
    answered every later message up to BOTCORE_POLL_SLOW_SECONDS late for as long as the item stayed."""
    poll_bot_once(bot.pk)
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["no-next-offset"]})
    said = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="template")
    poll_bot_once(bot.pk)
    data = dict(said["events"][-1]["data"])
    alone = {"botId": bot.vibe_bot_id, "type": "ONIMBOTV2MESSAGEADD", "data": data, "eventId": 2**63 + 7}
    assert sandbox_portal.control.post("/_sandbox/act/raw-events", json=alone).is_success
    poll_bot_once(bot.pk)
    kept_at = Bot.objects.get(pk=bot.pk).last_event_at
    for _ in range(3):
        Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now())
        poll_bot_once(bot.pk)
    assert EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.MALFORMED).count() == 1
    polled = Bot.objects.get(pk=bot.pk)
    assert polled.last_event_at == kept_at  # its repeats are nothing new
    waits = (polled.next_poll_at - timezone.now()).total_seconds()
    assert waits <= quiet_interval(kept_at, timezone.now()) + 1 < settings.BOTCORE_POLL_SLOW_SECONDS, waits
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="after the poison")
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now())
    poll_bot_once(bot.pk)
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert sum("after the poison" in text for text in texts) == 1, texts


def test_a_cycle_whose_database_session_the_server_ended_hands_its_lease_back(
    sandbox_portal, bot, monkeypatch
):
    """A trial E soak ended the stack's PostgreSQL sessions (pg_terminate_backend) while cycles ran: a cycle
    met the broken session, and its backoff, on the same session, could not hand the lease back, so the
    bot was silent for the rest of BOTCORE_LEASE_SECONDS (two minutes, twice in one run)."""
    if connection.vendor != "postgresql":
        pytest.skip("the server ends the cycle's session (pg_terminate_backend): CI's PostgreSQL run")
    from django.db.utils import OperationalError

    from botcore.services import polling

    def session_ended(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            [(pid,)] = cursor.fetchall()
        other = connection.get_new_connection(connection.get_connection_params())
        try:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            other.close()
        Bot.objects.filter(pk=bot.pk).exists()  # the cycle's next statement meets the ended session

    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="as the session ends")
    Bot.objects.filter(pk=bot.pk).update(
        lease_token="handed-over", lease_until=timezone.now() + timedelta(seconds=120)
    )
    monkeypatch.setattr(polling, "handle_pending", session_ended)
    with pytest.raises(OperationalError):
        poll_bot_once(bot.pk, lease_token="handed-over")
    bot.refresh_from_db()
    assert bot.lease_token == "" and bot.lease_until is None
    assert bot.consecutive_failures == 1 and bot.backoff_until is not None


def events_asked(sandbox_portal, bot: Bot) -> int:
    """The bot's events calls that reached the platform's door, a fault's refusals too (they name no bot)."""
    calls = sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"]
    return sum(c["path"] == f"/v1/bots/{bot.vibe_bot_id}/events" for c in calls)


@pytest.mark.parametrize("kind", ["proxy-431", "proxy-413"])
def test_a_poll_a_proxy_refuses_for_its_size_is_said_once_and_asked_again_only_after_the_longest_backoff(
    sandbox_portal, bot, caplog, kind
):
    """The poll is ours from end to end: a proxy refusing it for its size refuses every repeat. It backed off
    as an outage, exponentially from a second, a WARNING each and none saying why."""
    fault = {"path": "/v1/bots/{bot_id}/events", "garbageRate": 1.0, "garbageKind": kind}
    sandbox_portal.control.post("/_sandbox/faults", json=fault)
    before = events_asked(sandbox_portal, bot)
    for _ in range(3):
        Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=None)
        assert poll_bot_once(bot.pk).status == "request_refused"
    assert events_asked(sandbox_portal, bot) - before == 3  # one a cycle: never retried within it
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and f"bot={bot.pk}" in errors[0] and kind[-3:] in errors[0], errors
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.consecutive_failures == 0 and kind[-3:] in bot.last_error
    longest = timedelta(seconds=conf.backoff_max_seconds())
    assert bot.backoff_until > timezone.now() + longest - timedelta(seconds=30)
    assert bot.next_poll_at >= bot.backoff_until - timedelta(seconds=1)
    sandbox_portal.control.delete("/_sandbox/faults")  # the proxy's limit raised: the next poll passes
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=None)
    assert poll_bot_once(bot.pk).status == "polled"
    bot.refresh_from_db()
    assert bot.last_error == "" and bot.backoff_until is None


def test_a_session_token_no_header_may_carry_is_never_sent_and_said_once(
    sandbox_portal, bot, caplog, monkeypatch
):
    """A stored token with a newline: the poll was made, refused by h11 before a byte went, and read as a
    passing transport failure (retried, backed off) whose text quoted the token."""
    import dataclasses

    from botcore.services import polling
    from botcore.services.platform import get_bot_credential

    stored = get_bot_credential(bot)
    broken = dataclasses.replace(stored, secret=stored.secret + "\n")
    monkeypatch.setattr(polling, "get_bot_credential", lambda bot: broken)
    before = events_asked(sandbox_portal, bot)
    for _ in range(2):
        Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=None)
        assert poll_bot_once(bot.pk).status == "request_refused"
    assert events_asked(sandbox_portal, bot) == before
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "not sent" in errors[0] and "session token" in errors[0], errors
    assert stored.secret not in caplog.text and stored.secret[13:] not in caplog.text


def test_a_cycles_reads_and_writes_for_a_message_are_compiled_once_per_process(
    sandbox_portal, bot, monkeypatch
):
    """The bot with its portal and settings, its pending events, the portal's skill configs, the bot storing
    locks, the look-up of the events stored already, the batch's insert and offset, each event's outcome:
    built and compiled by the ORM at every message they cost ~2 ms of Python a message (README, polling
    benchmark); compiled once (botcore.compiled_reads) or plain SQL (cycle_sql). An empty cycle's pending
    check and settling UPDATE, compiled at each, were ~0.5 ms of its ~1.5 (cycle_sql.store_empty_batch)."""
    from django.db.models.sql.compiler import (
        SQLAggregateCompiler,
        SQLCompiler,
        SQLDeleteCompiler,
        SQLInsertCompiler,
        SQLUpdateCompiler,
    )

    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="first")
    assert poll_bot_once(bot.pk).handled == 2  # the join and a first message: whatever is compiled once is
    assert poll_bot_once(bot.pk).stored == 0  # and an empty cycle's
    compiled: list[tuple[str, str]] = []
    compilers = (SQLCompiler, SQLInsertCompiler, SQLUpdateCompiler, SQLDeleteCompiler, SQLAggregateCompiler)
    for compiler in compilers:
        real_as_sql = compiler.as_sql

        def as_sql(self, *args, real_as_sql=real_as_sql, **kwargs):
            compiled.append((type(self).__name__, self.query.model.__name__))
            return real_as_sql(self, *args, **kwargs)

        monkeypatch.setattr(compiler, "as_sql", as_sql)
    for text in ("hello", "one", "two"):  # batches of one and of two messages
        sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text=text)
        if text == "one":
            continue
        token = "handed-over"
        Bot.objects.filter(pk=bot.pk).update(
            lease_token=token, lease_until=timezone.now() + timedelta(seconds=15)
        )
        compiled.clear()

        assert poll_bot_once(bot.pk, lease_token=token).handled == (1 if text == "hello" else 2)

        assert compiled == []
    bot.refresh_from_db()
    empty = watched_for_cycle(bot.vibe_bot_id, bot.event_offset, {"events": [], "nextOffset": 0})
    for watched in (None, empty):  # fetched by the cycle, and read by the poller's watch
        Bot.objects.filter(pk=bot.pk).update(
            lease_token="handed-over", lease_until=timezone.now() + timedelta(seconds=15)
        )
        compiled.clear()

        assert poll_bot_once(bot.pk, lease_token="handed-over", watched=watched) == CycleOutcome("polled")

        assert compiled == []
        assert Bot.objects.filter(pk=bot.pk, lease_token="", lease_until=None).exists()
