"""Storing a batch of platform events in the event log with the bot's new offset, whatever the events hold.

What is stored is what the client read (botcore.vibe.parse.read_event_batch): each event's id, type and date
as parsed, its payload as received (`event.raw`) but for its secrets, and the items it could not read with
its reason. Whoever handles a stored event reads the payload back with botcore.vibe.parse.parse_event.

A secret a payload carries (an imbot webhook's `auth` block, a token in a file link's query, a field named
as a credential: ops.redaction) is written <redacted> before the insert, so no page, answer or log line that
shows an entry can show it. Nothing a skill does needs one: it acts with the app's own credentials, and reads
a file by its id (get_file_download_url: a link of its own, fetched when it handles the event).

The offset is the platform's acknowledgement, so it moves only in the transaction that stores the events
below it; and it must always move, or one bad event stops the bot for good. Every item is therefore
cleaned before the insert (PostgreSQL refuses U+0000 in text and JSON, integers past 64 bits, and deeply
nested JSON), and an item that still cannot be stored as it came is stored as MALFORMED with its raw text
kept, escaped, for an operator.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from botcore.compiled_reads import CompiledRead
from botcore.models import Bot, BotChat, BotCommand, EventLogEntry
from botcore.services.cycle_sql import find_stored_events, insert_entries, store_empty_batch, update_bot
from botcore.vibe.coerce import replace_lone_surrogates
from botcore.vibe.errors import VibeError
from botcore.vibe.events import BotEvent, CommandAddEvent, EventType
from botcore.vibe.models import EventBatch
from botcore.vibe.parse import MAX_OFFSET, parse_event
from ops.metrics import record_events_stored
from ops.redaction import redact, redact_payload

log = logging.getLogger(__name__)

BIGINT_MAX = MAX_OFFSET  # the platform's int64 ids and offsets are the event log's BIGINT columns
MAX_DEPTH = 64  # far beyond any event the platform documents, far below what breaks a JSON column
MAX_RAW_TEXT = 65_536


class UnstorableEventError(ValueError):
    """An event item that cannot be kept as the platform sent it."""


def clean_json(value: Any, *, depth: int = 0) -> Any:
    """`value` as JSON every supported database stores: NUL and lone surrogates in strings as U+FFFD,
    integers beyond 64 bits as strings, non-finite floats as strings. Raises UnstorableEventError past
    MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise UnstorableEventError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        # What no database's text or JSON keeps: NUL, and a lone surrogate, which PostgreSQL refused (the
        # event, a message to answer, was kept only as MALFORMED).
        text = value.replace("\x00", "\ufffd")
        return text if text.isascii() else replace_lone_surrogates(text)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -BIGINT_MAX - 1 <= value <= BIGINT_MAX else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Mapping):
        return {clean_json(str(k), depth=depth + 1): clean_json(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v, depth=depth + 1) for v in value]
    return clean_json(str(value), depth=depth + 1)


