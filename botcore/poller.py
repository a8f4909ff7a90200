"""The poller: one asyncio process keeps every active bot's event queue watched and hands a bot to its own
django-q2 poll cycle as soon as something waits for it.

An empty watch (most of them) is one HTTP call and no database write of its own (the bots answered are
stamped `last_polled_at` together once a minute): a long-poll where the platform holds
the answer (BOTCORE_LONG_POLL_SECONDS), else a quick call repeated at the cycle's own adaptive cadence
(botcore.services.polling.quiet_interval). When events wait, the bot is leased and its poll cycle enqueued
(botcore/poller_fleet.py) with the batch the watch read; the cycle takes that batch if the bot's offset
has not moved since (else fetches it again from the stored offset), stores it with the new offset before
acting, hands it to the skills and schedules the bot (its backoff after a failure, its next cycle after
pending work). The poller watches the bot again once that lease is released or has run out,
from the offset, cadence and backoff the cycle left. So the guarantees of the cycle (one cycle per bot,
stored before acted on, a killed cycle retried after its lease) are unchanged, and every decision is still
made in one place: the poller sends any failed watch to the cycle, whose failure policy records it.

The fleet is read whole every `refresh_seconds` (bots gone, moved, paused); a bot provisioned or resumed
meanwhile is found by a small read each second (read_joined), so a portal that has just installed, or whose
lapsed session a user has just renewed, is heard at once.

Several pollers may run against one database (the lease decides who hands a bot over; a watch
acknowledges nothing), but each watches every bot: run one, and a second only for availability.
Every watch spends the key's request budget (botcore/poller_budget.py) when one is set.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.db import close_old_connections, connections
from django.utils import timezone

from botcore import conf, poller_fleet
from botcore.poller_budget import WatchBudget
from botcore.poller_fleet import BotRow
from botcore.poller_watched import CYCLE, IDLE, WATCHING, Watched, fields_of, in_seconds, until
from botcore.services.polling import quiet_interval, watched_for_cycle, watched_rate_limit
from botcore.services.refused_polls import no_events_path, refused_as_built, watched_refused_request
from botcore.vibe.errors import (
    VibeAuthError,
    VibeBudgetTimeoutError,
    VibeError,
    VibeProtocolError,
    VibeRateLimitError,
)
from botcore.vibe.outage_log import OutageLog, more_since
from botcore.vibe.watch import WatchClients, watch_events
from ops.heartbeat import beat_poller

log = logging.getLogger(__name__)

# How often the bots in cycle are read back to see which ones the cycles released: a released bot is watched
# again within this. A round that only hands bots over reads nothing back (they were just leased).
FOLLOW_SECONDS = 0.1
# Each second the poller also reads the bots activated since its last read, less this margin: an
# activation stamped just before a read but committed after it, or stamped by a host whose clock is a
# little behind, is still found. Beyond the margin, the fleet's full read (refresh_seconds) finds it.
JOINED_MARGIN = timedelta(seconds=5)
DB_FAILURE_PAUSE_SECONDS = 1.0  # after a failed database round, before the next
# After an outage each bot backs off on its own, up to BOTCORE_BACKOFF_MAX_SECONDS: once a bot that was
# failing is heard again, the others still waiting out failures are watched within CATCH_UP_SPREAD_SECONDS
# (spread, and admitted by their key's budget). At most once every CATCH_UP_EVERY_SECONDS: a bot failing on
# its own (its portal down) costs one watch and one cycle per catch-up, not one per recovery elsewhere.
CATCH_UP_SPREAD_SECONDS = 5.0
CATCH_UP_EVERY_SECONDS = 30.0
# The bots whose empty watch the platform answered are stamped `last_polled_at` together this often (an
# operator reading it on an idle bot saw only its last cycle's): one UPDATE a round, not one a watch.
HEARD_WRITE_SECONDS = 60.0


class DatabaseFailures:
    """The poller's failed database rounds (the database down or refusing): the first of a spell is logged
    with its traceback, then one line a while (botcore.vibe.outage_log) counting the rest, and one when a
    round succeeds again. A round per wake-up logged a traceback each: ~1,450 in 150 s of an on-call trial."""

    def __init__(self) -> None:
        self.failing_since: float | None = None
        self.total = 0
        self._said = OutageLog()

    def failed(self, error: Exception) -> None:
        self.total += 1
        unsaid = self._said.due()
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            log.error(
                "poller database round failed: the bots' cycles wait until it answers (/readyz: database)",
                exc_info=error,
            )
            return
        if unsaid is None:
            return
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        log.error(
            "poller database rounds still failing for %.0fs (%s: %s)%s",
            time.monotonic() - self.failing_since, error.__class__.__name__, first_line, more_since(unsaid),
        )  # fmt: skip

    def succeeded(self) -> None:
        if self.failing_since is None:
            return
        log.warning(
            "poller database rounds succeed again after %.0fs and %s failed rounds",
            time.monotonic() - self.failing_since, self.total,
        )  # fmt: skip
        self.failing_since, self.total = None, 0
        self._said.reset()


def _moved(bot: Watched, row: BotRow) -> bool:
    """Whether `row` puts the bot on another platform bot or credential than the poller watched it on."""
    return row.vibe_bot_id != bot.row.vibe_bot_id or row.credential_kind != bot.row.credential_kind


class Poller:
    def __init__(self, *, hold: float | None = None, refresh_seconds: float = 10.0) -> None:
        self.hold = conf.poll_long_poll_seconds() if hold is None else hold
        self.refresh_seconds = refresh_seconds
        self.bots: dict[int, Watched] = {}
        self._heap: list[tuple[float, int, int]] = []
        # Due bots whose key or portal is paused, kept out of the heap until the pause ends (the first field):
        # pushed back there, a paused overdue bot was the heap's top, and the dispatcher turned at once,
        # again and again, for as long as the pause lasted (a core spent by a poller with 200 idle bots).
        self._held: list[tuple[float, float, int, int]] = []
        # Due bots of a key whose watch is at the budget now, by key: started after its answer, in place.
        # Started together, every bot a key's pause had held went to the budget when it ended, each a task
        # and a hop to the budget's thread only to meet the pause the first one met (a fifth of a core for
        # 200 idle bots on a key at its rate). One at a time costs nothing: a key's budget admits a few
        # watches a second.
        self._behind_admission: dict[str, list[tuple[float, int, int]]] = {}
        self._order = itertools.count()
        self._wanted: list[int] = []  # bots to hand to their cycles, oldest first
        self._watched: dict[int, dict] = {}  # what a wanted bot's watch read, to go with its cycle
        self._in_cycle: set[int] = set()  # bots a cycle (or a hand-over) holds: looked at until released
        self._need_auth: set[int] = set()
        self._heard: dict[int, datetime] = {}  # bots whose empty watch was answered since the last note: when
        self.budget = WatchBudget()
        self._tasks: set[asyncio.Task] = set()
        self.in_flight = 0
        self.platform_holds = False  # the last empty answer was held open (the platform long-polls)
        self._db = ThreadPoolExecutor(1, thread_name_prefix="poller-db")
        self._wake = asyncio.Event()
        self._db_wake = asyncio.Event()
        self._fleet_read = False
        self._joined_since: datetime | None = None  # activated since then: read with the owed work
        self._db_failures = DatabaseFailures()
        self._next_catch_up = 0.0  # monotonic: no call-back of backing-off bots before then
        self.stopping = False

    # --- scheduling ---------------------------------------------------------------------------------
    def _schedule(self, bot: Watched, due: float) -> None:
        bot.state, bot.due = IDLE, due
        heapq.heappush(self._heap, (due, next(self._order), bot.row.pk))
        self._wake.set()

    def _schedule_after_cycle(self, bot: Watched, *, items_stayed: bool = False) -> None:
        """From what the cycle left: its backoff, else at once on a platform that holds, else its cadence.

        `items_stayed`: the watch that handed the bot over saw items, and the cycle left the offset where it
        was (items that move it nowhere, kept once: polling._moves_nowhere). They are answered at once at
        every watch, never held, so the bot is watched at its cadence: at once, each watch sent it to one
        more cycle, a cycle every few tenths of a second for as long as the platform kept the item."""
        row = bot.row
        if row.backoff_until is not None and row.backoff_until > timezone.now():
            self._schedule(bot, until(max(row.backoff_until, row.next_poll_at)))
        elif self.hold and self.platform_holds and not items_stayed:
            self._schedule(bot, time.monotonic())
        else:
            self._schedule(bot, until(row.next_poll_at))

    def _want_cycle(self, bot: Watched, watched: dict | None = None) -> None:
        """Hand the bot to its cycle, with what its watch read (botcore.services.polling.watched_batch)."""
        bot.state = CYCLE
        bot.generation += 1
        bot.saw_items_at = None  # a watch that saw items says so after handing the bot over
        self._wanted.append(bot.row.pk)
        if watched is None:
            self._watched.pop(bot.row.pk, None)
        else:
            self._watched[bot.row.pk] = watched
        self._db_wake.set()

    async def _dispatch(self) -> None:
        """Start the watches that are due, longest overdue first, as many at once as the pool allows."""
        cap = conf.poller_max_in_flight()
        while not self.stopping:
            now = time.monotonic()
            while self._held and self._held[0][0] <= now:  # their pause is over: back in line, in their place
                _, due, order, pk = heapq.heappop(self._held)
                heapq.heappush(self._heap, (due, order, pk))
            while self._heap and self._heap[0][0] <= now and self.in_flight < cap:
                due, order, pk = heapq.heappop(self._heap)
                bot = self.bots.get(pk)
                if bot is None or bot.state != IDLE or bot.due != due:
                    continue  # dropped, handed over or rescheduled since
                if bot.auth is None:
                    self._need_auth.add(pk)
                    self._db_wake.set()
                    continue  # scheduled again once the credential is read
                resume_at = self.budget.paused_till(bot.row, now)
                if resume_at > now:
                    heapq.heappush(self._held, (resume_at, due, order, pk))
                    continue
                if not self.budget.may_start(bot.row):
                    self._behind_admission.setdefault(bot.row.key_name, []).append((due, order, pk))
                    continue
                bot.state = WATCHING
                self.in_flight += 1
                task = asyncio.create_task(self._watch(bot, bot.generation))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            wait = 0.5
            if self._heap and self.in_flight < cap:
                wait = min(wait, max(0.0, self._heap[0][0] - time.monotonic()))
            if self._held:
                wait = min(wait, max(0.0, self._held[0][0] - time.monotonic()))
            self._wake.clear()
            try:
                async with asyncio.timeout(wait):  # no task per wait, as wait_for makes on Python 3.11
                    await self._wake.wait()
            except TimeoutError:
                pass

    # --- one watch ----------------------------------------------------------------------------------
    async def _watch(self, bot: Watched, generation: int) -> None:
        try:
            while await self._watch_once(bot, generation):
                pass  # held open and empty: the next watch goes out from this task (_may_watch_again)
        except Exception:  # a bug must not stop the bot's watching for good
            log.exception("watch failed bot=%s", bot.row.pk)
            if bot.generation == generation and self.bots.get(bot.row.pk) is bot:
                self._schedule(bot, in_seconds(conf.poll_fast_seconds()))
        finally:
            self.in_flight -= 1
            self._wake.set()

    async def _watch_once(self, bot: Watched, generation: int) -> bool:
        """One watch and what follows it; True when the bot is to be watched again at once by the caller."""
        row, auth = bot.row, bot.auth
        assert auth is not None and row.vibe_bot_id is not None
        if auth.unsendable is not None:  # never sent: no slot of the key's budget, and its cycle says why
            self._after_admission(row.key_name)
            self._want_cycle(bot)
            return False
        try:
            spent = await self.budget.admit(row, auth)
        finally:
            self._after_admission(row.key_name)
        if spent is None:  # no slot free for now: the key or the portal is paused
            if bot.generation == generation:
                self._schedule(bot, bot.due)  # keeps its place: longest overdue still goes first
            return False
        started = time.monotonic()
        try:
            waiting = await watch_events(
                self.http.for_bot(row.pk), base_url=conf.vibe_base_url(), vibe_bot_id=row.vibe_bot_id,
                auth=auth, offset=row.offset, limit=conf.poll_batch_size(), hold=self.hold,
                connect_timeout=self.http.connect_timeout,
            )  # fmt: skip
        except VibeError as error:
            self.budget.record(spent, limited=getattr(error, "status", None) == 429)
            if bot.generation != generation or self.bots.get(row.pk) is not bot:
                return False
            if isinstance(error, VibeAuthError) and bot.refused != auth:
                log.info("watch refused bot=%s: reading its credential again", row.pk)
                bot.refused, bot.auth = auth, None
                self._schedule(bot, time.monotonic())  # waits for the credential (see _dispatch)
                return False
            # The cycle meets the same failure and records it by the one policy (backoff, broken, refused);
            # a 429 goes with the bot, so the cycle waits it out without asking again, as do a refusal as
            # built and a router's "no events path", which a repeat is answered alike.
            log.debug("watch failed bot=%s (%s): handed to its cycle", row.pk, type(error).__name__)
            handed = None
            if isinstance(error, VibeRateLimitError) and not isinstance(error, VibeBudgetTimeoutError):
                handed = watched_rate_limit(row.vibe_bot_id, row.offset, error)
            elif isinstance(error, VibeProtocolError) and (refused_as_built(error) or no_events_path(error)):
                handed = watched_refused_request(row.vibe_bot_id, row.offset, error)  # not asked again
            self._want_cycle(bot, handed)
            return False
        self.budget.record(spent, limited=False)
        if row.failures:  # its last cycle failed, and the platform answers it again
            self._catch_up_after_failures()
        if bot.generation != generation or self.bots.get(row.pk) is not bot:
            return False  # handed over (owed work) or dropped meanwhile
        if waiting is not None:
            self._want_cycle(bot, watched_for_cycle(row.vibe_bot_id, row.offset, waiting.answer))
            bot.saw_items_at = row.offset
            return False
        self._heard[row.pk] = timezone.now()
        held = bool(self.hold) and time.monotonic() - started >= self.hold / 2
        if self.hold:
            self.platform_holds = held
        if held:
            if self._may_watch_again(row):
                return True
            self._schedule(bot, time.monotonic())
        else:
            self._schedule(
                bot,
                in_seconds(quiet_interval(row.last_event_at, timezone.now()) - (time.monotonic() - started)),
            )
        return False

    def _catch_up_after_failures(self) -> None:
        """A bot that was failing is heard again: the bots still waiting out failures' backoffs (not a rate
        limit's wait) are watched within CATCH_UP_SPREAD_SECONDS instead of when each backoff ends."""
        now = time.monotonic()
        if now < self._next_catch_up:
            return
        self._next_catch_up = now + CATCH_UP_EVERY_SECONDS
        called_back = 0
        for bot in self.bots.values():
            if (
                bot.state == IDLE
                and bot.row.backing_off_after_failures
                and bot.due > now + CATCH_UP_SPREAD_SECONDS
            ):
                self._schedule(bot, now + random.uniform(0, CATCH_UP_SPREAD_SECONDS))
                called_back += 1
        if called_back:
            log.info(
                "a failing bot is heard again: %s bots backing off after failures are watched within %gs",
                called_back, CATCH_UP_SPREAD_SECONDS,
            )  # fmt: skip

    def _after_admission(self, key_name: str) -> None:
        """The bots that waited for a watch of their key to be admitted or paused: due again, in their place
        (a pause it met holds them in the dispatcher)."""
        self.budget.admitting.discard(key_name)  # claimed by may_start, whatever happened since
        waiting = self._behind_admission.pop(key_name, None)
        if waiting:
            for entry in waiting:
                heapq.heappush(self._heap, entry)
            self._wake.set()

    def _may_watch_again(self, row: BotRow) -> bool:
        """Whether a bot due again now may skip the queue: yes unless the poller stops, another bot is
        overdue (the dispatcher serves the longest overdue first), the bot's key or portal is paused, or
        another watch of its key is on its way to the budget; a yes claims the key, as the dispatcher does.
        Skipping the dispatcher saves a task, a heap entry and a wake-up per held watch."""
        now = time.monotonic()
        if self.stopping or (self._heap and self._heap[0][0] <= now):
            return False
        return self.budget.paused_till(row, now) <= now and self.budget.may_start(row)

    # --- the database side --------------------------------------------------------------------------
    async def _db_loop(self) -> None:
        """Hand wanted bots to their cycles, follow the cycles, read credentials and the fleet's changes."""
        loop = asyncio.get_running_loop()
        next_refresh = next_owed = next_follow = 0.0
        next_heard = time.monotonic() + HEARD_WRITE_SECONDS
        while not self.stopping:
            now = time.monotonic()
            room = max(0, conf.max_cycles_in_flight() - len(self._in_cycle))
            wanted, self._wanted = self._wanted[:room], self._wanted[room:]
            watched = {pk: self._watched.pop(pk) for pk in wanted if pk in self._watched}
            need_auth = list(self._need_auth)[:500]
            self._need_auth.difference_update(need_auth)
            owed, fleet = now >= next_owed, now >= next_refresh
            follow = bool(self._in_cycle) and now >= next_follow
            heard: dict[int, datetime] = {}
            if now >= next_heard:
                heard, self._heard = self._heard, {}
                next_heard = now + HEARD_WRITE_SECONDS
            next_owed = now + 1.0 if owed else next_owed
            next_refresh = now + self.refresh_seconds if fleet else next_refresh
            next_follow = now + FOLLOW_SECONDS if follow else next_follow
            result = None
            # Nothing to write, follow or read: no round (the owed-work round, each second, still beats).
            if wanted or follow or need_auth or owed or fleet or heard:
                joined_since = self._joined_since if owed and not fleet else None
                started = timezone.now()
                try:
                    following = list(self._in_cycle) if follow else None
                    result = await loop.run_in_executor(
                        self._db,
                        self._db_round,
                        wanted,
                        watched,
                        following,
                        need_auth,
                        owed,
                        fleet,
                        joined_since,
                        heard,
                    )
                    if fleet or joined_since is not None:
                        self._joined_since = started - JOINED_MARGIN
                except Exception as error:  # noqa: BLE001 - the database's own family, or a bug: reported
                    self._db_failures.failed(error)
                    self._wanted[:0] = wanted
                    self._watched.update(watched)
                    self._need_auth.update(need_auth)
                    self._heard = {**heard, **self._heard}  # noted at the next round; a newer answer wins
                    await asyncio.sleep(DB_FAILURE_PAUSE_SECONDS)  # not a round per wake-up while it is down
                else:
                    self._db_failures.succeeded()
            if result is not None:
                self._apply(*result)
            self._db_wake.clear()
            try:
                async with asyncio.timeout(FOLLOW_SECONDS if self._in_cycle else 0.5):
                    await self._db_wake.wait()
            except TimeoutError:
                pass

    def _db_round(self, wanted, watched, following, need_auth, owed: bool, fleet: bool, joined_since, heard):
        if owed:
            # A connection broken by a database restart is replaced, not reused. Once a second, with the
            # owed-work round: on PostgreSQL each call costs the next query a health check.
            close_old_connections()
        beat_poller()  # throttled; /readyz checks that the bots are watched
        _, failed = poller_fleet.hand_to_cycles(wanted, watched)
        if heard:
            poller_fleet.note_polled(heard)
        settled = poller_fleet.read_bots(following) if following else {}
        auths = poller_fleet.read_auth(need_auth) if need_auth else {}
        provisioned = poller_fleet.bots_being_provisioned([pk for pk, auth in auths.items() if auth is None])
        return (
            wanted, failed, following, settled, auths,
            poller_fleet.bots_owed_a_cycle() if owed else [], poller_fleet.read_fleet() if fleet else None,
            poller_fleet.read_joined(joined_since) if joined_since is not None else [], provisioned,
        )  # fmt: skip

    def _apply(
        self, wanted, failed, following, settled, auths, owed, fleet, joined, provisioned=frozenset()
    ) -> None:
        self._in_cycle.update(wanted)
        for pk in failed:  # the broker refused: try again after a pause, not in a tight loop
            bot = self.bots.get(pk)
            self._in_cycle.discard(pk)
            if bot is not None:
                self._schedule(bot, in_seconds(conf.poll_fast_seconds()))
        for pk in following or ():  # the bots this round read back: released ones are watched again
            row = settled.get(pk)
            if row is not None and row.leased:
                continue
            self._in_cycle.discard(pk)
            bot = self.bots.get(pk)
            if row is None or not row.active or bot is None:
                self.bots.pop(pk, None)
                continue
            if _moved(bot, row):
                bot.auth = None  # moved to another platform bot or credential
            # The cycle ran with the credential a watch saw refused, and had the last word: it reported a
            # refusal to tenants (the next read brings another credential, or none) or the credential worked
            # (a passing 401). Kept as refused, it sent the bot to a cycle at every read instead of a watch.
            bot.refused = None
            items_stayed = row.vibe_bot_id == bot.row.vibe_bot_id and row.offset == bot.saw_items_at
            bot.row = row
            self._schedule_after_cycle(bot, items_stayed=items_stayed)
        for pk, auth in auths.items():
            bot = self.bots.get(pk)
            if bot is None or bot.state != IDLE:
                continue
            if auth is None and pk in provisioned:
                # Its move (or another provisioning) is on its way: a cycle would only find the credential
                # gone, every ~0.6 s where the platform holds watches. The provisioning activates the bot
                # anew, found by the read of joined bots; the credential is read again at the slow cadence
                # in case it ends without (refused, or lost), when the cycle reports what is missing.
                self._schedule(bot, in_seconds(conf.poll_slow_seconds()))
            elif auth is None or auth == bot.refused:
                self._want_cycle(bot)  # no credential, or the refused one again: the cycle reports it
            else:
                bot.auth, bot.refused = auth, None
                self._schedule(bot, min(bot.due, time.monotonic()))
        for pk in owed:
            bot = self.bots.get(pk)
            if bot is not None and bot.state != CYCLE:
                self._want_cycle(bot)
        if fleet is not None:
            self._merge_fleet(fleet)
        for row in joined:
            bot = self.bots.get(row.pk)
            if bot is None:
                self._join(row, starting=False)
            elif (
                bot.state == IDLE and not row.leased and (self._backoff_lifted(bot, row) or _moved(bot, row))
            ):
                # Activated again while it waited out a backoff its row no longer has (an operator's Resume
                # once the platform is back), or moved to another platform bot or credential while it waited
                # for that (provisioned with none): watched within a second, not when the old backoff or the
                # next read of its credential is due. Other changes of a known bot wait for the fleet's
                # full read.
                self._take_row(bot, row)
                self._schedule(bot, max(until(row.next_poll_at), in_seconds(random.uniform(0, 1.0))))

    def _merge_fleet(self, rows: list[BotRow]) -> None:
        """New bots join, gone ones leave, a bot a cycle holds now is followed until released."""
        seen = set()
        # The fleet found at start is watched first at a random moment within each bot's own cadence:
        # started at one instant, an idle fleet would poll in lockstep, every bot in one burst per cadence.
        # A bot in a dialog (an event within its fast cadence) is watched at once (_join).
        # A bot that joins later (just provisioned, resumed) is watched within a second.
        starting = not self._fleet_read
        self._fleet_read = True
        for row in rows:
            seen.add(row.pk)
            bot = self.bots.get(row.pk)
            if bot is None:
                self._join(row, starting=starting)
                continue
            if bot.state == CYCLE:
                continue
            moved = _moved(bot, row)
            self._take_row(bot, row)
            if moved and bot.state == IDLE and not row.leased:  # as a joined read finds it (_apply)
                self._schedule(bot, max(until(row.next_poll_at), in_seconds(random.uniform(0, 1.0))))
            if row.leased:
                bot.state, bot.generation = CYCLE, bot.generation + 1
                self._in_cycle.add(row.pk)
        for pk in set(self.bots) - seen:
            if self.bots[pk].state != CYCLE:
                del self.bots[pk]

    @staticmethod
    def _backoff_lifted(bot: Watched, row: BotRow) -> bool:
        now = timezone.now()
        waiting = bot.row.backoff_until is not None and bot.row.backoff_until > now
        return waiting and (row.backoff_until is None or row.backoff_until <= now) and row.next_poll_at <= now

    def _take_row(self, bot: Watched, row: BotRow) -> None:
        """The bot as the database has it now (its offset never backwards; a move drops its credential)."""
        if _moved(bot, row):
            bot.auth = None
        elif row.offset < bot.row.offset:
            row = BotRow(**{**fields_of(row), "offset": bot.row.offset})  # never backwards
        bot.row = row

    def _join(self, row: BotRow, *, starting: bool) -> None:
        """Watch a bot the poller did not know: the one its cycle holds once released, else soon."""
        bot = self.bots[row.pk] = Watched(row=row)
        if row.leased:
            bot.state = CYCLE
            self._in_cycle.add(row.pk)
        elif starting and quiet_interval(row.last_event_at, timezone.now()) <= conf.poll_fast_seconds():
            # A dialog in progress as the poller (re)starts: watched at once, first. Spread over its
            # one-second cadence, a message written while the poller restarted waited up to that second
            # more; these are few, and their cadence follows their own events from then on (no lockstep to
            # spread). Its next cycle's time (its last cycle's end + the fast cadence) is not waited for, as
            # after a cycle on a platform that holds; a backoff is.
            backoff_until = row.backoff_until
            if backoff_until is not None and backoff_until > timezone.now():
                self._schedule(bot, until(max(backoff_until, row.next_poll_at)))
            else:
                self._schedule(bot, time.monotonic())
        else:
            spread = quiet_interval(row.last_event_at, timezone.now()) if starting else 1.0
            self._schedule(bot, max(until(row.next_poll_at), in_seconds(random.uniform(0, spread))))

    # --- the process --------------------------------------------------------------------------------
    async def run(self, *, stop_after: float | None = None) -> None:
        self.http = WatchClients(base_url=conf.vibe_base_url(), connect_timeout=conf.vibe_connect_timeout())
        log.info("poller started (long-poll %gs)", self.hold)
        workers = [asyncio.create_task(self._dispatch()), asyncio.create_task(self._db_loop())]
        try:
            if stop_after is None:
                await asyncio.gather(*workers)
            else:
                await asyncio.sleep(stop_after)
        finally:
            self.stopping = True
            self._wake.set()
            self._db_wake.set()
            for task in [*workers, *self._tasks]:
                task.cancel()
            await asyncio.gather(*workers, *self._tasks, return_exceptions=True)
            await self.http.aclose()
            self._db.submit(connections.close_all)  # this thread's connection, not left to the GC
            self._db.shutdown(wait=True)
            self.budget.close()
