"""The poller against the live sandbox and the real broker: a bot with events is handed to its own poll
cycle, an empty watch writes nothing, failures and stored work go to the cycle, long-poll or not."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from botcore.models import Bot, EventLogEntry
from botcore.poller import Poller
from botcore.poller_budget import WatchBudget
from botcore.services.bots import pause_portal_bots, provision_bot, resume_portal_bots
from botcore.services.platform import auth_for_bot
from botcore.services.polling import QUIET_SHARE, poll_bot_once
from tenants import services as tenant_services
from tests.botcore.livestack import wait_for
from tests.botcore.test_reliability import personal_key

pytestmark = [pytest.mark.slow]

ROW_FIELDS = (
    "event_offset", "next_poll_at", "lease_token", "lease_until", "has_more", "last_polled_at",
    "last_event_at", "consecutive_failures", "backoff_until", "last_error", "status",
)  # fmt: skip


class RunningPoller:
    """A Poller on its own thread and event loop, as `manage.py runpoller` runs it, stopped on exit."""

    def __init__(self, *, refresh_seconds: float = 0.5, **options) -> None:
        self.poller = Poller(refresh_seconds=refresh_seconds, **options)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.poller.run()), daemon=True)

    def __enter__(self) -> Poller:
        self.thread.start()
        return self.poller

    def __exit__(self, *exc) -> None:
        self.poller.stopping = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the poller did not stop"


def cycles_queued(task_queue, bot: Bot) -> list[tuple]:
    return [
        args for func, args in task_queue.queued if func == "botcore.tasks.poll_bot" and args[0] == bot.pk
    ]


def settled_bot(sandbox_portal, portal=None) -> Bot:
    """A provisioned bot (of `portal`, else the fixture's) whose join events are handled already: nothing
    waits on the platform."""
    bot = provision_bot(portal or sandbox_portal.portal)
    assert poll_bot_once(bot.pk).status == "polled"
    return Bot.objects.get(pk=bot.pk)


def replies_to(sandbox_portal, bot: Bot, text: str) -> int:
    return sum(f"[i]{text}[/i]" in m["text"].lower() for m in sandbox_portal.bot_messages(bot.vibe_bot_id))


def echoed(sandbox_portal, bot: Bot, text: str) -> bool:
    return replies_to(sandbox_portal, bot, text) > 0


def handed_over(sandbox_portal, task_queue, text: str, *, dialect: str = "") -> Bot:
    """A settled bot, a user's message to it, and the poller run until it has enqueued the bot's cycle."""
    if dialect:
        sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": [dialect]})
    bot = settled_bot(sandbox_portal)
    with RunningPoller():
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=30, what="the bot's cycle enqueued")
    return bot


def test_a_paused_key_holds_its_bots_back_without_the_dispatcher_turning_meanwhile(
    sandbox_portal, task_queue, monkeypatch
):
    """From a mass install: 200 idle bots on a key paused for its rate, and the poller spent more than a core
    asking the platform nothing. A paused bot, pushed back among the due ones, was always the first due,
    so the dispatcher woke at once, again and again, until the pause ended. Counted: how often the bot was
    looked at during one pause of a second, from the first look."""
    bot = settled_bot(sandbox_portal)
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now())  # due at once
    pause_ends: list[float] = []
    looks: list[float] = []

    def paused_till(self, row, now: float) -> float:
        if not pause_ends:
            pause_ends.append(now + 1.0)
        looks.append(now)
        return pause_ends[0] if now < pause_ends[0] else 0.0

    monkeypatch.setattr(WatchBudget, "paused_till", paused_till)
    with RunningPoller():
        wait_for(lambda: pause_ends and time.monotonic() > pause_ends[0], timeout=30, what="one pause")
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="after the pause")
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=30, what="the bot's cycle enqueued")
    assert len([t for t in looks if t < pause_ends[0]]) <= 3, f"{len(looks)} looks, most in one pause"


@pytest.mark.parametrize("dialect", ["", "no-long-poll", "held-polls", "always-held-polls"])
def test_a_message_hands_the_bot_to_its_cycle_which_stores_then_answers(
    sandbox_portal, task_queue, settings, dialect
):
    bot = handed_over(sandbox_portal, task_queue, "hello poller", dialect=dialect)
    ((_, token),) = cycles_queued(task_queue, bot)
    leased = Bot.objects.get(pk=bot.pk)
    assert leased.lease_token == token  # handed over under a lease, as the pacer would
    assert task_queue.run() == ["polled"]
    assert echoed(sandbox_portal, bot, "hello poller")
    entry = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.HANDLED
    bot.refresh_from_db()
    assert bot.event_offset == entry.vibe_event_id + 1 and bot.lease_token == ""


def events_calls(sandbox_portal, bot: Bot) -> list[dict]:
    return [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/events")]


@pytest.mark.parametrize("dialect", ["", "no-long-poll", "held-polls", "always-held-polls"])
def test_the_cycle_stores_the_batch_the_watch_read_without_asking_the_platform_again(
    sandbox_portal, task_queue, dialect
):
    bot = handed_over(sandbox_portal, task_queue, "read once", dialect=dialect)
    (kwargs,) = task_queue.kwargs_of("botcore.tasks.poll_bot")
    assert kwargs["watched"]["offset"] == bot.event_offset
    assert kwargs["watched"]["vibe_bot_id"] == bot.vibe_bot_id
    fetches = len(events_calls(sandbox_portal, bot))
    assert task_queue.run() == ["polled"]
    assert len(events_calls(sandbox_portal, bot)) == fetches  # the cycle asked for no events
    assert replies_to(sandbox_portal, bot, "read once") == 1
    entry = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.HANDLED
    bot.refresh_from_db()
    assert bot.event_offset == entry.vibe_event_id + 1


def test_a_batch_read_before_the_bot_moved_on_is_fetched_again_and_nothing_is_done_twice(
    sandbox_portal, task_queue
):
    bot = handed_over(sandbox_portal, task_queue, "first")
    (kwargs,) = task_queue.kwargs_of("botcore.tasks.poll_bot")
    assert task_queue.run() == ["polled"]
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="second")
    fetches = len(events_calls(sandbox_portal, bot))

    # The same watch's answer once more, as a task delivered late would bring it: the offset has moved.
    outcome = poll_bot_once(bot.pk, watched=kwargs["watched"])

    assert (outcome.status, outcome.stored, outcome.handled) == ("polled", 1, 1)
    assert len(events_calls(sandbox_portal, bot)) == fetches + 1  # fetched from where the bot stands
    assert replies_to(sandbox_portal, bot, "first") == 1
    assert replies_to(sandbox_portal, bot, "second") == 1
    assert EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD").count() == 2


def test_empty_watches_write_nothing_and_enqueue_nothing(sandbox_portal, task_queue, settings):
    settings.BOTCORE_LONG_POLL_SECONDS = 0  # quick empty answers, many of them
    settings.BOTCORE_POLL_FAST_SECONDS = 0.05
    settings.BOTCORE_POLL_SLOW_SECONDS = 0.05
    bot = settled_bot(sandbox_portal)
    before = Bot.objects.filter(pk=bot.pk).values(*ROW_FIELDS).get()
    watched = len(sandbox_portal.calls(bot.vibe_bot_id))
    with RunningPoller():
        wait_for(
            lambda: len(sandbox_portal.calls(bot.vibe_bot_id)) >= watched + 5, timeout=30, what="five watches"
        )
    close_old_connections()
    assert Bot.objects.filter(pk=bot.pk).values(*ROW_FIELDS).get() == before
    assert task_queue.queued == []
    watches = [c for c in sandbox_portal.calls(bot.vibe_bot_id)[watched:] if c["path"].endswith("/events")]
    assert watches and all(c["query"]["offset"] == str(bot.event_offset) for c in watches)


def test_answered_empty_watches_are_written_as_the_bots_last_poll_in_one_update_a_round(
    sandbox_portal, task_queue, settings, monkeypatch
):
    """An operator reading `last_polled_at` saw "never" (or hours ago) on an idle bot the poller watched every
    few seconds: only cycles wrote it. The poller writes it for the bots the platform answered, every
    HEARD_WRITE_SECONDS, not once per watch."""
    import botcore.poller

    monkeypatch.setattr(botcore.poller, "HEARD_WRITE_SECONDS", 0.5)
    settings.BOTCORE_LONG_POLL_SECONDS = 0
    settings.BOTCORE_POLL_FAST_SECONDS = 0.05
    settings.BOTCORE_POLL_SLOW_SECONDS = 0.05
    bot = settled_bot(sandbox_portal)
    Bot.objects.filter(pk=bot.pk).update(last_polled_at=timezone.now() - timedelta(hours=3))
    started = timezone.now()
    with RunningPoller():
        wait_for(
            lambda: Bot.objects.filter(pk=bot.pk, last_polled_at__gte=started).exists(),
            timeout=30,
            what="the bot's last poll written",
        )
    close_old_connections()
    assert Bot.objects.get(pk=bot.pk).last_polled_at <= timezone.now()
    assert task_queue.queued == []


def test_an_idle_bot_heard_again_after_an_outage_no_longer_shows_its_failures(
    sandbox_portal, task_queue, settings, monkeypatch
):
    """After an outage an idle bot kept its failure count (and the outage's error) until its next cycle, which
    only an event brings: the operators' bot list and API showed a failing bot the platform answered every
    few seconds. Its answered watches clear them, as an idle cycle would, and need no cycle."""
    import botcore.poller
    from ops.serializers import BotSerializer

    monkeypatch.setattr(botcore.poller, "HEARD_WRITE_SECONDS", 0.5)
    settings.BOTCORE_LONG_POLL_SECONDS = 0
    settings.BOTCORE_POLL_FAST_SECONDS = 0.05
    settings.BOTCORE_POLL_SLOW_SECONDS = 0.05
    settings.VIBE_MAX_ATTEMPTS = 1
    bot = settled_bot(sandbox_portal)
    events = {"path": "/v1/bots/{bot_id}/events", "errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"}
    rule = sandbox_portal.control.post("/_sandbox/faults", json=events).json()["data"]["id"]
    for _ in range(2):
        Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=None)
        assert poll_bot_once(bot.pk).status == "backoff"
    sandbox_portal.control.delete(f"/_sandbox/faults/{rule}")
    failed = Bot.objects.get(pk=bot.pk)
    assert failed.consecutive_failures == 2 and "BITRIX_UNAVAILABLE" in failed.last_error
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=timezone.now())
    heard_from = timezone.now()
    with RunningPoller():
        wait_for(
            lambda: Bot.objects.filter(pk=bot.pk, last_polled_at__gt=heard_from).exists(),
            timeout=30,
            what="the bot's answered watches written",
        )
    close_old_connections()
    shown = BotSerializer(Bot.objects.get(pk=bot.pk)).data
    assert (shown["consecutive_failures"], shown["last_error"], shown["backoff_until"]) == (0, "", None)
    assert task_queue.queued == []


def test_a_bot_provisioned_while_the_poller_runs_is_watched_within_seconds_not_at_the_next_refresh(
    sandbox_portal, task_queue
):
    # A portal installs the app and its admin writes at once: the bot must not wait for the fleet's full
    # re-read (every 10 s in production, a minute here) to be heard.
    with RunningPoller(refresh_seconds=60) as poller:
        wait_for(lambda: poller._fleet_read, timeout=30, what="the poller's first read of the fleet")
        bot = provision_bot(sandbox_portal.portal)
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="first words")
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=15, what="the new bot's cycle enqueued")
    assert task_queue.run() == ["polled"]
    assert echoed(sandbox_portal, bot, "first words")


def test_a_bot_resumed_by_a_fresh_session_is_watched_within_seconds_not_at_the_next_refresh(
    sandbox_portal, task_queue
):
    # A portal's session lapsed long after its bot was provisioned; a user opens the app, the session is
    # fresh again and the bot resumes. It must be heard as soon as a newly provisioned one.
    bot = settled_bot(sandbox_portal)
    long_ago = timezone.now() - timedelta(days=30)
    Bot.objects.filter(pk=bot.pk).update(provisioned_at=long_ago, activated_at=long_ago)
    assert pause_portal_bots(sandbox_portal.portal) == 1
    with RunningPoller(refresh_seconds=60) as poller:
        wait_for(lambda: poller._fleet_read, timeout=30, what="the poller's first read of the fleet")
        assert bot.pk not in poller.bots
        assert resume_portal_bots(sandbox_portal.portal) == 1
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="back again")
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=15, what="the resumed bot's cycle enqueued")
    assert task_queue.run() == ["polled"]
    assert echoed(sandbox_portal, bot, "back again")


def test_once_the_platform_answers_again_the_bots_backing_off_after_failures_are_watched_within_seconds(
    sandbox_portal, task_queue
):
    """After a platform outage every bot had backed off, each up to BOTCORE_BACKOFF_MAX_SECONDS, and waited
    its own backoff out: a message to a bot in its fifth minute waited minutes though the platform had
    answered other bots for long (an on-call trial: ~4 minutes; only an operator's Resume cut it short).
    The first bot heard again calls the others back. A bot waiting out a rate limit (no failures counted)
    keeps its wait: the platform asked for it."""
    first = settled_bot(sandbox_portal)
    beta, gamma = (
        sandbox_portal.another_portal("beta.example"),
        sandbox_portal.another_portal("gamma.example"),
    )
    second, limited = settled_bot(sandbox_portal, beta.portal), settled_bot(sandbox_portal, gamma.portal)
    now = timezone.now()
    later = now + timedelta(seconds=250)
    Bot.objects.filter(pk=first.pk).update(consecutive_failures=4, backoff_until=now, next_poll_at=now)
    Bot.objects.filter(pk=second.pk).update(consecutive_failures=6, backoff_until=later, next_poll_at=later)
    Bot.objects.filter(pk=limited.pk).update(consecutive_failures=0, backoff_until=later, next_poll_at=later)
    for portal, bot in ((sandbox_portal, first), (beta, second), (gamma, limited)):
        portal.say(user_id=portal.admin_id, bot_id=bot.vibe_bot_id, text="anyone there?")
    with RunningPoller():
        wait_for(
            lambda: cycles_queued(task_queue, second), timeout=30, what="the second bot's cycle enqueued"
        )
    assert not cycles_queued(task_queue, limited)
    assert task_queue.run().count("polled") == 2
    assert [replies_to(sandbox_portal, bot, "anyone there?") for bot in (first, second, limited)] == [1, 1, 0]


def handed_over_after_a_failed_watch(sandbox_portal, task_queue, error_code: str) -> Bot:
    """A settled bot whose every watch the platform answers with `error_code`, once the running poller has
    handed it to its cycle (enqueued, not run)."""
    bot = settled_bot(sandbox_portal)
    sandbox_portal.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/events", "errorRate": 1.0, "errorCode": error_code},
    )
    with RunningPoller():
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=30, what="the bot's cycle enqueued")
    return bot


def test_a_failing_platform_sends_the_bot_to_its_cycle_which_records_the_backoff(
    sandbox_portal, task_queue, settings
):
    settings.VIBE_MAX_ATTEMPTS = 1
    bot = handed_over_after_a_failed_watch(sandbox_portal, task_queue, "BITRIX_UNAVAILABLE")
    assert task_queue.run() == ["backoff"]
    bot.refresh_from_db()
    assert bot.consecutive_failures == 1 and bot.backoff_until is not None and bot.lease_token == ""


def run_cycles_for(task_queue, seconds: float) -> int:
    """Work off the cycles the running poller enqueues, as a qcluster would, for `seconds`; how many ran."""
    ran, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        ran += len(task_queue.run())
        time.sleep(0.05)
    return ran


def polls_at_the_cadence(seconds: float, *, fast: float, slow: float) -> int:
    """How many polls a bot active at 0 makes in `seconds` at the cycle's cadence (polling.quiet_interval)."""
    polls, at = 0, 0.0
    while at < seconds:
        at += min(slow, max(fast, at * QUIET_SHARE))
        polls += 1
    return polls


@pytest.mark.parametrize("hold", [0, 2])
def test_an_item_that_moves_the_offset_nowhere_leaves_its_bot_polled_at_its_cadence_not_the_slow_one(
    sandbox_portal, task_queue, settings, hold
):
    """An item without a usable id where no nextOffset is answered comes again at every poll until the
    platform moves past it. Once kept, its bot was held at the slow cadence for as long as it stayed (4 polls
    in 12 s here), and a person's next messages waited up to that long; where the platform holds polls, each
    watch was answered at once with it and the bot sent to one more cycle at once (a cycle every few tenths
    of a second). It is polled at its own cadence, as after any event, and the item is kept once."""
    settings.BOTCORE_LONG_POLL_SECONDS = hold
    settings.BOTCORE_POLL_FAST_SECONDS = fast = 1.0
    settings.BOTCORE_POLL_SLOW_SECONDS = slow = 3.0
    bot = settled_bot(sandbox_portal)
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["no-next-offset"]})
    said = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="template")
    data = dict(said["events"][-1]["data"])
    alone = {"botId": bot.vibe_bot_id, "type": "ONIMBOTV2MESSAGEADD", "data": data, "eventId": 2**63 + 7}
    with RunningPoller() as poller:
        wait_for(
            lambda: run_cycles_for(task_queue, 0.2) >= 0 and echoed(sandbox_portal, bot, "template"),
            timeout=30,
            what="the message answered",
        )
        if hold:
            wait_for(lambda: poller.platform_holds, timeout=30, what="a held watch")
        before = len(events_calls(sandbox_portal, bot))
        assert sandbox_portal.control.post("/_sandbox/act/raw-events", json=alone).is_success
        cycles = run_cycles_for(task_queue, 12)
        polls = len(events_calls(sandbox_portal, bot)) - before
    close_old_connections()
    assert EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.MALFORMED).count() == 1
    assert 12 / slow + 3 < polls <= polls_at_the_cadence(12, fast=fast, slow=slow) + 2, polls
    assert cycles <= polls + 1  # a cycle per watch that saw the item (one may predate the count), at most


