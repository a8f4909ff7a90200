"""The shared request budget: one rate per key across threads and processes, through Redis and the database.

Rates are checked from below only: N admissions paced at r/s cannot span less than (N-1)/r seconds, so a
slow machine can never fail these tests, while a budget that is not shared (each worker pacing itself)
finishes in about half the time and does.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import uuid

import pytest
import redis
from django.db import transaction
from pyrate_limiter.buckets import InMemoryStateStore, RedisStateStore
from redis.backoff import NoBackoff
from redis.retry import Retry

from botcore.vibe.budget import NoBudget, SharedBudget, key_digest
from botcore.vibe.budget_store import CREATE_TABLE, TABLE, DatabaseStateStore
from botcore.vibe.errors import VibeBudgetTimeoutError, VibeRateLimitError
from botcore.vibe.key_budgets import budget_for_key
from botcore.vibe.learned_budget import LearnedBudget
from botcore.vibe.learning import LearnedState, MemoryLearnedStore
from tests import run_redis

RATE = 20.0  # requests/s: fast enough for a short test, slow enough that pacing dominates
PER_WORKER = 8
WORKERS = 2
# (N-1)/r with N admissions in all; a little below, for the clock reads around the first and last.
MIN_SPAN = (WORKERS * PER_WORKER - 1) / RATE - 0.1


def redis_store(name: str) -> RedisStateStore:
    """A budget's store in the run's Redis (tests/run_redis.py), its key deleted after the test."""
    return RedisStateStore(run_redis.client(), key=f"{run_redis.PREFIX}vibe:budget:{name}")


def run_workers(make_budget, workers: int = WORKERS, per_worker: int = PER_WORKER) -> list[float]:
    """Each worker gets a budget object of its own (as a separate process would) and spends it."""
    stamps: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            budget = make_budget()
            for _ in range(per_worker):
                budget.acquire()
                with lock:
                    stamps.append(time.time())
        except Exception as exc:  # noqa: BLE001 (surfaced to the test below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return sorted(stamps)


@pytest.mark.slow
def test_two_workers_sharing_a_redis_budget_keep_to_its_rate_together():
    name = uuid.uuid4().hex
    stamps = run_workers(
        lambda: SharedBudget(name=name, per_second=RATE, burst=1, max_wait=10, store=redis_store(name))
    )
    assert len(stamps) == WORKERS * PER_WORKER
    assert stamps[-1] - stamps[0] >= MIN_SPAN


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_sharing_a_database_budget_keep_to_its_rate_together():
    name = uuid.uuid4().hex[:24]
    stamps = run_workers(
        lambda: SharedBudget(name=name, per_second=RATE, burst=1, max_wait=10, store=DatabaseStateStore(name))
    )
    assert len(stamps) == WORKERS * PER_WORKER
    assert stamps[-1] - stamps[0] >= MIN_SPAN


@pytest.mark.slow
def test_workers_with_separate_budgets_are_not_paced_together():
    """The control for the two tests above: without sharing, the same work finishes in half the time."""
    stamps = run_workers(
        lambda: SharedBudget(
            name=uuid.uuid4().hex, per_second=RATE, burst=1, max_wait=10, store=redis_store(uuid.uuid4().hex)
        )
    )
    assert stamps[-1] - stamps[0] < MIN_SPAN


def _spend_in_another_process(name: str, count: int, queue: multiprocessing.Queue) -> None:
    budget = SharedBudget(name=name, per_second=RATE, burst=1, max_wait=10, store=redis_store(name))
    for _ in range(count):
        budget.acquire()
        queue.put(time.time())


@pytest.mark.slow
def test_two_processes_share_one_budget_through_redis():
    name = uuid.uuid4().hex
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_spend_in_another_process, args=(name, PER_WORKER, queue))
        for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    stamps = sorted(queue.get(timeout=60) for _ in range(WORKERS * PER_WORKER))
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert stamps[-1] - stamps[0] >= MIN_SPAN


@pytest.mark.slow
def test_waiting_for_budget_blocks_instead_of_failing():
    budget = SharedBudget(
        name="block", per_second=10, burst=1, max_wait=5, store=redis_store(uuid.uuid4().hex)
    )
    started = time.monotonic()
    for _ in range(4):
        budget.acquire()  # no exception: each call waits for its turn
    assert time.monotonic() - started >= 0.25


def test_a_budget_spent_past_the_longest_wait_raises_a_rate_limit_error():
    budget = SharedBudget(
        name="spent", per_second=1, burst=1, max_wait=0.1, store=redis_store(uuid.uuid4().hex)
    )
    budget.acquire()
    with pytest.raises(VibeBudgetTimeoutError) as caught:
        budget.acquire()
    assert isinstance(caught.value, VibeRateLimitError)
    assert caught.value.code == "CLIENT_BUDGET_EXHAUSTED" and caught.value.retry_after == 1.0


def test_the_redis_budget_these_tests_use_is_the_runs_own_db():
    """The run's Redis is REDIS_URL's db (CI gives each run its own), not db 0 whatever it said."""
    store = redis_store(uuid.uuid4().hex)
    SharedBudget(name="db", per_second=0.1, burst=1, max_wait=0.1, store=store).acquire()
    assert redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0").exists(store.key)


def test_an_unreachable_store_lets_calls_through_and_is_left_alone_a_while(caplog):
    unreachable = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    dead = RedisStateStore(unreachable, key="x")
    budget = SharedBudget(name="dead", per_second=1, burst=1, max_wait=0.1, store=dead)
    with caplog.at_level(logging.WARNING, logger="botcore.vibe.budget"):
        for _ in range(3):
            budget.acquire()
    assert [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()] == [
        "request budget dead unavailable (ConnectionError); calling without it for 30s"
    ]


def test_budget_for_key_uses_redis_when_redis_url_is_set(settings):
    settings.REDIS_URL = run_redis.URL
    settings.VIBE_BUDGET_BACKEND = "auto"
    key = "vibe_app_" + uuid.uuid4().hex
    client = run_redis.client(f"vibe:*{key_digest(key)}*")  # the product's own keys, deleted after the test
    budget = budget_for_key(key, per_second=50)
    assert isinstance(budget, LearnedBudget) and "RedisStateStore" in repr(budget)
    assert budget_for_key(key, per_second=50) is budget
    budget.acquire()
    assert client.exists(f"vibe:budget:{key_digest(key)}")
    assert not any(key in name.decode() for name in client.scan_iter("vibe:budget:*"))
    assert key not in repr(budget)


@pytest.mark.django_db(transaction=True)
def test_budget_for_key_uses_the_database_without_redis(settings):
    settings.REDIS_URL = ""
    settings.VIBE_BUDGET_BACKEND = "auto"
    key = "vibe_api_" + uuid.uuid4().hex
    budget = budget_for_key(key, per_second=50)
    assert "DatabaseStateStore" in repr(budget)
    budget.acquire()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name FROM {TABLE}")
        names = [row[0] for row in cursor.fetchall()]
    assert key_digest(key) in names and key not in names


@pytest.mark.parametrize("settings_value", [{"VIBE_BUDGET_BACKEND": "off"}, {"VIBE_BUDGET_PER_SECOND": 0}])
def test_a_budget_turned_off_is_no_budget(settings, settings_value):
    for name, value in settings_value.items():
        setattr(settings, name, value)
    assert isinstance(budget_for_key("vibe_api_x"), NoBudget)


def test_an_unknown_backend_is_a_configuration_error(settings):
    settings.VIBE_BUDGET_BACKEND = "memcached"
    with pytest.raises(ValueError, match="VIBE_BUDGET_BACKEND"):
        budget_for_key("vibe_api_x")


@pytest.mark.django_db(transaction=True)
def test_a_database_budget_inside_an_open_transaction_does_not_wait_on_it():
    name = uuid.uuid4().hex[:24]
    budget = SharedBudget(name=name, per_second=100, burst=1, max_wait=2, store=DatabaseStateStore(name))
    started = time.monotonic()
    with transaction.atomic():
        from django.db import connection

        with connection.cursor() as cursor:  # the caller holds a write transaction open
            cursor.execute(CREATE_TABLE)
            cursor.execute(f"DELETE FROM {TABLE} WHERE name = %s", ["nothing"])
        budget.acquire()
        budget.acquire()
    assert (
        time.monotonic() - started < 10
    )  # a deadlock waits out the database lock timeout (30 s), then fails open


@pytest.mark.django_db(transaction=True)
def test_a_database_budget_read_before_any_call_finds_it_free_rather_than_out(monkeypatch, caplog):
    # A fresh install: the table does not exist yet, and the first thing asked is when the next slot is.
    # Read as a store outage, every call would go unbudgeted for 30 s, under a warning.
    from django.db import connection

    from botcore.vibe import budget_store

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
    monkeypatch.setattr(budget_store, "_tables_made", set())
    name = uuid.uuid4().hex[:24]
    budget = SharedBudget(name=name, per_second=2, burst=1, max_wait=5, store=DatabaseStateStore(name))
    with caplog.at_level(logging.WARNING, logger="botcore.vibe.budget"):
        assert budget.slot_in() == 0.0 and budget.is_idle()
        budget.acquire()
        assert budget.slot_in() > 0.3  # paced: the budget is in use, not bypassed
    assert not [r for r in caplog.records if "unavailable" in r.getMessage()]


class LockGrantedLate(DatabaseStateStore):
    """A store whose first step gets the database's write lock `delay` seconds after it was asked for,
    as SQLite's single writer does while another process writes the event log."""

    def __init__(self, name: str, *, delay: float) -> None:
        super().__init__(name)
        self.delays = [delay]

    def _in_own_transaction(self, work):
        def late(cursor, lock):
            if self.delays:
                time.sleep(self.delays.pop())
            return work(cursor, lock)

        return super()._in_own_transaction(late)


