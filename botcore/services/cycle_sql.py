"""The statements made for every message, as plain SQL: the poller's hand-over lease, the cycle's lease swap
(and renewal), a batch's look-up of the events stored already, its insert and its offset, each event's
claim and outcome, a handling's ledger look-up and each action's record, the cycle's schedule, and an idle
cycle's one UPDATE (its offset, schedule and release, unless an event waits). (The reads a cycle makes for
every message with fixed shapes are compiled once instead: botcore/compiled_reads.py.)

Built with the ORM each cost 0.25-0.8 ms of Python (the claim's lease condition is a join, which Django
turns into a subquery over the event log), many times what the database takes to run it: ~1.2 ms of the
engine's CPU a message in all, about 3 % of it (README, polling benchmark). Table and column names come
from the models and values go through the fields' own adaptation for the backend, so these statements
follow a renamed column; tests/botcore/test_cycle_sql.py holds each to what the ORM's statement did, on
both backends. Like the ORM's `update()`, none sends a signal but the outcome's, which sends the save's
pre_save and post_save as the save it replaces did; an error inside an atomic block marks it for rollback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Field, Model
from django.db.models.constants import OnConflict
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from botcore.models import ActionRecord, Bot, EventLogEntry
from tenants.models import Portal
from vibeapp.sql_names import default_quoted_name


def _field(model: type[Model], name: str) -> Field:
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{model.__name__}.{name} is a relation's other side, not a field"
    return field


def _column(model: type[Model], name: str) -> str:
    return default_quoted_name(model, name)  # `connection` is the default database's


def _table(model: type[Model]) -> str:
    return default_quoted_name(model)


def _prepared(model: type[Model], name: str, value: Any) -> Any:
    return _field(model, name).get_db_prep_save(value, connection)


def _execute(sql: str, params: list[Any]) -> int:
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows `sql` answers, under the same rollback rule as _execute."""
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def update_bot(
    bot_id: int,
    values: Mapping[str, Any],
    *,
    lease_token: str | None = None,
    lease_live_at: datetime | None = None,
    count_failure: bool = False,
) -> int:
    """Set `values` (Bot field names) on one bot; how many rows changed (0 or 1).

    `lease_token`: only while that lease holds it; `lease_live_at`: only if the lease lasts past that moment;
    `count_failure`: one more consecutive failure, counted in the same statement.
    """
    sets = [f"{_column(Bot, name)} = %s" for name in values]
    params = [_prepared(Bot, name, value) for name, value in values.items()]
    if count_failure:
        failures = _column(Bot, "consecutive_failures")
        sets.append(f"{failures} = {failures} + 1")
    where, where_params = [f"{_column(Bot, 'id')} = %s"], list[Any]([bot_id])
    if lease_token is not None:
        where.append(f"{_column(Bot, 'lease_token')} = %s")
        where_params.append(lease_token)
    if lease_live_at is not None:
        where.append(f"{_column(Bot, 'lease_until')} > %s")
        where_params.append(_prepared(Bot, "lease_until", lease_live_at))
    sql = f"UPDATE {_table(Bot)} SET {', '.join(sets)} WHERE {' AND '.join(where)}"
    return _execute(sql, params + where_params)


def store_empty_batch(
    bot_id: int,
    *,
    vibe_bot_id: int,
    next_offset: int,
    values: Mapping[str, Any],
    lease_token: str | None,
    unless_pending: bool = False,
) -> int:
    """Move the bot's offset to `next_offset` unless it stands past it (never backwards: the ORM's
    Greatest, written as a CASE that reads alike on both backends) and set `values`, while the bot still
    polls `vibe_bot_id` (and, with `lease_token`, that lease holds it); how many rows changed (0 or 1).

    `unless_pending`: only if none of the bot's stored events waits to be handled, in the same statement, so
    an idle cycle asks the database once, not twice (an EXISTS read, then this). Built by the ORM, the
    read and the UPDATE cost ~0.5 ms of Python at every idle cycle, twice what the database took to run them.
    """
    offset = _column(Bot, "event_offset")
    sets = [f"{offset} = CASE WHEN {offset} < %s THEN %s ELSE {offset} END"]
    sets += [f"{_column(Bot, name)} = %s" for name in values]
    at_least = _prepared(Bot, "event_offset", next_offset)
    params = [at_least, at_least, *(_prepared(Bot, name, value) for name, value in values.items())]
    where = [f"{_column(Bot, 'id')} = %s", f"{_column(Bot, 'vibe_bot_id')} = %s"]
    params += [bot_id, vibe_bot_id]
    if lease_token is not None:
        where.append(f"{_column(Bot, 'lease_token')} = %s")
        params.append(lease_token)
    if unless_pending:
        entries = _table(EventLogEntry)
        where.append(
            f"NOT EXISTS (SELECT 1 FROM {entries} WHERE {entries}.{_column(EventLogEntry, 'bot')} = %s"
            f" AND {entries}.{_column(EventLogEntry, 'status')} = %s)"
        )
        params += [bot_id, EventLogEntry.Status.RECEIVED.value]
    return _execute(f"UPDATE {_table(Bot)} SET {', '.join(sets)} WHERE {' AND '.join(where)}", params)


