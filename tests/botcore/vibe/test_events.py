"""parse_event: every event type of the contract, unknown types and extra fields kept, never fatal."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from botcore.vibe.errors import VibeProtocolError
from botcore.vibe.events import (
    BotDeleteEvent,
    CommandAddEvent,
    ContextGetEvent,
    EventType,
    JoinChatEvent,
    MalformedEventError,
    MessageAddEvent,
    MessageDeleteEvent,
    MessageUpdateEvent,
    ReactionChangeEvent,
    UnknownEvent,
)
from botcore.vibe.parse import parse_event, read_event_batch

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vibe"


def load(event_type: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{event_type}.json").read_text(encoding="utf-8"))


EXPECTED_CLASS = {
    EventType.MESSAGE_ADD: MessageAddEvent,
    EventType.MESSAGE_UPDATE: MessageUpdateEvent,
    EventType.MESSAGE_DELETE: MessageDeleteEvent,
    EventType.JOIN_CHAT: JoinChatEvent,
    EventType.BOT_DELETE: BotDeleteEvent,
    EventType.CONTEXT_GET: ContextGetEvent,
    EventType.COMMAND_ADD: CommandAddEvent,
    EventType.REACTION_CHANGE: ReactionChangeEvent,
}


def test_there_is_a_fixture_for_each_of_the_eight_event_types():
    assert {path.stem for path in FIXTURES.glob("*.json")} == {t.value for t in EventType}
    assert len(EventType) == 8


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_each_event_type_parses_into_its_class_with_the_envelope(event_type):
    payload = load(event_type.value)
    event = parse_event(payload)
    assert type(event) is EXPECTED_CLASS[event_type]
    assert event.type is event_type
    assert event.event_id == payload["eventId"]
    assert event.date == datetime(2026, 4, 13, 10, 5, tzinfo=timezone(timedelta(hours=3)))
    assert event.bot is not None and event.bot.id == 42 and event.bot.code == "my_helper_bot"
    assert event.raw == payload


def test_message_add_carries_message_chat_user_and_where_to_answer():
    event = parse_event(load("ONIMBOTV2MESSAGEADD"))
    assert isinstance(event, MessageAddEvent)
    assert event.dialog_id == "1"
    assert event.text == "Привет, бот! 👋 [b]not bold[/b]"
    assert event.message.id == 1501 and event.message.chat_id == 87 and event.message.author_id == 1
    assert event.message.is_system is False
    assert event.chat is not None and event.chat.type == "private" and event.chat.owner_id == 1
    assert event.user is not None and (event.user.first_name, event.user.last_name) == ("John", "Smith")
    assert event.language == "en"
    assert event.is_from_bot is False


def test_message_update_holds_the_new_text():
    event = parse_event(load("ONIMBOTV2MESSAGEUPDATE"))
    assert isinstance(event, MessageUpdateEvent)
    assert event.text == "Hi, bot! (edited)"


def test_message_delete_names_the_deleted_message():
    event = parse_event(load("ONIMBOTV2MESSAGEDELETE"))
    assert isinstance(event, MessageDeleteEvent)
    assert event.message_id == 1501
    assert event.text == ""


def test_join_chat_says_who_added_the_bot_and_where():
    event = parse_event(load("ONIMBOTV2JOINCHAT"))
    assert isinstance(event, JoinChatEvent)
    assert event.dialog_id == "chat88"
    assert event.chat is not None and event.chat.name == "Sales team"
    assert event.user is not None and event.user.id == 1


def test_bot_delete_carries_only_the_bot():
    event = parse_event(load("ONIMBOTV2DELETE"))
    assert isinstance(event, BotDeleteEvent)
    assert event.bot is not None and event.bot.id == 42
    assert not hasattr(event, "dialog_id")


def test_context_get_keeps_the_context_object():
    event = parse_event(load("ONIMBOTV2CONTEXTGET"))
    assert isinstance(event, ContextGetEvent)
    assert event.context == {"entityId": 7, "entityType": "deal", "source": "crm"}


def test_command_add_carries_the_command_and_its_params():
    event = parse_event(load("ONIMBOTV2COMMANDADD"))
    assert isinstance(event, CommandAddEvent)
    assert (event.command.id, event.command.command, event.command.name) == (5, "/help", "help")
    assert event.command.params == "billing" and event.command.context == "textarea"
    assert event.message is not None and event.message.id == 1502
    assert event.dialog_id == "chat88"


@pytest.mark.parametrize("sent", ["help", "/help", " /help "])
def test_a_command_reads_the_same_with_or_without_its_slash(sent):
    """The reference's example sends "help", imbot.v2 (dialect command-slash) "/help": skills see one form."""
    payload = load("ONIMBOTV2COMMANDADD")
    payload["data"]["command"]["command"] = sent
    event = parse_event(payload)
    assert isinstance(event, CommandAddEvent)
    assert (event.command.command, event.command.name) == ("/help", "help")