def raw_text(item: Any) -> str:
    """The item as text an operator can read, escaped so that any database keeps it (NUL as \\u0000)."""
    try:
        text = json.dumps(item, ensure_ascii=True, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(item)
    return text.replace("\x00", "\\u0000")[:MAX_RAW_TEXT]


def _synthetic_id(raw: str, *, read_at: int | None) -> int:
    """A negative id for an item without a usable id, the same for the same item read at the same offset: an
    item that moves the offset nowhere comes again at the next poll, and under a fresh id each time it was
    one more row at every cycle (a trial's proxy: 18 rows for two events in 20 s). Read at another offset,
    the same text is another item."""
    digest = hashlib.sha256(f"{read_at}:{raw}".encode()).digest()
    return -(int.from_bytes(digest[:8], "big") % 10**15) - 1


def _malformed_entry(
    bot: Bot, vibe_bot_id: int | None, item: Any, reason: str, *, event_id: int = -1
) -> EventLogEntry:
    """A MALFORMED entry, under the event's own id where it has a storable one (an operator finds it by it,
    and a redelivery of it is known), else under a synthetic one (_synthetic_id, at the bot's offset); its
    secrets redacted, in the raw text and in the reason."""
    try:
        text = redact(raw_text(redact_payload(item)), ours=False)
    except RecursionError:  # nested past what a walk can follow: its text alone, redacted as text is
        text = redact(raw_text(item))
    if not 0 <= event_id <= BIGINT_MAX:
        event_id = _synthetic_id(text, read_at=bot.event_offset)
    return EventLogEntry(
        bot=bot, vibe_bot_id=vibe_bot_id, vibe_event_id=event_id, event_type="MALFORMED",
        payload={"raw_text": text}, status=EventLogEntry.Status.MALFORMED, error=redact(reason)[:4000],
    )  # fmt: skip


def build_entry(bot: Bot, vibe_bot_id: int | None, event: BotEvent) -> EventLogEntry:
    """The log entry for one event the client read: its payload cleaned and its secrets redacted, or a
    MALFORMED entry saying why the database could not keep it (an id beyond 64 bits, nesting too deep)."""
    if not 0 <= event.event_id <= BIGINT_MAX:
        return _malformed_entry(
            bot, vibe_bot_id, event.raw, f"eventId is not an integer in 0..2^63-1: {event.event_id!r:.80}"
        )
    try:
        payload = redact_payload(clean_json(event.raw))
    except (UnstorableEventError, RecursionError) as error:
        return _malformed_entry(
            bot, vibe_bot_id, event.raw, f"event {event.event_id}: {error}", event_id=event.event_id
        )
    # The type as the stored payload reads back (cleaned): a NUL in an unknown type's name made PostgreSQL
    # refuse the whole batch, and the event was kept as MALFORMED.
    event_type = clean_json(str(event.type))[:64]
    return EventLogEntry(
        bot=bot, vibe_bot_id=vibe_bot_id, vibe_event_id=event.event_id, event_type=event_type,
        payload=payload, occurred_at=event.date, message_id=added_message_id(event),
    )  # fmt: skip


# Events that add a message: each message is added once, whatever event ids carry it.
MESSAGE_ADDING = (EventType.MESSAGE_ADD, EventType.COMMAND_ADD)
# Where a COMMANDADD comes from a press (EventCommand.context), not from a message the person typed.
PRESSES = frozenset({"keyboard", "menu"})


def added_message_id(event: BotEvent) -> int | None:
    """The person's message `event` adds, if it names one within 64 bits: a MESSAGEADD's, or a typed
    COMMANDADD's. A press of a keyboard button or a menu item adds none: its event names the bot's message
    that holds the keyboard, the same for every press, so presses are told apart by their event ids alone
    (an outside trial's poll counted only its first vote)."""
    if event.type not in MESSAGE_ADDING:
        return None
    if isinstance(event, CommandAddEvent) and event.command.context in PRESSES:
        return None
    message_id = getattr(getattr(event, "message", None), "id", 0)
    return message_id if isinstance(message_id, int) and 0 < message_id <= BIGINT_MAX else None


def command_in(payload: Any) -> str:
    """Which command of its message a stored COMMANDADD carries ("" for any other event): a message holding
    several commands raises one event each (CONTRACT 7.2), and those are not duplicates of each other."""
    data = payload.get("data") if isinstance(payload, dict) else None
    command = data.get("command") if isinstance(data, dict) else None
    if not isinstance(command, dict):
        return ""
    return json.dumps([command.get("id"), command.get("command"), command.get("params")], default=str)


MessageKey = tuple[str, int, str]  # event type, the message it adds, the command of it (command_in)


def _mark_duplicates(fresh: list[EventLogEntry], known_messages: dict[MessageKey, int]) -> None:
    """Keep as IGNORED each fresh entry adding a message already added, by a stored entry or an earlier one
    of the batch, under another event id (the platform redelivering it): its skill must not answer twice.
    Also a MESSAGEADD of a message a typed COMMANDADD adds, stored or anywhere in the batch, before or after
    it: a platform may raise both for one typed command, and the command's answer is the message's reply."""
    commands = {
        message_id: event_id
        for (event_type, message_id, _command), event_id in known_messages.items()
        if event_type == EventType.COMMAND_ADD
    }
    for entry in fresh:
        if entry.message_id is not None and entry.event_type == EventType.COMMAND_ADD:
            commands.setdefault(entry.message_id, entry.vibe_event_id)
    for entry in fresh:
        if entry.message_id is None or entry.status != EventLogEntry.Status.RECEIVED:
            continue
        if entry.event_type == EventType.MESSAGE_ADD and entry.message_id in commands:
            entry.status = EventLogEntry.Status.IGNORED
            entry.error = f"message {entry.message_id} is the command of event {commands[entry.message_id]}"
            log.info("bot=%s: event %s %s", entry.bot_id, entry.vibe_event_id, entry.error)
            continue
        key = (entry.event_type, entry.message_id, command_in(entry.payload))
        first = known_messages.setdefault(key, entry.vibe_event_id)
        if first != entry.vibe_event_id:
            entry.status = EventLogEntry.Status.IGNORED
            entry.error = f"duplicate of event {first}: message {entry.message_id} under another event id"
            log.warning("bot=%s: event %s %s", entry.bot_id, entry.vibe_event_id, entry.error)


def _ignore_stored_messages_of_commands(bot: Bot, vibe_bot_id: int, fresh: list[EventLogEntry]) -> None:
    """A stored MESSAGEADD not tried yet whose typed COMMANDADD came in this batch: ignored, as one in the
    same batch is (_mark_duplicates). A batch may end between the two (awaits_its_command holds it)."""
    commands: dict[int | None, int] = {
        entry.message_id: entry.vibe_event_id
        for entry in fresh
        if entry.event_type == EventType.COMMAND_ADD
        and entry.message_id is not None
        and entry.status == EventLogEntry.Status.RECEIVED
    }
    if not commands:
        return
    waiting = EventLogEntry.objects.filter(
        bot=bot, vibe_bot_id=vibe_bot_id, event_type=EventType.MESSAGE_ADD, message_id__in=list(commands),
        status=EventLogEntry.Status.RECEIVED, attempts=0,
    )  # fmt: skip
    for entry_id, event_id, message_id in waiting.values_list("pk", "vibe_event_id", "message_id"):
        error = f"message {message_id} is the command of event {commands[message_id]}"
        EventLogEntry.objects.filter(pk=entry_id).update(status=EventLogEntry.Status.IGNORED, error=error)
        log.info("bot=%s: event %s %s", bot.pk, event_id, error)


# How long a message naming one of the bot's commands, with more events behind it on the platform, waits for
# the COMMANDADD a platform may raise after it (dialect `command-message`) before it is handled alone.
COMMAND_EVENT_WAIT = timedelta(seconds=30)


def awaits_its_command(entry: EventLogEntry, bot: Bot) -> bool:
    """Whether `entry`, a MESSAGEADD whose first word is one of the bot's commands ("/ping"), waits for the
    platform's next batch before it is handled. A platform raising both events for a typed command can end a
    batch between them: handled alone, the message was echoed and the command answered in the next cycle,
    two replies to one message. It waits only while the platform says more events follow, at most
    COMMAND_EVENT_WAIT; its COMMANDADD, when it comes, has it ignored
    (_ignore_stored_messages_of_commands)."""
    if entry.event_type != EventType.MESSAGE_ADD or entry.message_id is None:
        return False
    data = entry.payload.get("data") if isinstance(entry.payload, dict) else None
    message = data.get("message") if isinstance(data, dict) else None
    text = message.get("text") if isinstance(message, dict) else None
    words = text.split(maxsplit=1) if isinstance(text, str) else []
    if not words or len(words[0]) < 2 or not words[0].startswith("/"):
        return False
    if timezone.now() - entry.received_at > COMMAND_EVENT_WAIT:
        return False
    if not Bot.objects.filter(pk=bot.pk, has_more=True).exists():
        return False
    return BotCommand.objects.filter(bot=bot, command__iexact=words[0][1:]).exists()


def build_entries(bot: Bot, vibe_bot_id: int | None, batch: EventBatch) -> list[EventLogEntry]:
    """Every item of the batch as an entry: the events by id (they rise per bot, CONTRACT A §8; a platform
    listing a batch newest first had its replies posted in reverse), then the items the client could not
    read, each MALFORMED with the client's reason."""
    events = sorted(batch.events, key=lambda event: event.event_id)
    entries = [build_entry(bot, vibe_bot_id, event) for event in events]
    entries += [
        _malformed_entry(bot, vibe_bot_id, m.item, m.reason, event_id=m.event_id) for m in batch.malformed
    ]
    return entries


def _one_per_id(entries: list[EventLogEntry]) -> list[EventLogEntry]:
    """The first entry of each event id. A batch may give one id twice (an item repeated, or two unreadable
    items alike, under one synthetic id): the insert kept one row, and the cycle counted both as new."""
    first: dict[int, EventLogEntry] = {}
    for entry in entries:
        kept = first.setdefault(entry.vibe_event_id, entry)
        if kept is not entry and kept.payload != entry.payload:
            log.warning(
                "bot=%s: event %s came twice in one batch, each time with another payload: the first is kept",
                entry.bot_id, entry.vibe_event_id,
            )  # fmt: skip
    return list(first.values())


def _say_other_events_under_stored_ids(
    entries: list[EventLogEntry], known: dict[int, tuple[str, Any]]
) -> None:
    """A WARNING for each entry whose id the log already holds with another event (`known`: each stored id's
    type and payload): the stored one is kept, since it was acted on, where the other was dropped without a
    word. A redelivery of the same event is no news, nor one the database refused before (kept MALFORMED, its
    payload the raw text: nothing to compare). Never what either event says, only the ids and types."""
    for entry in entries:
        stored = known.get(entry.vibe_event_id)
        if stored is None or stored[1] == entry.payload:
            continue
        stored_type, _payload = stored
        if stored_type == "MALFORMED" and entry.status != EventLogEntry.Status.MALFORMED:
            continue
        log.warning(
            "bot=%s: event %s came again as another event (%s, stored as %s): the stored one is kept",
            entry.bot_id, entry.vibe_event_id, entry.event_type, stored_type,
        )  # fmt: skip


def _bot_to_lock(bot_id: int) -> QuerySet[Bot]:
    query = Bot.objects.filter(pk=bot_id).only("id", "vibe_bot_id", "event_offset", "lease_token")
    return query.select_for_update() if connection.features.has_select_for_update else query


_BOT_TO_LOCK = CompiledRead(_bot_to_lock)


def _lock_bot(bot_id: int) -> Bot:
    """The bot, locked where the database can, with only what storing a batch reads of it."""
    return _BOT_TO_LOCK.get(bot_id=bot_id)


def _insert(entries: list[EventLogEntry]) -> None:
    """Insert the batch at once; if the database still refuses it, one by one, a refused one as MALFORMED."""
    try:
        with transaction.atomic():
            insert_entries(entries)
        return
    except DatabaseError as error:
        log.warning("event batch refused by the database, storing one by one: %s", type(error).__name__)
    for entry in entries:
        try:
            with transaction.atomic():
                insert_entries([entry])
        except DatabaseError as error:
            log.error(
                "bot=%s event=%s kept as malformed: the database refused it",
                entry.bot_id,
                entry.vibe_event_id,
            )
            reason = f"refused by the database: {refusal_reason(error)}"
            fallback = _malformed_entry(
                entry.bot, entry.vibe_bot_id, entry.payload, reason, event_id=entry.vibe_event_id
            )
            with transaction.atomic():
                EventLogEntry.objects.bulk_create([fallback])


def _keep_joined_chats(bot: Bot, vibe_bot_id: int, fresh: list[EventLogEntry], *, now: datetime) -> None:
    """Keep the group chats the batch's ONIMBOTV2JOINCHAT events added the bot to (models.BotChat), past the
    event log's retention. Best effort: a refusal loses that row, never the batch and its offset."""
    joined: dict[str, BotChat] = {}
    for entry in fresh:
        if entry.event_type != EventType.JOIN_CHAT or entry.status == EventLogEntry.Status.MALFORMED:
            continue
        try:
            # The stored payload, not the batch's typed event: that holds the text as it came (a NUL, a lone
            # surrogate), which the database or its driver refuses; this reads as the handling will.
            chat = getattr(parse_event(entry.payload), "chat", None)
        except (VibeError, ValueError, TypeError):
            continue  # the parser refuses it: it names no chat (and is recorded as failed when handled)
        if chat is None or not chat.dialog_id.startswith("chat") or len(chat.dialog_id) > 64:
            continue  # a private dialog: the new bot writes to a person unadded
        joined[chat.dialog_id] = BotChat(
            bot=bot, vibe_bot_id=vibe_bot_id, dialog_id=chat.dialog_id, name=chat.name[:255], joined_at=now
        )
    if not joined:
        return  # every batch of messages alone: no statement
    try:
        with transaction.atomic():
            BotChat.objects.bulk_create(
                list(joined.values()),
                update_conflicts=True,
                unique_fields=["bot", "vibe_bot_id", "dialog_id"],
                update_fields=["name", "joined_at"],
            )
    except DatabaseError as error:
        log.warning("bot=%s: the chats it joined not kept: %s", bot.pk, refusal_reason(error))


def refusal_reason(error: DatabaseError) -> str:
    """What kind of refusal `error` is and which field it names, when the driver tells: never the database's
    own text, which quotes the value it refused (PostgreSQL's "CONTEXT: JSON data, line 1: ..." quoted a
    person's message, or a secret in it, into the event log's error column)."""
    cause = error.__cause__  # the driver's error: psycopg's names its SQLSTATE and its diagnostics' fields
    diag = getattr(cause, "diag", None)
    kinds = [type(cause).__name__] if cause is not None else []
    if sqlstate := getattr(cause, "sqlstate", None):
        kinds.append(f"SQLSTATE {sqlstate}")
    elif sqlite_name := getattr(cause, "sqlite_errorname", None):  # SQLite's own: SQLITE_CONSTRAINT_NOTNULL
        kinds.append(sqlite_name)
    reason = f"{type(error).__name__} ({', '.join(kinds)})" if kinds else type(error).__name__
    field = getattr(diag, "column_name", None)
    if not field and "JSON" in (getattr(diag, "context", None) or ""):
        field = "payload"  # the one JSON column: the refusal's context says it read JSON, and quotes it
    if field:
        reason += f" in its {field}"
    if constraint := getattr(diag, "constraint_name", None):
        reason += f" (constraint {constraint})"
    return reason


def record_empty_batch(
    bot_id: int,
    batch: EventBatch,
    *,
    vibe_bot_id: int,
    lease_token: str | None,
    now: datetime,
    also: Mapping[str, Any] | None = None,
    unless_pending: bool = False,
) -> bool:
    """What an empty batch changes on its bot, in one conditional UPDATE (most polls are empty: no lock, no
    lookup, no transaction): the offset (never backwards, as EventBatch.offset_after), whether more waits,
    and when it was polled, with the fields in `also`; only while the bot still polls `vibe_bot_id` (and,
    with `lease_token`, that lease holds it), and with `unless_pending` only if none of its stored events
    waits (cycle_sql.store_empty_batch). Whether it was recorded."""
    return bool(
        store_empty_batch(
            bot_id, vibe_bot_id=vibe_bot_id, next_offset=min(max(batch.next_offset, 0), BIGINT_MAX),
            values={"has_more": batch.has_more, "last_polled_at": now, **(also or {})},
            lease_token=lease_token, unless_pending=unless_pending,
        )
    )  # fmt: skip


def store_batch(bot_id: int, batch: EventBatch, *, vibe_bot_id: int, lease_token: str | None) -> int | None:
    """Insert the batch into the event log and move the offset, in one transaction.

    Returns how many entries were new, or None when the bot changed hands meanwhile: another cycle holds
    its lease, or the bot was moved to another platform bot (nothing is stored then).
    """
    now = timezone.now()
    if batch.is_empty:
        stored = record_empty_batch(bot_id, batch, vibe_bot_id=vibe_bot_id, lease_token=lease_token, now=now)
        return 0 if stored else None
    with transaction.atomic():
        bot = _lock_bot(bot_id)
        if (lease_token is not None and bot.lease_token != lease_token) or bot.vibe_bot_id != vibe_bot_id:
            return None
        entries = build_entries(bot, vibe_bot_id, batch)
        for entry in entries:
            if entry.status == EventLogEntry.Status.MALFORMED:
                log.error("bot=%s: malformed event kept: %s", bot.pk, entry.error)
        # Redelivered events (a cycle that died before acknowledging) are already in the log, and so may be
        # a message the platform delivers again under a new event id: one read finds both.
        message_ids = [e.message_id for e in entries if e.message_id is not None]
        rows = find_stored_events(bot.pk, vibe_bot_id, [e.vibe_event_id for e in entries], message_ids)
        known: dict[int, tuple[str, Any]] = {}
        known_messages: dict[MessageKey, int] = {}
        for event_id, event_type, message_id, payload in rows:
            known[event_id] = (event_type, payload)
            if message_id is not None:
                known_messages.setdefault((event_type, message_id, command_in(payload)), event_id)
        _say_other_events_under_stored_ids(entries, known)
        fresh = _one_per_id([e for e in entries if e.vibe_event_id not in known])
        _mark_duplicates(fresh, known_messages)
        _insert(fresh)
        _ignore_stored_messages_of_commands(bot, vibe_bot_id, fresh)
        _keep_joined_chats(bot, vibe_bot_id, fresh, now=now)
        new_offset = min(batch.offset_after(bot.event_offset) or bot.event_offset, BIGINT_MAX)
        # Only what is new is the bot's activity (its cadence follows it: polling.quiet_interval): an item
        # that moves the offset nowhere, given again at every poll, kept the bot at its fastest cadence.
        active = {"last_event_at": now} if fresh else {}
        update_bot(
            bot.pk, {"event_offset": new_offset, "has_more": batch.has_more, "last_polled_at": now, **active}
        )
    record_events_stored(event_types=[entry.event_type for entry in fresh])  # ops' counter, after the commit
    return len(fresh)


class Replay(NamedTuple):
    """What a replay did: entries handled again, and those it left as they are, by why."""

    replayed: int
    malformed: int  # no parser reads their payload
    settled: int  # handled or ignored
    retired: int  # their bot is retired: no cycle of it will come


def replay_entries(entries: QuerySet[EventLogEntry], *, operator: str) -> Replay:
    """Have the failed ones of these entries handled again on their bot's next cycle.

    Attempts start again from zero: an entry that used them up would otherwise be failed at once. A malformed
    entry is not replayed: no parser reads its payload, so it would only fail again and lose its status. A
    handled or ignored one is not either: it would go through today's skills and routing, not the ones that
    saw it (an outside trial's old echo messages became answers of a standup collecting since). Nor is one of
    a retired bot (its portal uninstalled): no cycle of it comes, so it would wait in the backlog until the
    portal is purged, its age the fleet's oldest unhandled event (an operator trial's replay of a day's
    failures left 1,420 such).
    """
    failed = entries.filter(status=EventLogEntry.Status.FAILED)
    malformed = entries.filter(status=EventLogEntry.Status.MALFORMED).count()
    settled = entries.filter(status__in=[EventLogEntry.Status.HANDLED, EventLogEntry.Status.IGNORED]).count()
    retired = failed.filter(bot__status=Bot.Status.RETIRED).count()
    replayed = failed.exclude(bot__status=Bot.Status.RETIRED).update(
        status=EventLogEntry.Status.RECEIVED,
        error="",
        skill="",
        attempts=0,
        timed_out_attempts=0,
        next_attempt_at=None,
        handled_at=None,
        duration_ms=None,
    )
    if replayed:
        log.info("failed events replayed by operator count=%s operator=%s", replayed, operator)
    return Replay(replayed, malformed, settled, retired)


def give_up_entries(entries: QuerySet[EventLogEntry], *, operator: str) -> int:
    """Fail the waiting ones of these entries for an operator: the bot's next cycle goes on to its later
    events (a skill past the queue's timeout holds them for two attempts, a worker dying unseen for five). A
    replay brings one back.

    An attempt running at that moment cannot be stopped: its verdict, when it comes, is recorded over this
    one, which is then the truth (what it posted is in the chat). Returns how many were given up: the admin's
    action and the operator API's both ask this, and say of the others that they were left as they are."""
    given_up = entries.filter(status=EventLogEntry.Status.RECEIVED).update(
        status=EventLogEntry.Status.FAILED,
        error=(
            f"given up by an operator ({operator[:150]}) before it was handled: the bot went on to its later"
            " events; replay it to have it handled again"
        ),
        next_attempt_at=None,
        handled_at=timezone.now(),
    )
    if given_up:
        log.info("waiting events given up by operator count=%s operator=%s", given_up, operator)
    return given_up