@pytest.mark.django_db(transaction=True)
def test_a_database_budget_counts_a_slot_from_when_it_held_the_lock_not_from_when_it_asked():
    # Counted from the ask, the first call's slot would be 0.3 s old when it went, and the second call
    # would go 0.2 s after it against a pace of one call per 0.5 s.
    from django.db import connection

    with connection.cursor() as cursor:  # the table made first: the late lock is the first step's own
        cursor.execute(CREATE_TABLE)
    name = uuid.uuid4().hex[:24]
    store = LockGrantedLate(name, delay=0.3)
    budget = SharedBudget(name=name, per_second=2, burst=1, max_wait=5, store=store)
    budget.acquire()
    first_went = time.monotonic()
    budget.acquire()
    # From below only, less the first call's own commit after its slot was stamped (a loaded machine).
    assert time.monotonic() - first_went >= 0.5 - 0.1


def test_a_call_waiting_for_the_keys_slot_keeps_its_portals_pace():
    """The key's budget (2/s) is busy with another portal's call; this portal's (1/s) is free. The first
    call waits for the key; a second call of the portal, asking 0.6 s later, must still go a whole
    portal interval after the first went, not after the first was admitted by the portal's budget."""
    stores: dict[str, InMemoryStateStore] = {}
    learned = MemoryLearnedStore()
    learned.update("k:portals", lambda _: LearnedState(rate=1.0, since=time.time()).encode())
    budget = LearnedBudget(
        name="k", portal="p", ceiling=2.0, burst=1, max_wait=10,
        make_store=lambda name: stores.setdefault(name, InMemoryStateStore()), learned=learned,
    )  # fmt: skip
    assert budget.rates() == (2.0, 1.0)
    budget.key_budget.acquire()  # another portal's call: the key's next slot is 0.5 s away
    went: list[float] = []

    def call(after: float) -> None:
        time.sleep(after)
        budget.acquire()
        went.append(time.monotonic())

    threads = [threading.Thread(target=call, args=(after,)) for after in (0.0, 0.6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(went) == 2
    assert went[1] - went[0] >= 1.0 - 0.1  # the portal's pace, from below only (0.5 before the fix)


def test_a_call_waiting_when_the_rate_is_cut_takes_its_slot_at_the_cut_rate():
    """A worker waits for the key's slot at 10/s; meanwhile a 429 cuts the rate to 1/s. The slot it
    takes must be spaced at the new rate: taken at the rate it read when it began to wait, the call after
    it went a tenth of a second later, and the platform refused it (the cascade of cuts that overshot a
    limit of 1/s down to 0.75)."""
    rate = {"now": 10.0}
    budget = SharedBudget(
        name="cut", per_second=lambda: rate["now"], burst=1, max_wait=5, store=InMemoryStateStore()
    )
    budget.acquire()
    went: list[float] = []
    waiting = threading.Thread(target=lambda: (budget.acquire(), went.append(time.monotonic())))
    waiting.start()
    time.sleep(0.02)  # the worker is waiting for the slot 0.1 s after the first call
    rate["now"] = 1.0
    waiting.join(timeout=5)
    budget.acquire()
    went.append(time.monotonic())
    assert went[1] - went[0] >= 1.0 - 0.1  # from below only (0.1 s before the fix)


@pytest.mark.parametrize("portal", [None, "p"], ids=["key", "portal"])
def test_a_429_that_cuts_a_rate_puts_that_budgets_next_slot_a_whole_new_interval_away(portal):
    """The platform refused a call: its bucket is full. The next call of the scope cut (the key's, or the
    portal's) waits a whole interval at the cut rate, not the slot the old rate had already spaced."""
    stores: dict[str, InMemoryStateStore] = {}
    learned = MemoryLearnedStore()
    scope = "k:portals" if portal else "k"
    learned.update(scope, lambda _: LearnedState(rate=1.0, since=time.time()).encode())
    budget = LearnedBudget(
        name="k", portal=portal, ceiling=10.0, burst=1, max_wait=10,
        make_store=lambda name: stores.setdefault(name, InMemoryStateStore()), learned=learned,
    )  # fmt: skip
    budget.acquire()
    refused_at = time.monotonic()
    budget.record(limited=True)
    cut = budget.rates()[1 if portal else 0]
    assert cut == pytest.approx(0.8)
    budget.acquire()
    assert time.monotonic() - refused_at >= 1 / cut - 0.1  # 1.25 s; 1.0 s (the old slot) before the fix


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("store", ["memory", "redis", "database", "redis-burst"])
def test_defer_moves_the_next_slot_in_every_store_and_never_earlier(store):
    name = uuid.uuid4().hex[:24]
    make = {
        "memory": InMemoryStateStore,
        "redis": lambda: redis_store(name),
        "redis-burst": lambda: redis_store(name),
        "database": lambda: DatabaseStateStore(name),
    }[store]
    burst = 3 if store == "redis-burst" else 1
    budget = SharedBudget(name=name, per_second=4, burst=burst, max_wait=5, store=make())
    for _ in range(burst):
        budget.acquire()  # the burst spent: the next slot is a quarter of a second away
    asked = time.monotonic()
    budget.defer(0.8)
    budget.defer(0.1)  # earlier than the slot already set: changes nothing
    assert budget.slot_in() >= 0.8 - 0.1
    budget.acquire()
    assert time.monotonic() - asked >= 0.8 - 0.05  # from below only (0.25 s without the deferral)


def test_a_process_drops_the_budgets_left_idle_after_telling_the_store_their_calls(monkeypatch):
    from botcore.vibe import key_budgets

    monkeypatch.setattr(key_budgets, "IDLE_SECONDS", 0.3)
    monkeypatch.setattr(key_budgets, "SWEEP_SECONDS", 0.0)
    key = "vibe_app_" + uuid.uuid4().hex
    portals = [f"portal-{n}" for n in range(4)]
    budgets = [budget_for_key(key, portal=p, per_second=50, backend="local") for p in portals]
    for budget in budgets:
        for _ in range(2):  # the first call is told at once, the second held for the next flush
            assert budget.acquire()
            budget.record(limited=False)
    time.sleep(0.4)
    busy = budget_for_key(key, portal="busy", per_second=50, backend="local")
    cached = [b for b in key_budgets._budgets.values() if b.name == key_digest(key)]
    assert cached == [busy]  # a worker that served every portal once holds none of them now
    learned = LearnedState.decode(key_budgets.learned_store("local", "").read(key_digest(key)), ceiling=50)
    assert learned.count == 2 * len(portals)  # the held calls were told before their budgets went
    again = budget_for_key(key, portal=portals[0], per_second=50, backend="local")
    assert again is not budgets[0] and again.acquire()


def test_a_budget_in_use_is_kept_however_long_ago_it_was_made(monkeypatch):
    from botcore.vibe import key_budgets

    monkeypatch.setattr(key_budgets, "IDLE_SECONDS", 0.3)
    monkeypatch.setattr(key_budgets, "SWEEP_SECONDS", 0.0)
    key = "vibe_app_" + uuid.uuid4().hex
    budget = budget_for_key(key, portal="p", per_second=50, backend="local")
    for _ in range(4):
        time.sleep(0.1)
        budget.acquire()
        budget.record(limited=False)
    assert budget_for_key(key, portal="p", per_second=50, backend="local") is budget


@pytest.mark.django_db(transaction=True)
def test_a_database_budget_locked_by_another_writer_waits_out_the_lock_once_then_lets_the_call_go():
    # From an outside trial: another process held SQLite's write lock for 90 s. Each budget step took the
    # busy timeout (30 s) three times over (the step, the table made sure of, the step again), and a skill's
    # reply, its key's and its portal's budget each in turn, ran its cycle past the task queue's timeout.
    import sqlite3

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer")
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
    connection.close()
    options = connection.settings_dict["OPTIONS"]
    timeout, options["timeout"] = options.get("timeout"), 0.2
    writer = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    writes_asked: list[str] = []

    def count_writes(execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            writes_asked.append(sql)
        return execute(sql, params, many, context)

    name = uuid.uuid4().hex[:24]
    budget = SharedBudget(name=name, per_second=5, burst=1, max_wait=2, store=DatabaseStateStore(name))
    try:
        writer.execute("BEGIN IMMEDIATE")
        with connection.execute_wrapper(count_writes):
            assert budget.acquire() is True  # the store is out: the call goes, unbudgeted
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        connection.close()
        options["timeout"] = timeout
    assert writes_asked == ["BEGIN IMMEDIATE"]
