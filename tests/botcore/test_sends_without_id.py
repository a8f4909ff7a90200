"""A send the platform answers without the message's id (204 No Content: the sandbox's `no-content` fault
after the post was made): taken as posted, its id unknown, said once in the log, and nothing after it breaks.
Counted in the platform's own chat."""

from __future__ import annotations

import logging

import pytest

from botcore.models import ActionRecord, Bot, EventLogEntry
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from botcore.skills.base import Skill
from botcore.vibe.endpoints.messages import forget_said_no_message_id
from botcore.vibe.events import EventType, MessageAddEvent
from tests.botcore.replying import message_entry


class TwiceSkill(Skill):
    """Answers each message twice in its chat: the second post follows one whose id is unknown."""

    name = "twice"
    event_types = frozenset({EventType.MESSAGE_ADD})
    ids: list[int] = []

    def handle(self, event, ctx) -> None:
        assert isinstance(event, MessageAddEvent)
        type(self).ids.append(ctx.reply(f"one: {event.message.text}"))
        type(self).ids.append(ctx.reply(f"two: {event.message.text}"))


@pytest.fixture
def bot(sandbox_portal, settings) -> Bot:
    settings.BOTCORE_SKILLS = [f"{__name__}.TwiceSkill"]
    TwiceSkill.ids = []
    forget_said_no_message_id()
    return provision_bot(sandbox_portal.portal)


def test_a_send_answered_without_its_id_is_taken_as_posted_and_said_once(sandbox_portal, bot, caplog):
    rule = {
        "method": "POST", "path": "/v1/bots/{bot_id}/messages", "afterAction": True,
        "garbageRate": 1.0, "garbageKind": "no-content",
    }  # fmt: skip
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success

    with caplog.at_level(logging.DEBUG, logger="botcore.vibe.endpoints.messages"):
        for text in ("first", "second"):
            sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
            poll_bot_once(bot.pk)

    for text in ("first", "second"):
        assert message_entry(bot, text).status == EventLogEntry.Status.HANDLED
    posted = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert posted == ["one: first", "two: first", "one: second", "two: second"]  # each once, none doubled
    assert TwiceSkill.ids == [0, 0, 0, 0]
    assert all(r.result.get("id") == 0 for r in ActionRecord.objects.filter(bot=bot))
    said = [
        r for r in caplog.records if r.levelno == logging.WARNING and "without the message's id" in r.message
    ]
    assert len(said) == 1 and sandbox_portal.app_key not in caplog.text
