"""Storing a batch of events (botcore.services.eventlog.store_batch) where the database refuses one, or the
platform gives one event id another event than the one stored."""

from __future__ import annotations

import pytest
from django.db import connection

from botcore.models import Bot, BotChat, EventLogEntry
from botcore.services import eventlog
from botcore.services.eventlog import store_batch
from botcore.vibe.parse import read_event_batch
from tenants.models import Portal

pytestmark = pytest.mark.django_db

SECRET_TEXT = "my card is 4111-1111-1111-1111, vibe_session_PASTEDTOKEN42"


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE)


def message(event_id: int, text: str, *, message_id: int = 70) -> dict:
    return {
        "eventId": event_id,
        "type": "ONIMBOTV2MESSAGEADD",
        "date": "2026-11-24T10:00:00+03:00",
        "data": {"bot": {"id": 7}, "message": {"id": message_id, "text": text}},
    }


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's refusal quotes the JSON it refused"
)
def test_a_refused_event_keeps_a_plain_reason_without_the_payloads_text(bot, monkeypatch):
    """An event the database refuses (here a NUL the cleaning let through, as a value no cleaning foresaw
    would be) is kept as MALFORMED with the refusal's reason: PostgreSQL's own text quotes the JSON it
    refused (CONTEXT: JSON data, line 1: ...), which put the person's message in the error column the
    operators' list and API show. The reason says what kind of refusal and which field, no more."""
    monkeypatch.setattr(eventlog, "clean_json", lambda value, depth=0: value)  # a value cleaning missed
    batch = read_event_batch({"events": [message(1, f"{SECRET_TEXT}\x00")], "nextOffset": 2})
    assert store_batch(bot.pk, batch, vibe_bot_id=7, lease_token=None) == 1
    entry = EventLogEntry.objects.get(bot=bot, vibe_event_id=1)
    assert entry.status == EventLogEntry.Status.MALFORMED
    assert "4111" not in entry.error and "PASTEDTOKEN" not in entry.error and "JSON data" not in entry.error
    assert entry.error.startswith("refused by the database: ")
    assert "22P05" in entry.error and "payload" in entry.error  # the kind of refusal, and its field
    assert "4111" in entry.payload["raw_text"]  # the event itself is kept for an operator, as before


def test_another_event_under_a_stored_events_id_keeps_the_stored_one_and_says_so(bot, caplog):
    """Two different events under one event id, in two batches: the stored one was acted on and is kept, and
    the other was dropped without a word (one in the same batch was said in a WARNING). Now a WARNING names
    the bot and the id, never what either event says; the same event given again is no news."""
    first = read_event_batch({"events": [message(1, "hello")], "nextOffset": 2})
    assert store_batch(bot.pk, first, vibe_bot_id=7, lease_token=None) == 1
    with caplog.at_level("INFO", logger="botcore.services.eventlog"):
        assert store_batch(bot.pk, first, vibe_bot_id=7, lease_token=None) == 0  # redelivered as it was
        assert [r for r in caplog.records if r.levelname == "WARNING"] == []
        other = read_event_batch({"events": [message(1, SECRET_TEXT, message_id=71)], "nextOffset": 2})
        assert store_batch(bot.pk, other, vibe_bot_id=7, lease_token=None) == 0
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    said = warnings[0].getMessage()
    assert "event 1" in said and f"bot={bot.pk}" in said
    assert "4111" not in caplog.text and "PASTEDTOKEN" not in caplog.text
    kept = EventLogEntry.objects.get(bot=bot, vibe_event_id=1)
    assert kept.payload["data"]["message"]["text"] == "hello" and EventLogEntry.objects.count() == 1


# --- the group chats a batch's join events add (eventlog._keep_joined_chats) ---------------------------


def joined(event_id: int, dialog_id: str, name: str) -> dict:
    chat = {"id": int(dialog_id.removeprefix("chat")), "dialogId": dialog_id, "name": name}
    return {
        "eventId": event_id,
        "type": "ONIMBOTV2JOINCHAT",
        "data": {"bot": {"id": 7}, "dialogId": dialog_id, "chat": chat},
    }


def chats_kept(bot: Bot) -> list[tuple[str, str]]:
    return list(
        BotChat.objects.filter(bot=bot, vibe_bot_id=7).order_by("dialog_id").values_list("dialog_id", "name")
    )


def test_a_batch_keeps_the_group_chats_its_join_events_name_as_the_log_stores_them(bot):
    """The chat is read from the entry's stored payload, not from the batch's typed event, which holds the
    text as it came. Read from the event (tried): a NUL in a chat's name had PostgreSQL refuse the rows, so no
    chat of the batch was kept; a lone surrogate failed the driver's encoding, outside the DatabaseError the
    keeping is ready for, and the whole batch with its offset was rolled back, at every poll."""
    events = [
        joined(1, "chat5", "Sales\x00 \ud800team"),
        joined(2, "12", "Alice"),
        joined(3, "chat9", "Team"),
    ]
    batch = read_event_batch({"events": events, "nextOffset": 4})
    assert store_batch(bot.pk, batch, vibe_bot_id=7, lease_token=None) == 3
    assert chats_kept(bot) == [("chat5", "Sales\ufffd \ufffdteam"), ("chat9", "Team")]  # not the 1:1 dialog
    assert Bot.objects.get(pk=bot.pk).event_offset == 4


def test_a_join_event_the_log_cannot_keep_as_itself_keeps_no_chat_and_one_id_twice_keeps_the_first(bot):
    """An id past int64 is stored as MALFORMED under a synthetic id (no event of the batch has that id); an
    id given twice in one batch is stored once, the first, and so is its chat."""
    events = [joined(2**64, "chat4", "Past int64"), joined(1, "chat5", "First"), joined(1, "chat6", "Second")]
    batch = read_event_batch({"events": events, "nextOffset": 2})
    assert store_batch(bot.pk, batch, vibe_bot_id=7, lease_token=None) == 2
    assert sorted(EventLogEntry.objects.values_list("event_type", "status")) == [
        ("MALFORMED", "malformed"),
        ("ONIMBOTV2JOINCHAT", "received"),
    ]
    assert chats_kept(bot) == [("chat5", "First")]