def test_work_stored_by_a_killed_cycle_is_handed_over_without_new_events(
    sandbox_portal, task_queue, monkeypatch
):
    from botcore.services import executor

    bot = settled_bot(sandbox_portal)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="stored only")

    def killed(*args, **kwargs):
        raise SystemExit("worker killed after storing")

    monkeypatch.setattr(executor, "_finish", killed)
    with pytest.raises(SystemExit):
        poll_bot_once(bot.pk)
    monkeypatch.undo()
    pending = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert pending.status == EventLogEntry.Status.RECEIVED  # stored, offset moved, never handled
    with RunningPoller():
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=30, what="the bot's cycle enqueued")
    assert task_queue.run() == ["polled"]
    pending.refresh_from_db()
    assert pending.status == EventLogEntry.Status.HANDLED
    assert echoed(sandbox_portal, bot, "stored only")


def test_a_bot_a_cycle_holds_is_not_handed_over_again(sandbox_portal, task_queue, settings):
    settings.BOTCORE_LONG_POLL_SECONDS = 0
    bot = settled_bot(sandbox_portal)
    Bot.objects.filter(pk=bot.pk).update(
        lease_token="someone-else", lease_until=bot.next_poll_at.replace(year=bot.next_poll_at.year + 1)
    )
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="while held")
    with RunningPoller() as poller:
        wait_for(lambda: bot.pk in poller.bots, timeout=30, what="the poller to read the fleet")
        wait_for(lambda: poller._in_cycle == {bot.pk}, timeout=30, what="the held bot followed")
        Bot.objects.filter(pk=bot.pk).update(lease_token="", lease_until=None)  # that cycle ends
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=30, what="the bot's cycle enqueued")
    assert len(cycles_queued(task_queue, bot)) == 1