def test_reaction_change_says_which_reaction_and_how():
    event = parse_event(load("ONIMBOTV2REACTIONCHANGE"))
    assert isinstance(event, ReactionChangeEvent)
    assert (event.reaction, event.action) == ("like", "add")
    assert event.message is not None and event.message.author_id == 42


def test_a_message_written_by_the_bot_itself_is_marked_as_from_a_bot():
    payload = load("ONIMBOTV2MESSAGEADD")
    payload["data"]["message"]["authorId"] = 42
    assert parse_event(payload).is_from_bot is True  # type: ignore[union-attr]


def test_a_message_from_another_bot_user_is_marked_as_from_a_bot():
    payload = load("ONIMBOTV2MESSAGEADD")
    payload["data"]["user"]["bot"] = True
    assert parse_event(payload).is_from_bot is True  # type: ignore[union-attr]


def test_an_unknown_event_type_is_kept_whole_as_unknown_event():
    payload = {
        "eventId": 99,
        "type": "ONIMBOTV2SOMETHINGNEW",
        "date": "2026-04-13T10:05:00Z",
        "data": {"x": [1, 2]},
    }
    event = parse_event(payload)
    assert isinstance(event, UnknownEvent)
    assert event.type == "ONIMBOTV2SOMETHINGNEW"
    assert event.data == {"x": [1, 2]}
    assert event.event_id == 99 and event.raw == payload
    assert event.type not in set(EventType)


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.value)
def test_extra_fields_are_kept_in_raw_and_do_not_break_parsing(event_type):
    payload = load(event_type.value)
    payload["brandNew"] = {"nested": True}
    payload["data"]["alsoNew"] = "value"
    payload["data"]["bot"]["newBotField"] = 1
    if "message" in payload["data"]:
        payload["data"]["message"]["newMessageField"] = "kept"
    event = parse_event(copy.deepcopy(payload))
    assert type(event) is EXPECTED_CLASS[event_type]
    assert event.raw["brandNew"] == {"nested": True}
    assert event.raw["data"]["alsoNew"] == "value"
    assert event.bot is not None and event.bot.raw["newBotField"] == 1
    message = getattr(event, "message", None)
    if message is not None:
        assert message.raw["newMessageField"] == "kept"


def test_webhook_style_string_scalars_are_coerced():
    payload = load("ONIMBOTV2MESSAGEADD")
    payload["eventId"] = "35"
    payload["data"]["message"].update(id="1501", chatId="87", authorId="1", isSystem="N")
    payload["data"]["bot"]["id"] = "42"
    event = parse_event(payload)
    assert isinstance(event, MessageAddEvent)
    assert (event.event_id, event.message.id, event.message.chat_id, event.bot.id) == (35, 1501, 87, 42)  # type: ignore[union-attr]
    assert event.message.is_system is False


def test_the_type_name_is_matched_case_insensitively():
    payload = load("ONIMBOTV2JOINCHAT")
    payload["type"] = "onimbotv2joinchat"
    assert isinstance(parse_event(payload), JoinChatEvent)


def test_dialog_id_falls_back_to_the_chat_when_the_event_omits_it():
    payload = load("ONIMBOTV2MESSAGEADD")
    del payload["data"]["dialogId"]
    assert parse_event(payload).dialog_id == "1"  # type: ignore[union-attr]


def test_a_message_event_without_its_optional_objects_still_parses():
    payload = {"eventId": 1, "type": "ONIMBOTV2MESSAGEADD", "data": {"message": {"id": 3, "text": "hi"}}}
    event = parse_event(payload)
    assert isinstance(event, MessageAddEvent)
    assert event.bot is None and event.chat is None and event.user is None and event.date is None
    assert event.text == "hi"