def lease_free_bots(bot_ids: Sequence[int], lease_token: str, *, until: datetime, now: datetime) -> list[int]:
    """Lease those of `bot_ids` that are active and that no lease holds at `now` (never leased, or run out)
    to `lease_token` until `until`; the ids leased. One UPDATE ... RETURNING where the database has it (the
    ORM's update and a read-back of the token were two statements and ~0.5 ms of Python more)."""
    if not bot_ids:
        return []
    lease_until = _column(Bot, "lease_until")
    marks = ", ".join(["%s"] * len(bot_ids))
    sql = (
        f"UPDATE {_table(Bot)} SET {_column(Bot, 'lease_token')} = %s, {lease_until} = %s"
        f" WHERE {_column(Bot, 'id')} IN ({marks}) AND {_column(Bot, 'status')} = %s"
        f" AND ({lease_until} IS NULL OR {lease_until} < %s)"
    )
    params = [
        lease_token,
        _prepared(Bot, "lease_until", until),
        *bot_ids,
        Bot.Status.ACTIVE.value,
        _prepared(Bot, "lease_until", now),
    ]
    if not connection.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35: no RETURNING
        _execute(sql, params)
        return list(Bot.objects.filter(pk__in=bot_ids, lease_token=lease_token).values_list("pk", flat=True))
    return [row[0] for row in _fetch(f"{sql} RETURNING {_column(Bot, 'id')}", params)]


def claim_entry_row(entry: EventLogEntry, *, lease_token: str | None) -> bool:
    """Count an attempt at `entry` (and clear its retry time) if it is still received with the attempts we
    read, and, with `lease_token`, its bot is still leased to that token."""
    attempts = _column(EventLogEntry, "attempts")
    sql = (
        f"UPDATE {_table(EventLogEntry)} SET {attempts} = {attempts} + 1,"
        f" {_column(EventLogEntry, 'next_attempt_at')} = NULL"
        f" WHERE {_column(EventLogEntry, 'id')} = %s AND {_column(EventLogEntry, 'status')} = %s"
        f" AND {attempts} = %s"
    )
    params: list[Any] = [entry.pk, EventLogEntry.Status.RECEIVED.value, entry.attempts]
    if lease_token is not None:
        bot = _table(Bot)
        sql += (
            f" AND EXISTS (SELECT 1 FROM {bot} WHERE {bot}.{_column(Bot, 'id')} = %s"
            f" AND {bot}.{_column(Bot, 'lease_token')} = %s)"
        )
        params += [entry.bot_id, lease_token]
    return _execute(sql, params) == 1


# What a handled event's log entry records of its outcome (executor._finish).
ENTRY_OUTCOME_FIELDS = ("status", "skill", "error", "handled_at", "duration_ms")