def test_a_database_connection_broken_under_the_poller_is_replaced(sandbox_portal, task_queue):
    if connection.vendor != "postgresql":
        pytest.skip("the server ends the poller's session (pg_terminate_backend): CI's PostgreSQL run")
    bot = settled_bot(sandbox_portal)
    with RunningPoller() as poller:
        wait_for(lambda: bot.pk in poller.bots, timeout=30, what="the poller to read the fleet")
        with connection.cursor() as cursor:  # as a database restart would: every session but this test's
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchall(), "no poller session to end"
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="after a restart")
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=30, what="the bot's cycle enqueued")


def test_a_429_on_a_watch_is_waited_out_by_the_cycle_without_asking_again(sandbox_portal, task_queue):
    """From a trial on a platform written from the reference: the cycle polled again at once, one more
    request inside every Retry-After window."""
    bot = handed_over_after_a_failed_watch(sandbox_portal, task_queue, "RATE_LIMIT")
    polls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/events")]

    assert task_queue.run() == ["rate_limited"]

    assert [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/events")] == polls
    bot.refresh_from_db()
    assert "429" in bot.last_error and bot.backoff_until is not None


def test_an_offset_the_platform_refuses_is_given_up_and_the_bot_watched_from_offset_0(
    sandbox_portal, task_queue, settings
):
    """The watch met INVALID_OFFSET and handed the bot to its cycle, which backed off on the same refusal
    for ever: the message below was never answered."""
    settings.VIBE_MAX_ATTEMPTS = 1
    bot = settled_bot(sandbox_portal)
    Bot.objects.filter(pk=bot.pk).update(event_offset=10**18)  # past what the sandbox takes

    def answered() -> bool:
        task_queue.run()
        return echoed(sandbox_portal, bot, "refused offset")

    with RunningPoller():
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="refused offset")
        wait_for(answered, timeout=30, what="the message answered")
    assert replies_to(sandbox_portal, bot, "refused offset") == 1
    entry = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    bot.refresh_from_db()
    assert bot.event_offset == entry.vibe_event_id + 1