def test_files_in_message_params_are_listed_by_id():
    payload = load("ONIMBOTV2MESSAGEADD")
    payload["data"]["message"]["params"] = {"files": [7, {"id": 8}, "9", "junk"]}
    assert parse_event(payload).message.file_ids == (7, 8, 9)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "ONIMBOTV2MESSAGEADD",
        {"type": "ONIMBOTV2MESSAGEADD", "data": {}},
        {"eventId": "x", "type": "ONIMBOTV2JOINCHAT", "data": {}},
        {"eventId": True, "type": "ONIMBOTV2JOINCHAT", "data": {}},
        {"eventId": 5, "type": "ONIMBOTV2MESSAGEADD", "data": {"dialogId": "1"}},
    ],
    ids=["list", "string", "no-event-id", "text-event-id", "bool-event-id", "message-event-without-message"],
)
def test_an_envelope_that_cannot_be_acknowledged_or_used_is_refused(payload):
    with pytest.raises(MalformedEventError):
        parse_event(payload)


def test_a_non_object_data_is_read_as_empty():
    event = parse_event({"eventId": 3, "type": "ONIMBOTV2DELETE", "data": "garbage"})
    assert isinstance(event, BotDeleteEvent) and event.bot is None


def test_a_value_that_cannot_be_read_takes_its_default_and_the_rest_still_reads():
    payload = load("ONIMBOTV2MESSAGEADD")
    payload["data"]["message"].update(chatId="eighty-seven", isSystem="maybe", date="not a date")
    payload["data"]["chat"] = "not an object"
    payload["data"]["user"]["firstName"] = {"unexpected": "object"}
    event = parse_event(copy.deepcopy(payload))
    assert isinstance(event, MessageAddEvent)
    assert (event.message.id, event.message.chat_id, event.message.is_system) == (1501, 0, False)
    assert event.message.date is None and event.chat is None
    assert event.user is not None and event.user.first_name == "" and event.user.last_name == "Smith"
    assert event.raw == payload  # the envelope as received, unreadable values included


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("2026-04-13T07:05:00Z", datetime(2026, 4, 13, 7, 5, tzinfo=UTC)),
        ("2026-04-13T10:05:00.250+03:00", datetime(2026, 4, 13, 7, 5, 0, 250000, tzinfo=UTC)),
        ("2026-04-13T12:35:00+05:30", datetime(2026, 4, 13, 7, 5, tzinfo=UTC)),
        (1776063900, datetime(2026, 4, 13, 7, 5, tzinfo=UTC)),
        # Without its offset a time is no instant (on whose clock?): compared with one it raised TypeError,
        # the standup's routing of every message a participant wrote after the summary among them.
        ("2026-04-13T10:05:00", None),
        ("2026-04-13", None),
    ],
)
def test_an_events_dates_read_as_instants_or_not_at_all(sent, read):
    payload = load("ONIMBOTV2MESSAGEADD")
    payload["date"] = payload["data"]["message"]["date"] = sent
    event = parse_event(payload)
    assert isinstance(event, MessageAddEvent)
    assert event.date == read and event.message.date == read


def test_a_message_event_whose_message_is_unreadable_is_refused_with_the_reason():
    payload = load("ONIMBOTV2MESSAGEADD")
    payload["data"]["message"] = ["not", "an", "object"]
    with pytest.raises(MalformedEventError, match=r"data\.message"):
        parse_event(payload)


def test_the_stored_payload_reads_back_as_the_same_event():
    """The event log stores `event.raw`; the executor reads it with the same parse_event."""
    for event_type in EventType:
        event = parse_event(load(event_type.value))
        again = parse_event(json.loads(json.dumps(event.raw)))
        assert again == event and type(again) is type(event)


def _answer(events: object, **rest: object) -> dict:
    return {"events": events, **rest}


def _item(event_id: int) -> dict:
    return {
        "eventId": event_id,
        "type": "ONIMBOTV2BOTDELETE",
        "date": "2030-03-04T10:00:00+00:00",
        "data": {},
    }


def test_an_events_answer_reads_the_same_as_a_list_or_an_object_keyed_by_id():
    """keyed-events: PHP's json_encode writes an array whose keys are not 0..n-1 as an object. Refused as
    garbage, a platform answering so would have stalled every bot with events waiting."""
    listed = read_event_batch(_answer([_item(9), _item(10)], nextOffset=11))
    keyed = read_event_batch(_answer({"10": _item(10), "9": _item(9)}, nextOffset=11))
    assert [e.event_id for e in keyed.events] == [e.event_id for e in listed.events] == [9, 10]
    assert keyed.next_offset == listed.next_offset == 11