def save_entry_outcome(entry: EventLogEntry) -> None:
    """Save `entry`'s ENTRY_OUTCOME_FIELDS as entry.save(update_fields=...) does, with its pre_save and
    post_save signals (ops counts a finished event on post_save), in one plain UPDATE: the save built and
    compiled a queryset's UPDATE each time, ~0.15 ms of Python a message. Like the save, DatabaseError when
    the row is gone."""
    using = entry._state.db or "default"
    update_fields = frozenset(ENTRY_OUTCOME_FIELDS)
    pre_save.send(sender=EventLogEntry, instance=entry, raw=False, using=using, update_fields=update_fields)
    sets = ", ".join(f"{_column(EventLogEntry, name)} = %s" for name in ENTRY_OUTCOME_FIELDS)
    sql = f"UPDATE {_table(EventLogEntry)} SET {sets} WHERE {_column(EventLogEntry, 'id')} = %s"
    params = [_prepared(EventLogEntry, name, getattr(entry, name)) for name in ENTRY_OUTCOME_FIELDS]
    if _execute(sql, [*params, entry.pk]) != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    entry._state.db, entry._state.adding = using, False
    post_save.send(
        sender=EventLogEntry,
        instance=entry,
        created=False,
        update_fields=update_fields,
        raw=False,
        using=using,
    )


def _from_db(model: type[Model], name: str, value: Any) -> Any:
    """`value` as read from the column of `model.name`, through the conversions the ORM's compiler applies
    (JSON text on SQLite, jsonb on PostgreSQL)."""
    column = _field(model, name).get_col(model._meta.db_table)
    for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
        value = converter(value, column, connection)
    return value


def find_stored_events(
    bot_id: int, vibe_bot_id: int, event_ids: Sequence[int], message_ids: Sequence[int]
) -> list[tuple[int, str, int | None, Any]]:
    """(vibe_event_id, event_type, message_id, payload) of the bot's events from `vibe_bot_id` stored under
    one of `event_ids` or with one of `message_ids`, by event id (store_batch). The ORM's queryset for it
    was built and compiled at every batch, ~0.5 ms of Python; its IN lists vary with the batch, so it could
    not be compiled once (botcore.compiled_reads)."""
    event_ids, message_ids = list(dict.fromkeys(event_ids)), list(dict.fromkeys(message_ids))
    if not event_ids and not message_ids:
        return []
    names = ("vibe_event_id", "event_type", "message_id", "payload")
    matches = []
    if event_ids:
        matches.append(f"{_column(EventLogEntry, 'vibe_event_id')} IN ({', '.join(['%s'] * len(event_ids))})")
    if message_ids:
        matches.append(f"{_column(EventLogEntry, 'message_id')} IN ({', '.join(['%s'] * len(message_ids))})")
    sql = (
        f"SELECT {', '.join(_column(EventLogEntry, name) for name in names)} FROM {_table(EventLogEntry)}"
        f" WHERE {_column(EventLogEntry, 'bot')} = %s AND {_column(EventLogEntry, 'vibe_bot_id')} = %s"
        f" AND ({' OR '.join(matches)}) ORDER BY {_column(EventLogEntry, 'vibe_event_id')}"
    )
    rows = _fetch(sql, [bot_id, vibe_bot_id, *event_ids, *message_ids])
    return [(event_id, event_type, message_id, _from_db(EventLogEntry, "payload", payload))
            for event_id, event_type, message_id, payload in rows]  # fmt: skip


