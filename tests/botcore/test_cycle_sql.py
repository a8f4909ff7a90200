"""The cycle's plain-SQL writes: each changes exactly what the ORM's statement changed, under the same
conditions, on the backend the suite runs on (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import post_save, pre_save
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from botcore.models import ActionRecord, Bot, EventLogEntry
from botcore.services.cycle_sql import (
    claim_entry_row,
    find_action_result,
    find_action_results,
    find_stored_events,
    insert_entries,
    lease_free_bots,
    record_action,
    save_entry_outcome,
    store_empty_batch,
    update_bot,
)
from tenants.models import Portal

pytestmark = pytest.mark.django_db

LEASE = "a" * 32


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(
        portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE, lease_token=LEASE,
        lease_until=timezone.now() + timedelta(seconds=60), consecutive_failures=2,
    )  # fmt: skip


def make_entry(bot: Bot, **fields) -> EventLogEntry:
    return EventLogEntry.objects.create(
        bot=bot, vibe_bot_id=7, event_type="MESSAGE_ADD", payload={"type": "MESSAGE_ADD"},
        **{"vibe_event_id": 1, "next_attempt_at": timezone.now(), **fields},
    )  # fmt: skip


def test_update_bot_writes_each_kind_of_value_as_the_orm_reads_it_back(bot):
    due = datetime(2026, 12, 4, 17, 0, 0, 123456, tzinfo=UTC)

    changed = update_bot(
        bot.pk, {"next_poll_at": due, "lease_token": "", "lease_until": None, "last_error": "boom: ünïcode"},
        lease_token=LEASE, count_failure=True,
    )  # fmt: skip

    bot.refresh_from_db()
    assert changed == 1
    assert (bot.next_poll_at, bot.lease_token, bot.lease_until) == (due, "", None)
    assert (bot.last_error, bot.consecutive_failures) == ("boom: ünïcode", 3)


def test_update_bot_changes_nothing_while_another_cycle_holds_the_lease(bot):
    changed = update_bot(bot.pk, {"lease_token": "", "last_error": "x"}, lease_token="b" * 32)

    bot.refresh_from_db()
    assert changed == 0
    assert (bot.lease_token, bot.last_error) == (LEASE, "")


def test_update_bot_takes_a_lease_only_while_it_lasts_past_the_moment_given(bot):
    ends, swap = bot.lease_until, {"lease_token": "c" * 32}

    assert update_bot(bot.pk, swap, lease_token=LEASE, lease_live_at=ends) == 0
    assert update_bot(bot.pk, swap, lease_token=LEASE, lease_live_at=ends + timedelta(days=1)) == 0
    assert update_bot(bot.pk, swap, lease_token=LEASE, lease_live_at=ends - timedelta(microseconds=1)) == 1
    bot.refresh_from_db()
    assert bot.lease_token == "c" * 32


def test_update_bot_without_a_lease_token_writes_whoever_holds_the_bot(bot):
    assert update_bot(bot.pk, {"consecutive_failures": 0}) == 1
    assert Bot.objects.get(pk=bot.pk).consecutive_failures == 0


@pytest.mark.parametrize("offset", [0, 41, 42, 43, 2**63 - 1], ids=["none", "below", "same", "above", "max"])
def test_an_empty_batchs_offset_moves_as_the_orms_greatest_moved_it_never_back(bot, offset):
    from django.db.models import F, Value
    from django.db.models.functions import Greatest

    Bot.objects.filter(pk=bot.pk).update(event_offset=42)
    polled = datetime(2026, 12, 4, 17, 0, 0, 123456, tzinfo=UTC)
    values = {"has_more": True, "last_polled_at": polled, "last_error": "ünïcode 'quoted'"}

    assert store_empty_batch(bot.pk, vibe_bot_id=7, next_offset=offset, values=values, lease_token=LEASE) == 1

    fields = (
        "event_offset",
        "has_more",
        "last_polled_at",
        "last_error",
        "lease_token",
        "consecutive_failures",
    )
    by_sql = Bot.objects.values(*fields).get(pk=bot.pk)
    Bot.objects.filter(pk=bot.pk).update(event_offset=42, has_more=False, last_polled_at=None, last_error="")
    Bot.objects.filter(pk=bot.pk).update(event_offset=Greatest(F("event_offset"), Value(offset)), **values)
    assert by_sql == Bot.objects.values(*fields).get(pk=bot.pk)
    assert by_sql["event_offset"] == max(42, offset) and by_sql["has_more"] is True


def test_an_empty_batch_is_recorded_only_while_the_bot_polls_that_platform_bot_under_that_lease(bot):
    def store(**conditions) -> int:
        given = {"vibe_bot_id": 7, "lease_token": LEASE, **conditions}
        return store_empty_batch(bot.pk, next_offset=99, values={"has_more": True}, **given)

    assert store(vibe_bot_id=8) == 0  # the bot was moved to another platform bot meanwhile
    assert store(lease_token="b" * 32) == 0  # another cycle holds it
    assert Bot.objects.values_list("event_offset", "has_more").get(pk=bot.pk) == (0, False)
    assert store(lease_token=None) == 1  # no lease (tests, shells): whoever holds it


def test_an_empty_batch_unless_pending_waits_for_the_bots_own_received_events_only(bot):
    other = Bot.objects.create(portal=bot.portal, code="o", name="O", vibe_bot_id=8)
    make_entry(other)  # another bot's event waiting: none of this one's
    handled = make_entry(bot, status=EventLogEntry.Status.HANDLED)

    def settle() -> int:
        return store_empty_batch(
            bot.pk, vibe_bot_id=7, next_offset=5, values={"lease_token": ""}, lease_token=LEASE,
            unless_pending=True,
        )  # fmt: skip

    waiting = make_entry(bot, vibe_event_id=2)
    assert settle() == 0
    assert Bot.objects.values_list("event_offset", "lease_token").get(pk=bot.pk) == (0, LEASE)
    EventLogEntry.objects.filter(pk=waiting.pk).update(status=EventLogEntry.Status.FAILED)
    assert handled.status == EventLogEntry.Status.HANDLED and settle() == 1
    assert Bot.objects.values_list("event_offset", "lease_token").get(pk=bot.pk) == (5, "")


def test_a_claim_counts_one_attempt_and_clears_the_retry_time(bot):
    entry = make_entry(bot)

    assert claim_entry_row(entry, lease_token=LEASE) is True

    entry.refresh_from_db()
    assert (entry.attempts, entry.next_attempt_at) == (1, None)


def test_a_claim_with_the_attempts_another_cycle_already_counted_fails(bot):
    entry = make_entry(bot)
    stale = EventLogEntry.objects.get(pk=entry.pk)
    assert claim_entry_row(entry, lease_token=LEASE)

    assert claim_entry_row(stale, lease_token=LEASE) is False
    assert EventLogEntry.objects.get(pk=entry.pk).attempts == 1


def test_a_claim_of_an_entry_no_longer_received_fails(bot):
    entry = make_entry(bot, status=EventLogEntry.Status.HANDLED)

    assert claim_entry_row(entry, lease_token=LEASE) is False
    assert EventLogEntry.objects.get(pk=entry.pk).attempts == 0


def test_a_claim_fails_once_the_bot_is_leased_to_another_cycle_and_ignores_the_lease_without_a_token(bot):
    entry = make_entry(bot)
    Bot.objects.create(portal=bot.portal, code="o", name="O", lease_token="b" * 32)
    assert claim_entry_row(entry, lease_token="b" * 32) is False  # another bot's lease is none on this one
    Bot.objects.filter(pk=bot.pk).update(lease_token="b" * 32)

    assert claim_entry_row(entry, lease_token=LEASE) is False
    assert claim_entry_row(entry, lease_token=None) is True
    assert EventLogEntry.objects.get(pk=entry.pk).attempts == 1


def test_a_failed_statement_inside_an_atomic_block_marks_it_for_rollback(bot):
    with pytest.raises(DatabaseError), transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(last_error="written first")
        with pytest.raises(DatabaseError):
            update_bot(bot.pk, {"code": None})  # NOT NULL: the database refuses
        assert transaction.get_rollback()
        Bot.objects.filter(pk=bot.pk).update(last_error="after")  # the block is broken: refused

    assert Bot.objects.get(pk=bot.pk).last_error == ""


@pytest.mark.parametrize(
    ("event_ids", "message_ids"),
    [([1], []), ([1, 2, 9], [40]), ([9], [40, 41, 40]), ([], [41]), ([], []), ([5, 3, 5], [])],
)
def test_the_events_stored_already_are_found_as_the_orms_queryset_finds_them(bot, event_ids, message_ids):
    """store_batch's look-up (plain SQL, as its IN lists vary with the batch) against the queryset it
    replaced: the same rows in the same order, the payload read back as the JSON column reads it, per bot and
    per platform bot."""
    payload = {"text": "ünïcode \u2028 'quoted'", "nested": [1, None, 2.5], "n": 10**15}
    other = Bot.objects.create(portal=bot.portal, code="o", name="O")
    rows = [(bot, 7, 1, None), (bot, 7, 2, 40), (bot, 7, 3, 41), (bot, 7, 5, 41), (bot, 7, 7, 40)]
    rows += [(bot, 8, 2, 40), (other, 7, 1, 41)]  # another platform bot's, another bot's
    for owner, vibe_bot_id, event_id, message_id in rows:
        EventLogEntry.objects.create(
            bot=owner, vibe_bot_id=vibe_bot_id, vibe_event_id=event_id, message_id=message_id,
            event_type="ONIMBOTV2MESSAGEADD", payload={**payload, "event": event_id},
        )  # fmt: skip
    stored = Q(vibe_event_id__in=event_ids) | Q(message_id__in=message_ids)
    expected = list(
        EventLogEntry.objects.filter(stored, bot=bot, vibe_bot_id=7)
        .order_by("vibe_event_id")
        .values_list("vibe_event_id", "event_type", "message_id", "payload")
    )

    found = find_stored_events(bot.pk, 7, event_ids, message_ids)

    assert found == expected
    assert [row[0] for row in found] == sorted(row[0] for row in found)


def test_a_batch_is_inserted_as_the_orms_bulk_create_inserts_it_leaving_out_the_stored_ones(bot):
    """store_batch's insert (plain SQL) against bulk_create(ignore_conflicts=True): the same rows, an event
    the log holds already left as it is (not an error), a batch longer than one statement's parameters allow
    on SQLite in several statements, no transaction of its own."""
    received = datetime(2026, 12, 7, 20, 0, 0, 123456, tzinfo=UTC)

    def entry(event_id: int, **fields) -> EventLogEntry:
        return EventLogEntry(
            bot=bot, vibe_bot_id=7, vibe_event_id=event_id, event_type="ONIMBOTV2MESSAGEADD",
            payload={"text": f"ünïcode {event_id} \u2028", "n": [1, None]}, received_at=received,
            message_id=event_id * 10, occurred_at=received - timedelta(seconds=1), **fields,
        )  # fmt: skip

    EventLogEntry.objects.bulk_create([entry(2, skill="kept")])
    batch = [entry(number) for number in range(1, 151)] + [entry(1000, status="malformed", error="bad")]
    with CaptureQueriesContext(connection) as statements:
        insert_entries(batch)

    assert not any("SAVEPOINT" in q["sql"] or "BEGIN" in q["sql"] for q in statements.captured_queries)
    assert all(not e._state.adding and e.pk is None for e in batch)
    fields = ("vibe_bot_id", "event_type", "payload", "status", "error", "attempts", "timed_out_attempts")
    fields += ("next_attempt_at", "occurred_at", "received_at", "handled_at", "duration_ms", "message_id")

    def stored_rows() -> dict[int, list]:
        return {
            e.vibe_event_id: [getattr(e, f) for f in fields] for e in EventLogEntry.objects.filter(bot=bot)
        }

    stored = stored_rows()
    assert sorted(stored) == [*range(1, 151), 1000]
    assert (
        EventLogEntry.objects.get(bot=bot, vibe_event_id=2).skill == "kept"
    )  # stored already: left as it was
    assert stored == {e.vibe_event_id: [getattr(e, f) for f in fields] for e in batch}
    EventLogEntry.objects.filter(bot=bot).delete()
    EventLogEntry.objects.bulk_create(batch, ignore_conflicts=True)  # the ORM's, for the same entries
    assert stored_rows() == stored


@pytest.mark.parametrize(
    "result", [{"id": 9}, {"done": False}, {"text": "ünïcode \u2028 'quoted'", "nested": [1, None, 2.5]}, {}]
)
def test_an_action_recorded_reads_back_as_the_orm_reads_it(bot, result):
    assert find_action_result(bot.pk, "3:5:react:1") is None

    record_action(bot.pk, "3:5:react:1", result)

    assert find_action_result(bot.pk, "3:5:react:1") == result
    assert ActionRecord.objects.get(bot=bot, key="3:5:react:1").result == result
    assert ActionRecord.objects.get(bot=bot, key="3:5:react:1").created_at is not None


def test_an_action_recorded_twice_keeps_its_first_result_and_is_per_bot(bot):
    other = Bot.objects.create(portal=bot.portal, code="o", name="O")
    record_action(bot.pk, "key", {"id": 1})

    record_action(bot.pk, "key", {"id": 2})  # a second attempt's record: no error, the first stays
    record_action(other.pk, "key", {"id": 3})

    assert find_action_result(bot.pk, "key") == {"id": 1}
    assert find_action_result(other.pk, "key") == {"id": 3}
    assert ActionRecord.objects.filter(key="key").count() == 2


def test_a_handlings_actions_read_together_are_the_orms_rows_of_those_keys_of_the_bot(bot):
    other = Bot.objects.create(portal=bot.portal, code="o", name="O")
    record_action(bot.pk, "3:5:react:1", {"done": True})
    record_action(bot.pk, "reply", {"id": 9, "posted_in": "chat5"}, posted_in="chat5", posted_message_id=9)
    record_action(other.pk, "3:5:state:1", {"dialog": "12"})

    found = find_action_results(bot.pk, ["3:5:react:1", "reply", "3:5:state:1", "reply"])

    orm = ActionRecord.objects.filter(bot=bot, key__in=["3:5:react:1", "reply", "3:5:state:1"])
    assert found == dict(orm.values_list("key", "result"))
    assert found == {"3:5:react:1": {"done": True}, "reply": {"id": 9, "posted_in": "chat5"}}
    assert ActionRecord.objects.values_list("posted_in", "posted_message_id").get(key="reply") == ("chat5", 9)
    assert find_action_results(bot.pk, []) == {}


def test_an_action_recorded_inside_an_atomic_block_goes_with_it(bot):
    with pytest.raises(RuntimeError), transaction.atomic():
        record_action(bot.pk, "state-write", {"done": True})
        assert find_action_result(bot.pk, "state-write") == {"done": True}
        raise RuntimeError("the state write failed")

    assert find_action_result(bot.pk, "state-write") is None


@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "update-then-read"])
def test_a_hand_over_leases_exactly_the_active_bots_lease_is_free_calls_free(bot, returning, monkeypatch):
    from django.db import connection

    from botcore.selectors import lease_is_free

    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", returning)
    now = timezone.now()
    spread = {
        "held": {"lease_token": "h" * 32, "lease_until": now + timedelta(seconds=5)},
        "ran out": {"lease_token": "r" * 32, "lease_until": now - timedelta(seconds=1)},
        "ends now": {"lease_token": "e" * 32, "lease_until": now},
        "never leased": {"lease_token": "", "lease_until": None},
        "paused": {"status": Bot.Status.PAUSED},
        "broken": {"status": Bot.Status.BROKEN, "lease_until": None},
    }
    made = {
        name: Bot.objects.create(
            portal=bot.portal, code=name, name=name, **{"status": Bot.Status.ACTIVE, **fields}
        ).pk
        for name, fields in spread.items()
    }
    free = set(
        Bot.objects.filter(lease_is_free(now), pk__in=made.values(), status=Bot.Status.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    until = now + timedelta(seconds=30)

    leased = lease_free_bots([*made.values()], "n" * 32, until=until, now=now)

    assert set(leased) == free == {made["ran out"], made["never leased"]}
    for pk in made.values():
        row = Bot.objects.get(pk=pk)
        assert (row.lease_token == "n" * 32) == (pk in free)
        assert (row.lease_until == until) == (pk in free)
    assert lease_free_bots([], "n" * 32, until=until, now=now) == []


def test_the_bots_whose_cycles_died_with_their_workers_are_handed_back_with_their_backoff_not_their_lease(
    bot,
):
    """From two outside trials: a qcluster worker killed mid-cycle (the OOM killer, a kill -9) restarts the
    cluster's processes, and the bots its cycles held waited out their leases, two minutes of silence for
    those portals. A cycle's lease token names its host and process; the restarted cluster hands those
    bots back at once, due after the backoff their cycles recorded as they started (a cycle that kills its
    worker every time still backs off), and leaves the cycles of other processes alone."""
    from botcore import conf
    from botcore.services.polling import release_cycles_of, take_cycle_lease
    from botcore.worker_liveness import worker_lease_prefix

    token = take_cycle_lease(bot.pk, LEASE, backoff=3.0)
    assert token is not None and token.startswith(worker_lease_prefix()) and len(token) <= 36
    portal = Portal.objects.create(member_id="m2", vibe_portal_id="p2", domain="beta.bitrix24.com")
    elsewhere = Bot.objects.create(
        portal=portal, code="b", name="B", vibe_bot_id=8, status=Bot.Status.ACTIVE,
        # Process 1's token as new_worker_lease_token makes one: the column's 36 characters (PostgreSQL
        # refuses more; SQLite kept a longer one, which hid a prefix grown longer).
        lease_token=(worker_lease_prefix(1) + "f" * 36)[:36],
        lease_until=timezone.now() + timedelta(seconds=60),
    )  # fmt: skip

    assert release_cycles_of([os.getpid()]) == 1

    bot.refresh_from_db()
    assert bot.lease_token == "" and bot.lease_until is None
    assert (
        bot.next_poll_at
        <= timezone.now() + timedelta(seconds=3.5)
        < timezone.now() + timedelta(seconds=conf.lease_seconds())
    )
    assert bot.consecutive_failures == 3  # the death counted, as the lease's end would have counted it
    elsewhere.refresh_from_db()
    assert elsewhere.lease_until is not None and elsewhere.lease_token.startswith(worker_lease_prefix(1))


def test_an_entrys_outcome_is_saved_and_signalled_as_the_orms_save_of_those_fields(bot):
    """ops counts a finished event on post_save (ops.receivers.count_finished_event): the same signals, with
    the same arguments, and the same row as entry.save(update_fields=...)."""
    signalled: list[tuple[str, dict]] = []

    def hear(signal: str):
        def receiver(sender, instance, **kwargs):
            signalled.append((signal, {"sender": sender, "pk": instance.pk, **kwargs}))

        return receiver

    on_pre, on_post = hear("pre_save"), hear("post_save")
    pre_save.connect(on_pre, sender=EventLogEntry, weak=False)
    post_save.connect(on_post, sender=EventLogEntry, weak=False)
    by_orm = make_entry(bot)
    by_sql = make_entry(bot, vibe_event_id=2, next_attempt_at=by_orm.next_attempt_at)
    handled_at = datetime(2026, 12, 4, 17, 0, 0, 123456, tzinfo=UTC)
    try:
        for entry in (by_orm, by_sql):
            entry.status, entry.skill, entry.error = EventLogEntry.Status.HANDLED, "echo", "ünïcode 'quoted'"
            entry.handled_at, entry.duration_ms = handled_at, 12
        signalled.clear()
        by_orm.save(update_fields=["status", "skill", "error", "handled_at", "duration_ms"])
        orm_signals = [(name, {**kwargs, "pk": None}) for name, kwargs in signalled]
        signalled.clear()
        save_entry_outcome(by_sql)
        sql_signals = [(name, {**kwargs, "pk": None}) for name, kwargs in signalled]
    finally:
        pre_save.disconnect(on_pre, sender=EventLogEntry)
        post_save.disconnect(on_post, sender=EventLogEntry)

    assert sql_signals == orm_signals and [name for name, _ in sql_signals] == ["pre_save", "post_save"]
    fields = (
        "status",
        "skill",
        "error",
        "handled_at",
        "duration_ms",
        "attempts",
        "next_attempt_at",
        "payload",
    )
    rows = EventLogEntry.objects.order_by("vibe_event_id").values(*fields)
    assert rows[0] == rows[1] and rows[0]["handled_at"] == handled_at
    EventLogEntry.objects.filter(pk=by_sql.pk).delete()
    with pytest.raises(DatabaseError):
        save_entry_outcome(by_sql)  # as the ORM's save with update_fields of a row that is gone


def test_the_names_are_quoted_once_per_backend_not_at_each_statement(bot, monkeypatch):
    """Every claim, outcome and lease write of every message looked each of its columns up in the model and
    quoted it again; vibeapp/sql_names.py reads them once per backend (the ORM broker's statements too)."""

    def write() -> None:
        update_bot(bot.pk, {"last_error": "boom"}, lease_token=LEASE, count_failure=True)

    write()  # the names read, once
    quote = connection.ops.quote_name
    quoted: list[str] = []
    monkeypatch.setattr(connection.ops, "quote_name", lambda name: quoted.append(name) or quote(name))
    write()
    assert quoted == []
    bot.refresh_from_db()
    assert (bot.last_error, bot.consecutive_failures) == ("boom", 4)


def test_the_bots_the_poller_reads_back_are_the_orms_values_and_compile_nothing(bot, monkeypatch):
    """The poller reads back the bots its cycles hold every FOLLOW_SECONDS while any is out: the ORM built
    and compiled that read each time (poller_fleet.read_bots)."""
    from django.db.models.sql.compiler import SQLCompiler

    from botcore.poller_fleet import _FIELDS, read_bots
    from botcore.services.cycle_sql import read_bot_values

    portal = Portal.objects.create(member_id="m2", vibe_portal_id="p2", domain="beta.bitrix24.com")
    moment = datetime(2026, 12, 4, 17, 0, 0, 123456, tzinfo=UTC)
    other = Bot.objects.create(
        portal=portal, code="o", name="O", vibe_bot_id=None, status=Bot.Status.PAUSED, event_offset=2**63 - 1,
        next_poll_at=moment, backoff_until=moment, last_event_at=moment, app_key_digest="d" * 16,
    )  # fmt: skip
    ids = [bot.pk, other.pk, other.pk + 1000]  # one gone: left out, as the ORM leaves it

    by_sql = sorted(read_bot_values(ids, _FIELDS), key=lambda values: values["pk"])

    assert by_sql == list(Bot.objects.filter(pk__in=ids).order_by("pk").values(*_FIELDS))
    assert by_sql[1]["portal__member_id"] == "m2" and by_sql[1]["backoff_until"] == moment
    assert read_bot_values([], _FIELDS) == []
    compiled: list[str] = []
    real = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append("read") or real(self, *a, **k)
    )
    rows = read_bots(ids)
    assert compiled == []
    assert sorted(rows) == [bot.pk, other.pk] and rows[bot.pk].leased and not rows[other.pk].active


def test_a_statements_names_do_not_ask_the_connection_its_backend_each_time(bot, monkeypatch):
    """django.db.connection is a per-thread proxy: its vendor, asked for every quoted name (~90 a one-message
    cycle), cost ~5 µs each, more than the rest of the name's look-up. The default database's backend is the
    process's for good (vibeapp.sql_names.default_quoted_name)."""
    from django.utils.connection import ConnectionProxy

    def write() -> None:
        update_bot(bot.pk, {"last_error": "boom", "has_more": True, "name": "B2"}, lease_token=LEASE)

    write()  # the names read, once
    asked: list[str] = []
    real = ConnectionProxy.__getattr__
    monkeypatch.setattr(
        ConnectionProxy, "__getattr__", lambda self, item: asked.append(item) or real(self, item)
    )
    write()
    assert "vendor" not in asked
    assert Bot.objects.values_list("last_error", "has_more", "name").get(pk=bot.pk) == ("boom", True, "B2")
