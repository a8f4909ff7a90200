"""When the poller first watches each bot: the fleet it starts with is spread over each bot's cadence (an
active bot within a second), a bot that joins later is watched within a second; and the cadence itself.

Started with every first watch within a second, a fleet of idle bots kept that phase for good: every
cadence, all of them polled in one burst, and the active bots due behind the overdue idle ones waited
(seen under the no-long-poll dialect: p95 7 s where the same-work baseline, spread, had 1.5 s)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta

from django.utils import timezone

from botcore.poller import CATCH_UP_SPREAD_SECONDS, Poller
from botcore.poller_budget import _Pause
from botcore.poller_fleet import BotRow
from botcore.poller_watched import Watched
from botcore.services.polling import quiet_interval
from botcore.vibe.watch import WatchAuth


def row(pk: int, *, last_event_at=None) -> BotRow:
    return BotRow(
        pk=pk, vibe_bot_id=pk, active=True, member_id=f"m{pk}", key_name="key", credential_kind="session",
        offset=0, next_poll_at=timezone.now(), leased=False, backoff_until=None, last_event_at=last_event_at,
    )  # fmt: skip


def first_watch_in(poller: Poller, pk: int, started: float) -> float:
    return poller.bots[pk].due - started


def test_an_idle_fleets_first_watches_are_spread_over_its_cadence(settings):
    settings.BOTCORE_POLL_SLOW_SECONDS = 15.0
    poller = Poller(hold=0)
    started = time.monotonic()
    poller._merge_fleet([row(pk) for pk in range(1, 301)])
    dues = [first_watch_in(poller, pk, started) for pk in range(1, 301)]
    assert max(dues) <= 15.0 + 0.5
    assert max(dues) > 10.0
    assert sum(due < 1.0 for due in dues) < 60, "most first watches fall after the first second"


def test_a_bot_active_a_moment_ago_is_watched_within_its_fast_cadence(settings):
    settings.BOTCORE_POLL_FAST_SECONDS = 1.0
    poller = Poller(hold=0)
    started = time.monotonic()
    poller._merge_fleet([row(1, last_event_at=timezone.now() - timedelta(seconds=2))])
    assert first_watch_in(poller, 1, started) <= 1.0 + 0.5


def test_a_restarted_pollers_first_watches_go_to_the_dialogs_in_progress_at_once(settings):
    """A poller restarted (a deploy) watches first, at once, the bots with an event within their fast cadence
    (a dialog in progress): spread over that second like the idle fleet, a user's message written while the
    poller restarted waited up to a second more. The idle ones keep their spread (the lockstep)."""
    settings.BOTCORE_POLL_FAST_SECONDS = 1.0
    settings.BOTCORE_POLL_SLOW_SECONDS = 15.0
    poller = Poller(hold=0)
    started = time.monotonic()
    talking = [
        dataclasses.replace(
            row(pk, last_event_at=timezone.now() - timedelta(seconds=2)),
            next_poll_at=timezone.now() + timedelta(seconds=1),  # its last cycle's end + the fast cadence
        )
        for pk in range(1, 21)
    ]
    backing_off = dataclasses.replace(
        talking[0], pk=400, backoff_until=timezone.now() + timedelta(seconds=30), failures=1
    )
    poller._merge_fleet([*talking, *(row(pk) for pk in range(21, 321)), backing_off])
    assert max(first_watch_in(poller, pk, started) for pk in range(1, 21)) <= 0.05
    assert first_watch_in(poller, 400, started) > 29  # a backoff is still waited out
    idle = [first_watch_in(poller, pk, started) for pk in range(21, 321)]
    assert max(idle) > 10.0 and sum(due < 1.0 for due in idle) < 60


def test_a_bot_that_joins_the_fleet_later_is_watched_within_a_second(settings):
    settings.BOTCORE_POLL_SLOW_SECONDS = 15.0
    poller = Poller(hold=0)
    poller._merge_fleet([row(1)])
    started = time.monotonic()
    poller._merge_fleet([row(1), *(row(pk) for pk in range(2, 52))])  # just provisioned, or resumed
    assert max(first_watch_in(poller, pk, started) for pk in range(2, 52)) <= 1.0 + 0.5


def test_a_held_watch_goes_again_at_once_unless_a_bot_is_overdue_its_budget_paused_or_the_poller_stops():
    """An empty answer the platform held is followed by the next watch from the same task (no task, heap
    entry or dispatcher wake-up per watch), but never ahead of a bot that is overdue, whose turn it is."""
    poller = Poller(hold=25)
    mine, other_key, other_portal = row(1), row(2), row(3)
    other_key = dataclasses.replace(other_key, key_name="another key")
    other_portal = dataclasses.replace(other_portal, member_id="another portal")
    assert poller._may_watch_again(mine)
    assert not poller._may_watch_again(other_portal)  # its key's watch (mine) is on its way to the budget
    poller._after_admission(mine.key_name)  # ... and was admitted

    poller._heap.append((time.monotonic() - 1.0, 0, 99))  # another bot waiting for its turn
    assert not poller._may_watch_again(mine)
    poller._heap.clear()

    poller.budget.paused_until[(mine.key_name, None)] = time.monotonic() + 5.0  # the key's polls wait
    assert not poller._may_watch_again(mine) and not poller._may_watch_again(other_portal)
    assert poller._may_watch_again(other_key)
    poller._after_admission(other_key.key_name)
    poller.budget.paused_until.clear()

    poller.budget.paused_until[(mine.key_name, mine.member_id)] = time.monotonic() + 5.0  # its portal's wait
    assert not poller._may_watch_again(mine)
    assert poller._may_watch_again(other_portal)

    poller.stopping = True
    assert not poller._may_watch_again(other_key)


def test_a_dialogs_next_message_is_seen_within_a_second_and_a_quiet_bot_slows_to_the_slow_bound(settings):
    """Where the platform does not hold a poll: a user writing again 6-8 s after the bot's last event
    (the benchmark's dialogs write every 2-6 s) finds the bot polled every second, not every 1.5-2 s."""
    settings.BOTCORE_POLL_FAST_SECONDS, settings.BOTCORE_POLL_SLOW_SECONDS = 1.0, 15.0
    now = timezone.now()

    def after(seconds: float) -> float:
        return quiet_interval(now - timedelta(seconds=seconds), now)

    assert after(0) == after(6) == after(8) == 1.0
    assert after(40) == 5.0
    assert after(600) == quiet_interval(None, now) == 15.0


def test_the_bots_a_key_s_pause_held_go_back_to_the_budget_one_at_a_time_when_it_ends(settings):
    """From a benchmark of 200 idle bots on one key at its rate (the poller spent a fifth of a core on
    4.6 polls a second): each time the key's pause ended, every bot it held was started at once, each a
    task and a hop to the budget's thread only to be refused. A key's watches go to its budget one at a
    time: the others wait for the first one's answer, and the pause it meets holds them again."""
    settings.VIBE_BUDGET_PER_SECOND = 9.0
    poller = Poller(hold=0)
    admissions: list[float] = []

    def take_from_budget(row, auth):  # the key is at its rate: a pause of 50 ms at every admission
        admissions.append(time.monotonic())
        return _Pause.lasting(0.05, portal=None)

    poller.budget.enabled = True
    poller.budget._take_from_budget = take_from_budget
    auth = WatchAuth(api_key="vibe_app_k", session_token="s")
    for pk in range(1, 101):
        poller.bots[pk] = Watched(row=row(pk), auth=auth)
        poller._schedule(poller.bots[pk], time.monotonic())

    async def dispatch_for(seconds: float) -> None:
        dispatcher = asyncio.create_task(poller._dispatch())
        await asyncio.sleep(seconds)
        poller.stopping = True
        poller._wake.set()
        await asyncio.gather(dispatcher, *poller._tasks, return_exceptions=True)

    try:
        asyncio.run(dispatch_for(0.5))
    finally:
        poller.budget.close()
    # ~0.5 s / (50 ms + its lateness) pauses, one admission each; all 100 bots at each pause's end before.
    assert 2 <= len(admissions) <= 15, len(admissions)


def test_a_credential_a_watch_saw_refused_is_watched_with_again_once_its_cycle_used_it():
    """From an outside trial: one 401 on a long-poll, then the same token worked. The poller kept that token
    as refused for good: each time it read it again it handed the bot to its cycle instead of watching (125
    quick polls, each a task, in three minutes where one long-poll in 25 s would do) until a new credential
    came. The cycle that ran with it has the last word: released, the bot is watched with it again."""
    poller = Poller(hold=25)
    auth = WatchAuth(api_key="vibe_app_k", session_token="s")
    bot = poller.bots[1] = Watched(row=row(1), refused=auth)  # its watch met a 401; auth read again
    poller._apply([], [], None, {}, {1: auth}, [], None, [])
    assert poller._wanted == [1] and bot.state == "cycle"  # the same credential: the cycle says what it is
    poller._wanted.clear()

    poller._apply([], [], [1], {1: row(1)}, {}, [], None, [])  # the cycle released the bot, not leased
    poller._apply([], [], None, {}, {1: auth}, [], None, [])  # ... and its credential is read again

    assert poller._wanted == [] and bot.auth == auth and bot.state == "idle"


def test_a_known_bot_resumed_during_its_backoff_is_watched_within_a_second_not_when_the_backoff_ends():
    """After a platform outage an operator resumes the bots still backing off (resume_bot clears the backoff
    and activates them): the poller already knew them and kept each waiting out its old backoff, up to
    BOTCORE_BACKOFF_MAX_SECONDS, while the admin showed it due now (an on-call trial: ~4 minutes)."""
    poller = Poller(hold=0)
    backing_off = dataclasses.replace(
        row(1),
        backoff_until=timezone.now() + timedelta(seconds=250),
        next_poll_at=timezone.now() + timedelta(seconds=250),
    )
    poller._merge_fleet([backing_off])
    poller._schedule_after_cycle(poller.bots[1])
    assert first_watch_in(poller, 1, time.monotonic()) > 200
    resumed = row(1)  # no backoff, due now: what resume_bot wrote, read by the poller's joined read
    started = time.monotonic()
    poller._apply([], [], None, {}, {}, [], None, [resumed])
    assert first_watch_in(poller, 1, started) <= 1.0 + 0.5
    assert poller.bots[1].row.backoff_until is None


def test_a_joined_bot_not_backing_off_keeps_its_cadence():
    """The joined read repeats a bot for a few seconds (its margin): one watched since and back on its
    cadence is not watched again for it."""
    poller = Poller(hold=0)
    poller._merge_fleet([row(1)])
    poller._schedule(poller.bots[1], time.monotonic() + 15.0)  # watched: next at its idle cadence
    due = poller.bots[1].due
    poller._apply([], [], None, {}, {}, [], None, [row(1)])
    assert poller.bots[1].due == due


def test_a_database_outage_is_a_traceback_once_then_a_line_every_half_minute_and_one_when_it_is_back(
    monkeypatch, caplog
):
    """The poller retried its database round at every wake-up and logged a traceback each time: ~1,450
    ERRORs in 150 s of PostgreSQL refusing connections (an on-call trial)."""
    from django.db import OperationalError

    from botcore import poller as poller_module

    clock = [100.0]
    monkeypatch.setattr(poller_module.time, "monotonic", lambda: clock[0])
    failures = poller_module.DatabaseFailures()
    refused = OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')
    with caplog.at_level("WARNING", logger="botcore.poller"):
        for _ in range(40):
            failures.failed(refused)
            clock[0] += 1.0
        failures.succeeded()
        failures.succeeded()
    lines = [r for r in caplog.records if r.name == "botcore.poller"]
    assert [r.levelname for r in lines] == ["ERROR", "ERROR", "WARNING"]
    assert lines[0].exc_info is not None and lines[1].exc_info is None
    assert "/readyz" in lines[0].getMessage()
    assert "OperationalError" in lines[1].getMessage() and "more since the last line" in lines[1].getMessage()
    assert "40 failed rounds" in lines[2].getMessage()


def backing_off(pk: int, *, seconds: float, failures: int = 3) -> BotRow:
    later = timezone.now() + timedelta(seconds=seconds)
    return dataclasses.replace(row(pk), backoff_until=later, next_poll_at=later, failures=failures)


def test_bots_backing_off_after_failures_are_called_back_once_a_failing_bot_is_heard_again_at_most_so_often():
    """After an outage each bot waited out its own backoff (up to BOTCORE_BACKOFF_MAX_SECONDS). A bot that
    was failing and is heard again calls the others back within the spread; one waiting out a rate limit, or
    due sooner anyway, keeps its time; and another recovery within CATCH_UP_EVERY_SECONDS calls back none
    (a portal failing on its own would otherwise be asked at every recovery elsewhere)."""
    poller = Poller(hold=0)
    poller._merge_fleet(
        [backing_off(1, seconds=250), backing_off(2, seconds=2), backing_off(3, seconds=250, failures=0)]
    )
    for bot in poller.bots.values():
        poller._schedule_after_cycle(bot)
    before = {pk: bot.due for pk, bot in poller.bots.items()}
    started = time.monotonic()

    poller._catch_up_after_failures()

    assert first_watch_in(poller, 1, started) <= CATCH_UP_SPREAD_SECONDS + 0.5
    assert poller.bots[2].due == before[2] and poller.bots[3].due == before[3]
    poller._merge_fleet(
        [backing_off(1, seconds=250), backing_off(2, seconds=2), backing_off(3, seconds=250, failures=0)]
    )
    poller._schedule_after_cycle(poller.bots[1])  # failed again: a new backoff
    again = poller.bots[1].due
    poller._catch_up_after_failures()
    assert poller.bots[1].due == again


def test_a_bot_without_a_credential_whose_move_is_under_way_is_sent_to_no_cycle(settings):
    """Its move to the portal's other credential is queued (the provisioning stamp taken): a cycle could only
    find the credential gone again. Its credential is read again at the slow cadence instead; one with no
    provisioning under way goes to its cycle, which reports what is missing (queues the move)."""
    settings.BOTCORE_POLL_SLOW_SECONDS = 15.0
    poller = Poller(hold=25)
    moving = poller.bots[1] = Watched(row=row(1))
    stranded = poller.bots[2] = Watched(row=row(2))
    started = time.monotonic()
    poller._apply([], [], None, {}, {1: None, 2: None}, [], None, [], provisioned={1})
    assert poller._wanted == [2] and stranded.state == "cycle"
    assert moving.state == "idle" and 14.5 <= first_watch_in(poller, 1, started) <= 15.5


def test_a_known_bot_moved_while_it_waited_is_watched_within_a_second_with_the_new_credential():
    """The move activates the bot on its new platform bot and credential: the joined read (or the fleet's)
    finds it, drops the old credential and has it watched within a second, not at its next read."""
    for read in ("joined", "fleet"):
        poller = Poller(hold=0)
        poller._merge_fleet([row(1)])
        bot = poller.bots[1]
        bot.auth = WatchAuth(api_key="vibe_app_k", session_token="s")
        poller._schedule(bot, time.monotonic() + 15.0)
        moved = dataclasses.replace(row(1), vibe_bot_id=77, credential_kind="personal")
        started = time.monotonic()
        if read == "joined":
            poller._apply([], [], None, {}, {}, [], None, [moved])
        else:
            poller._merge_fleet([moved])
        assert bot.auth is None and bot.row.vibe_bot_id == 77, read
        assert first_watch_in(poller, 1, started) <= 1.0 + 0.5, read


def test_a_watch_whose_credential_no_header_may_carry_takes_no_budget_and_goes_to_its_cycle(settings):
    """It is never sent (botcore.vibe.local_refusals): admitted, it took a slot of the key's poll budget and
    was recorded as answered, for a call that never left."""
    poller = Poller(hold=0)

    async def admit(row, auth):
        raise AssertionError("a watch that cannot be sent was admitted to the key's budget")

    poller.budget.admit = admit
    bot = poller.bots[1] = Watched(row=row(1), auth=WatchAuth(api_key="vibe_app_k", session_token="tok\n"))
    assert asyncio.run(poller._watch_once(bot, bot.generation)) is False
    assert poller._wanted == [1] and 1 not in poller._watched  # its cycle meets the refusal and says it