def read_bot_values(bot_ids: Sequence[int], names: Sequence[str]) -> list[dict[str, Any]]:
    """These bots' `names` as `Bot.objects.filter(pk__in=bot_ids).values(*names)` gives them (a bot's own
    field, "pk", or its portal's as "portal__<field>"), in no order: the poller reads back the bots its cycles
    hold every FOLLOW_SECONDS while any is out, and the ORM built and compiled the read each time, ~0.3 ms of
    Python for what the database answers in a tenth of that (its IN list varies, so compiled_reads cannot
    hold it)."""
    if not bot_ids:
        return []
    bot, portal = _table(Bot), _table(Portal)
    columns, conversions = [], []
    for name in names:
        model, field = (Portal, name.removeprefix("portal__")) if name.startswith("portal__") else (Bot, name)
        field = model._meta.pk.name if field == "pk" else field
        columns.append(f"{portal if model is Portal else bot}.{_column(model, field)}")
        column = _field(model, field).get_col(model._meta.db_table)
        conversions.append(
            (column, connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        )
    sql = (
        f"SELECT {', '.join(columns)} FROM {bot} INNER JOIN {portal}"
        f" ON {bot}.{_column(Bot, 'portal')} = {portal}.{_column(Portal, 'id')}"
        f" WHERE {bot}.{_column(Bot, 'id')} IN ({', '.join(['%s'] * len(bot_ids))})"
    )
    found = []
    for row in _fetch(sql, list(bot_ids)):
        values = {}
        for name, value, (column, converters) in zip(names, row, conversions, strict=True):
            for converter in converters:  # as the ORM's compiler converts each (a datetime on SQLite)
                value = converter(value, column, connection)
            values[name] = value
        found.append(values)
    return found


def insert_entries(entries: Sequence[EventLogEntry]) -> None:
    """Insert `entries`, each one whose bot and event id are stored already left out, as the ORM's
    `bulk_create(entries, ignore_conflicts=True)` does (the backend's own words for it: INSERT OR IGNORE on
    SQLite, ON CONFLICT DO NOTHING on PostgreSQL), in the same number of statements, with no transaction of
    its own (store_batch's holds it): the ORM's built and compiled an insert of every batch, ~0.4 ms of
    Python. Like it, no signal; the entries are marked saved, their pk left unset."""
    if not entries:
        return
    # Every concrete column but the auto id, each value as the save would write it (the field's pre_save).
    fields = [f for f in EventLogEntry._meta.concrete_fields if not f.generated and not f.primary_key]
    insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)
    columns = ", ".join(_column(EventLogEntry, f.name) for f in fields)
    suffix = connection.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, (), ())
    size = max(connection.ops.bulk_batch_size(fields, entries), 1)
    row = f"({', '.join(['%s'] * len(fields))})"
    for start in range(0, len(entries), size):
        chunk = entries[start : start + size]
        sql = f"{insert} {_table(EventLogEntry)} ({columns}) VALUES {', '.join([row] * len(chunk))} {suffix}"
        params = [f.get_db_prep_save(f.pre_save(entry, True), connection) for entry in chunk for f in fields]
        _execute(sql.rstrip(), params)
    for entry in entries:
        entry._state.adding, entry._state.db = False, connection.alias


def find_action_result(bot_id: int, key: str) -> Any:
    """The result recorded for the action `key` of bot `bot_id` (the first record), None when none is."""
    sql = (
        f"SELECT {_column(ActionRecord, 'result')} FROM {_table(ActionRecord)}"
        f" WHERE {_column(ActionRecord, 'bot')} = %s AND {_column(ActionRecord, 'key')} = %s"
        f" ORDER BY {_column(ActionRecord, 'id')} LIMIT 1"
    )
    rows = _fetch(sql, [bot_id, key])
    return _from_db(ActionRecord, "result", rows[0][0]) if rows else None


def find_action_results(bot_id: int, keys: Sequence[str]) -> dict[str, Any]:
    """The results recorded for those of the actions `keys` of bot `bot_id` that are recorded, by key: one
    SELECT on the (bot, key) index for a handling's first keys (action_ledger.HandlingLedger)."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    sql = (
        f"SELECT {_column(ActionRecord, 'key')}, {_column(ActionRecord, 'result')}"
        f" FROM {_table(ActionRecord)} WHERE {_column(ActionRecord, 'bot')} = %s"
        f" AND {_column(ActionRecord, 'key')} IN ({', '.join(['%s'] * len(keys))})"
    )
    rows = _fetch(sql, [bot_id, *keys])
    return {key: _from_db(ActionRecord, "result", result) for key, result in rows}


def record_action(
    bot_id: int, key: str, result: Any, *, posted_in: str | None = None, posted_message_id: int | None = None
) -> None:
    """Record the action `key` of bot `bot_id` with `result` (a post: where it went, `posted_in` and
    `posted_message_id`), unless it is recorded already (the first record stays): one INSERT ... ON CONFLICT
    DO NOTHING, which the ORM's bulk_create wraps in a transaction of its own (three statements, and the
    write lock taken up front on SQLite)."""
    names = ("bot", "key", "result", "created_at", "posted_in", "posted_message_id")
    columns = ", ".join(_column(ActionRecord, name) for name in names)
    sql = (
        f"INSERT INTO {_table(ActionRecord)} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"
        f" ON CONFLICT ({_column(ActionRecord, 'bot')}, {_column(ActionRecord, 'key')}) DO NOTHING"
    )
    params = [
        bot_id,
        key,
        _prepared(ActionRecord, "result", result),
        _prepared(ActionRecord, "created_at", timezone.now()),
        posted_in,
        posted_message_id,
    ]
    _execute(sql, params)
