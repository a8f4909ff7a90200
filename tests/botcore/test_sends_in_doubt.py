"""A reply whose answer was lost after the platform may have posted it, on both readings of templateId.

The sandbox posts the reply and then loses its answer (a fault with afterAction): the send is in doubt.
Where a repeated templateId answers the first message (the default reading) the reply is sent again and
arrives once; where it posts again (`no-template-dedupe`) it is never sent twice. Counted in the
platform's own chat, not in what the backend believes it sent.
"""

from __future__ import annotations

import logging

import pytest

from botcore.models import ActionRecord, Bot, EventLogEntry
from botcore.services.bots import provision_bot
from botcore.services.platform import client_for_bot
from botcore.services.polling import poll_bot_once
from botcore.skills.base import Skill
from botcore.vibe import template_ids
from botcore.vibe.events import EventType, MessageAddEvent
from botcore.vibe.template_ids import TemplateReading

pytestmark = [pytest.mark.slow]

AFTER_ACTION = {
    "dropped": {"dropRate": 1.0},
    "html": {"garbageRate": 1.0},
    "internal-error": {"errorRate": 1.0, "errorCode": "INTERNAL_ERROR"},
}


class ReplySkill(Skill):
    name = "replies"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        assert isinstance(event, MessageAddEvent)
        ctx.reply(f"got: {event.message.text}")


@pytest.fixture
def bot(sandbox_portal, settings) -> Bot:
    settings.BOTCORE_SKILLS = [f"{__name__}.ReplySkill"]
    return provision_bot(sandbox_portal.portal)


def posts(sandbox_portal, bot: Bot, text: str) -> int:
    return sum(m["text"] == f"got: {text}" for m in sandbox_portal.bot_messages(bot.vibe_bot_id))


def message_entry(bot: Bot, text: str) -> EventLogEntry:
    return next(
        e
        for e in EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
        if e.payload["data"]["message"]["text"] == text
    )


def answer_one_then_fault_the_replies(sandbox_portal, bot: Bot, fault: dict, *, dialect: str | None) -> None:
    """The platform speaks `dialect`; one message is answered as usual, then replies are posted and their
    answers lost (unless the fault says otherwise)."""
    control = sandbox_portal.control
    assert control.post("/_sandbox/dialects", json={"dialects": [dialect] if dialect else []}).is_success
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="first")
    poll_bot_once(bot.pk)
    assert posts(sandbox_portal, bot, "first") == 1
    path = f"/v1/bots/{bot.vibe_bot_id}/messages"
    rule = {"method": "POST", "path": path, "afterAction": True, **fault}
    assert control.post("/_sandbox/faults", json=rule).is_success


def handle_again(sandbox_portal, bot: Bot, entry: EventLogEntry) -> None:
    """The fault is gone and the event's retry is due: the next cycle handles it again."""
    sandbox_portal.control.delete("/_sandbox/faults")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)


@pytest.mark.parametrize("fault", AFTER_ACTION.values(), ids=AFTER_ACTION.keys())
def test_where_repeats_post_again_a_reply_in_doubt_is_never_sent_twice(sandbox_portal, bot, fault, caplog):
    answer_one_then_fault_the_replies(sandbox_portal, bot, fault, dialect="no-template-dedupe")
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="second")
    poll_bot_once(bot.pk)
    assert posts(sandbox_portal, bot, "second") == 1  # posted by the first try, not repeated at once
    entry = message_entry(bot, "second")
    assert entry.status == EventLogEntry.Status.RECEIVED and entry.next_attempt_at is not None
    with caplog.at_level(logging.WARNING, logger="botcore.skills.context"):
        handle_again(sandbox_portal, bot, entry)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.HANDLED
    assert posts(sandbox_portal, bot, "second") == 1
    assert "in doubt" in caplog.text and "not sent again" in caplog.text


