"""End to end over real HTTP: the worst items the property tests (test_fuzz_wire, test_fuzz_store) found, sent
by the sandbox among valid messages. Each valid message is answered exactly once (replies counted on the
platform), each bad item is kept with a plain reason, the offset moves past them all, the bot keeps polling,
and no log line carries the key or the session token."""

from __future__ import annotations

import json
import logging

import pytest

from botcore.models import Bot, EventLogEntry
from botcore.services.bots import provision_bot
from botcore.services.eventlog import BIGINT_MAX
from botcore.services.polling import poll_bot_once
from tenants.models import SessionGrant
from tenants.selectors import find_best_grant


def _worst_items(dialog_id: str, admin_id: int) -> list[dict]:
    """(type, data, eventId?) the sandbox queues as given: each one a kind of item fuzzing found or tried."""
    nested: dict = {}
    for _ in range(100):
        nested = {"x": nested}

    def message(text, **fields) -> dict:
        return {
            "id": 800_000 + len(text) + len(fields),
            "chatId": 1,
            "authorId": admin_id,
            "text": text,
            **fields,
        }

    return [
        {"type": "ONIMBOTV2MESSAGEADD", "data": {"dialogId": dialog_id}},  # no message: unreadable
        {"type": "ONIMBOTV2MESSAGEADD", "data": {"dialogId": dialog_id, "message": "not an object"}},
        {"type": "ONIMBOTV2MESSAGEADD", "data": {"message": message("id past int64")}, "eventId": 2**70},
        {
            "type": "ONIMBOTV2MESSAGEADD",
            "data": {"dialogId": dialog_id, "message": message("deep"), "n": nested},
        },
        {"type": "ONIMBOTV2X\x00Y", "data": {"k\x00": "\x00"}},  # an unknown type: nothing to answer
        {
            "type": "ONIMBOTV2COMMANDADD",
            "data": {"dialogId": dialog_id, "command": {"command": ["no", "text"]}},
        },
        {
            "type": "ONIMBOTV2REACTIONCHANGE",
            "data": {"reaction": {"no": "text"}, "action": None, "user": "?"},
        },
        {"type": "ONIMBOTV2JOINCHAT", "data": {"dialogId": 12345678901234567890, "chat": [], "user": 7.5}},
    ]


@pytest.mark.slow
def test_valid_messages_among_the_worst_items_are_each_answered_once(sandbox_portal, caplog):
    bot = provision_bot(sandbox_portal.portal)
    vibe_bot_id, admin = bot.vibe_bot_id, sandbox_portal.admin_id
    grant = find_best_grant(sandbox_portal.portal)
    assert isinstance(grant, SessionGrant)
    secrets = [sandbox_portal.app_key, grant.token]

    def raw(item: dict) -> None:
        body = json.dumps({"botId": vibe_bot_id, **item})  # ASCII: a lone surrogate escaped as JSON says it
        answer = sandbox_portal.control.post(
            "/_sandbox/act/raw-events", content=body, headers={"content-type": "application/json"}
        )
        assert answer.is_success, answer.text

    valid = ["first valid", "half an emoji \ud83d", "x" * 30_000, "third [b]valid[/b] #br"]
    sandbox_portal.say(user_id=admin, bot_id=vibe_bot_id, text=valid[0])  # opens the dialog: a JOINCHAT first
    dialog_id = str(admin)
    worst = _worst_items(dialog_id, admin)
    for item in worst[:4]:
        raw(item)
    # A message the platform cut inside an emoji: valid, and answered (with U+FFFD where the half was).
    user = {"id": admin, "firstName": "Alice"}
    data = {
        "dialogId": dialog_id,
        "user": user,
        "message": {"id": 990_001, "authorId": admin, "text": valid[1]},
    }
    raw({"type": "ONIMBOTV2MESSAGEADD", "data": data})
    sandbox_portal.say(user_id=admin, bot_id=vibe_bot_id, text=valid[2])
    for item in worst[4:]:
        raw(item)

    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            poll_bot_once(bot.pk)
        # The bot keeps polling: a message after the batch is answered on the next cycle.
        sandbox_portal.say(user_id=admin, bot_id=vibe_bot_id, text=valid[3])
        poll_bot_once(bot.pk)
        poll_bot_once(bot.pk)  # acknowledges it (the next call's offset)

    posted = [m["text"] for m in sandbox_portal.bot_messages(vibe_bot_id)]
    expected = [valid[0], "half an emoji \ufffd", "x" * 100, "third"]
    for text in expected:
        assert sum(text in reply for reply in posted) == 1, (text[:40], [p[:60] for p in posted])
    entries = EventLogEntry.objects.filter(bot=bot)
    statuses = dict(entries.values_list("vibe_event_id", "status"))
    assert EventLogEntry.Status.RECEIVED not in statuses.values()
    bad = entries.filter(status__in=[EventLogEntry.Status.MALFORMED, EventLogEntry.Status.FAILED])
    assert bad.count() >= 4 and all(entry.error for entry in bad)  # each says why, in words
    ignored = entries.filter(status=EventLogEntry.Status.IGNORED).values_list("event_type", flat=True)
    assert "ONIMBOTV2X\ufffdY" in ignored
    bot.refresh_from_db()
    pending = sandbox_portal.control.get(f"/_sandbox/bots/{vibe_bot_id}/events").json()["data"]["events"]
    assert pending == [] and 0 < bot.event_offset <= BIGINT_MAX  # every item acknowledged
    assert bot.status == Bot.Status.ACTIVE and bot.consecutive_failures == 0
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(secret in logged for secret in secrets)