def test_a_credential_the_pollers_keys_cannot_open_is_one_error_line_naming_the_setting(
    sandbox_portal, settings, caplog
):
    """From an operator's trial: a poller left on a key list that opens no stored secret (an old key dropped
    before `rotate_encryption_keys`) logged a whole traceback per bot per database round, 270 in two
    minutes for 30 portals, none of them saying which setting was wrong."""
    from cryptography.fernet import Fernet

    from botcore.poller_fleet import read_auth
    from tenants import selectors

    bot = provision_bot(sandbox_portal.portal)
    settings.TENANTS_FERNET_KEYS = [Fernet.generate_key().decode()]  # opens nothing stored
    selectors._recalled.clear()
    caplog.clear()
    assert read_auth([bot.pk]) == {bot.pk: None}
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is None, caplog.text
    assert "VIBE_FERNET_KEYS" in errors[0].getMessage()


@pytest.mark.parametrize("hold", [0, 2])
def test_a_bot_whose_move_is_queued_is_asked_for_no_cycle_until_it_has_moved(
    sandbox_portal, task_queue, settings, hold
):
    """The bot's sessions ended and its move to the portal's personal key waits in the queue (the portal's
    turn held, the workers busy). Each cycle can only find the credential gone, the move queued already:
    the poller asked such a bot for one every ~0.6 s where the platform holds watches (every slow cadence
    where it does not), each a lease, a task and a worker's database round for nothing. It asks for none,
    and watches the moved bot within seconds of its move."""
    settings.BOTCORE_LONG_POLL_SECONDS = hold
    settings.BOTCORE_POLL_SLOW_SECONDS = 3.0
    bot = settled_bot(sandbox_portal)
    tenant_services.set_portal_api_key(
        sandbox_portal.portal, api_key=personal_key(sandbox_portal), added_by_user_id=sandbox_portal.admin_id
    )
    task_queue.purge()  # the save's own move, as if it had failed
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 2 * 24 * 3600})  # sessions end
    poll_bot_once(bot.pk)  # the platform refuses the session: reported to tenants
    poll_bot_once(bot.pk)  # none left: the move is queued, under the provisioning stamp
    assert task_queue.names() == ["botcore.tasks.move_portal_bot"]
    # Another portal's bot, whose held watches tell the poller the platform holds (sessions of now).
    other = settled_bot(sandbox_portal, sandbox_portal.another_portal("other.bitrix24.com").portal)
    with RunningPoller() as poller:
        wait_for(lambda: {bot.pk, other.pk} <= set(poller.bots), timeout=30, what="the bots watched")
        if hold:
            wait_for(lambda: poller.platform_holds, timeout=30, what="a held watch (the other bot's)")
        cycles, end = 0, time.monotonic() + 8
        while time.monotonic() < end:  # the cycles worked off as a qcluster would, this bot's counted
            cycles += len(cycles_queued(task_queue, bot))
            task_queue.run("botcore.tasks.poll_bot")
            time.sleep(0.05)
        assert cycles == 0 and task_queue.names().count("botcore.tasks.move_portal_bot") == 1
        task_queue.run("botcore.tasks.move_portal_bot")
        bot.refresh_from_db()
        assert bot.credential_kind == "personal" and bot.status == Bot.Status.ACTIVE
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="moved")
        wait_for(lambda: cycles_queued(task_queue, bot), timeout=10, what="the moved bot's cycle enqueued")
    assert task_queue.run("botcore.tasks.poll_bot") == ["polled"]
    assert echoed(sandbox_portal, bot, "moved")