@pytest.mark.parametrize("fault", AFTER_ACTION.values(), ids=AFTER_ACTION.keys())
def test_where_repeats_answer_the_first_message_a_reply_in_doubt_arrives_once_and_is_known(
    sandbox_portal, bot, fault, settings
):
    settings.VIBE_MAX_ATTEMPTS = 1  # no retry inside the call: the event is handled again instead
    answer_one_then_fault_the_replies(sandbox_portal, bot, fault, dialect=None)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="second")
    poll_bot_once(bot.pk)
    entry = message_entry(bot, "second")
    assert entry.status == EventLogEntry.Status.RECEIVED
    assert [r.result for r in ActionRecord.objects.filter(bot=bot).order_by("pk")][-1] == {"in_doubt": True}
    handle_again(sandbox_portal, bot, entry)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.HANDLED
    [posted] = [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m["text"] == "got: second"]
    assert ActionRecord.objects.filter(bot=bot).order_by("pk").last().result == {"id": posted["id"]}


@pytest.mark.parametrize("code", ["BITRIX_UNAVAILABLE", "BITRIX_ERROR"])
def test_a_send_the_platform_says_did_not_run_is_sent_again_on_either_reading(
    sandbox_portal, bot, settings, code
):
    """Not in doubt: the platform's own answer says Bitrix24 could not be reached or refused the call."""
    settings.VIBE_MAX_ATTEMPTS = 1
    fault = {"errorRate": 1.0, "errorCode": code, "afterAction": False}
    answer_one_then_fault_the_replies(sandbox_portal, bot, fault, dialect="no-template-dedupe")
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="second")
    poll_bot_once(bot.pk)
    assert posts(sandbox_portal, bot, "second") == 0
    entry = message_entry(bot, "second")
    handle_again(sandbox_portal, bot, entry)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.HANDLED and posts(sandbox_portal, bot, "second") == 1


def test_a_first_send_in_doubt_is_not_repeated_at_once_before_the_platform_showed_its_reading(
    sandbox_portal, bot
):
    """Nothing was learned yet: the call is not repeated (a platform of the other reading would post it
    twice); the event's retry decides, later."""
    control = sandbox_portal.control
    control.post("/_sandbox/dialects", json={"dialects": ["no-template-dedupe"]})
    rule = {"method": "POST", "path": f"/v1/bots/{bot.vibe_bot_id}/messages", "afterAction": True}
    control.post("/_sandbox/faults", json={**rule, "dropRate": 1.0})
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="first")
    poll_bot_once(bot.pk)
    assert posts(sandbox_portal, bot, "first") == 1
    sends = [
        c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["method"] == "POST" and "messages" in c["path"]
    ]
    assert len(sends) == 1


def test_the_reading_learned_by_one_process_is_known_to_the_next(sandbox_portal, bot):
    with client_for_bot(bot) as client:
        where = (client.base_url, client.key_name)
    assert template_ids.reading(*where) is TemplateReading.UNKNOWN
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="first")
    poll_bot_once(bot.pk)
    assert template_ids.reading(*where) is TemplateReading.HONOURED
    template_ids.forget()  # as a new worker process starts
    assert template_ids.reading(*where) is TemplateReading.HONOURED


class ChatSkill(Skill):
    name = "chats"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        chat = ctx.create_chat(f"about {event.message.text}", user_ids=[event.user.id])
        ctx.reply(f"made chat{chat.id}")


def test_a_chat_whose_creation_is_in_doubt_is_not_created_twice(sandbox_portal, settings):
    settings.BOTCORE_SKILLS = [f"{__name__}.ChatSkill"]
    bot = provision_bot(sandbox_portal.portal)
    rule = {"method": "POST", "path": "/v1/bots/{bot_id}/chats", "afterAction": True, "dropRate": 1.0}
    sandbox_portal.control.post("/_sandbox/faults", json=rule)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="plans")
    poll_bot_once(bot.pk)
    entry = message_entry(bot, "plans")
    assert entry.status == EventLogEntry.Status.RECEIVED
    handle_again(sandbox_portal, bot, entry)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.FAILED and "not done again" in entry.error
    chats = sandbox_portal.control.get("/_sandbox/state").json()["data"]["chats"]
    assert [c["title"] for c in chats if c["title"] == "about plans"] == ["about plans"]