def test_null_events_are_none_waiting_and_acknowledge_nothing():
    """null-events: Go writes an empty list as null. Refused as garbage, every idle bot backed off; its
    nextOffset is not trusted, as no event says what it moves past."""
    batch = read_event_batch(_answer(None, nextOffset=500))
    assert batch.events == () and batch.offset_after(7) == 7
    assert read_event_batch({"nextOffset": 500}).offset_after(7) == 7  # no events at all: the same


def test_without_a_next_offset_an_id_past_int64_is_no_offset():
    """no-next-offset: the offset came from the highest id, and a mislabelled 2**63 + 7 made it one the
    platform refuses (INVALID_OFFSET) on every poll after: every later event was lost (chaos --quick)."""
    mixed = read_event_batch(_answer([_item(9), _item(2**63 + 7)]))
    assert mixed.offset_after(9) == 10
    alone = read_event_batch(_answer([_item(2**63 + 7)]))
    assert len(alone.events) == 1 and alone.offset_after(9) == 9  # nothing to move past: it comes again


def test_a_next_offset_at_the_last_event_is_passed_only_where_offsets_keep_the_event_sent():
    """last-id-next-offset: a platform that gave back the event at the offset sent keeps event N waiting on
    offset N, so its nextOffset naming the last id is passed; one counting offsets as "after" never gives
    that event back, and the offset it names is kept (moving past it would skip event 11 there)."""
    lagging = read_event_batch(_answer([_item(9), _item(10)], nextOffset=10))
    assert lagging.offset_after(9) == 11  # event 9 came back on offset 9
    assert lagging.offset_after(8) == 10  # an "after" platform: 9 and 10 are after 8; 10 is not acknowledged
    unread = read_event_batch(
        _answer([{"eventId": 12, "type": "ONIMBOTV2MESSAGEADD", "data": {}}], nextOffset=12)
    )
    assert unread.malformed and unread.offset_after(12) == 13  # an unreadable one counts by its id too
    assert read_event_batch(_answer([_item(9)], nextOffset=10)).offset_after(9) == 10  # A §8: as it says
    # A mislabelled id is no offset: past it, the bot met the platform's INVALID_OFFSET on every poll and
    # every later event was lost (the chaos benchmark's poison_huge_event_id under last-id-next-offset).
    poisoned = read_event_batch(_answer([_item(9), _item(10), _item(2**63 + 7)], nextOffset=10))
    assert poisoned.offset_after(9) == 11


@pytest.mark.parametrize("answer", [_answer("1..3", nextOffset=500), _answer(7), ["not", "an", "object"]])
def test_events_no_reading_takes_are_a_protocol_error_not_an_empty_batch(answer):
    with pytest.raises(VibeProtocolError, match="nothing acknowledged"):
        read_event_batch(answer)


def test_a_value_left_out_as_unreadable_is_said_once_in_the_log_without_itself(caplog):
    """A tester's platform: event dates in a form this client could not read were left out without a word, and
    the standup took an answer's handling for its writing. Each field left out is said once per process at
    WARNING, by its place and its problem, never its value (a platform's text may hold anything)."""
    from botcore.vibe import wire

    wire.forget_unreadable()
    event = load(EventType.MESSAGE_ADD.value)
    event["date"] = "the 4th of March, secret-ish"
    with caplog.at_level("WARNING", logger="botcore.vibe.wire"):
        first, second = parse_event(event), parse_event(copy.deepcopy(event))
    assert first.date is None and second.date is None
    said = [r.getMessage() for r in caplog.records if r.name == "botcore.vibe.wire"]
    assert len(said) == 1 and "date" in said[0] and "secret-ish" not in said[0]


def test_php_s_empty_array_for_an_empty_mapping_is_no_news_in_the_log(caplog):
    """imbot.v2 answers a first send `uuidMap: []` (PHP's empty array): the empty mapping the default is, so
    nothing was lost and nothing is said (every deployment's workers would each have said it)."""
    from botcore.vibe import wire
    from botcore.vibe.models import SentMessage

    wire.forget_unreadable()
    with caplog.at_level("WARNING", logger="botcore.vibe.wire"):
        sent = SentMessage.from_payload({"id": 7, "uuidMap": []})
    assert sent.id == 7 and not [r for r in caplog.records if r.name == "botcore.vibe.wire"]