def events_asked(sandbox_portal, bot: Bot) -> int:
    """The events calls for `bot` that reached the platform's door, answered or refused by a fault (which
    names no bot in the call log: counted by path)."""
    calls = sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"]
    return sum(c["path"] == f"/v1/bots/{bot.vibe_bot_id}/events" for c in calls)


@pytest.mark.parametrize("hold", [0, 2])
def test_a_watch_refused_for_the_size_of_its_headers_is_said_once_and_not_asked_again_soon(
    sandbox_portal, task_queue, settings, caplog, hold
):
    """A proxy refused the poller's watch with 431 (Request Header Fields Too Large: our headers, a huge
    session token): the watch's request is ours, and the same one is refused alike however often it goes.
    It was read as a failed poll: the cycle asked again, both again at each exponential backoff, each with a
    WARNING and none saying why (18 events calls in 6 s here). Now the cycle does not ask again, the bot is
    asked again only after the longest backoff, and one ERROR names the bot, the portal and the likely cause,
    never the token."""
    import logging

    settings.BOTCORE_LONG_POLL_SECONDS = hold
    settings.BOTCORE_POLL_FAST_SECONDS = 0.05
    settings.BOTCORE_POLL_SLOW_SECONDS = 0.5
    bot = settled_bot(sandbox_portal)
    token = auth_for_bot(bot).session_token
    fault = {"path": "/v1/bots/{bot_id}/events", "garbageRate": 1.0, "garbageKind": "proxy-431"}
    sandbox_portal.control.post("/_sandbox/faults", json=fault)
    before = events_asked(sandbox_portal, bot)
    caplog.set_level(logging.INFO)
    with RunningPoller():
        wait_for(lambda: events_asked(sandbox_portal, bot) > before, timeout=30, what="the bot's first watch")
        outcomes = []
        end = time.monotonic() + 6
        while time.monotonic() < end:
            outcomes += task_queue.run()
            time.sleep(0.05)
    close_old_connections()
    assert events_asked(sandbox_portal, bot) - before == 1
    assert outcomes == ["request_refused"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    said = errors[0].getMessage()
    assert f"bot={bot.pk}" in said and sandbox_portal.portal.member_id in said
    assert "431" in said and "session token" in said
    assert token and token not in caplog.text
    bot.refresh_from_db()
    assert "431" in bot.last_error and bot.lease_token == ""
    assert token not in bot.last_error
    assert bot.backoff_until >= timezone.now() + timedelta(seconds=200)
