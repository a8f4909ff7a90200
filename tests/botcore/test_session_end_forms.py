"""A session end /v1/me states in a form other than ISO-8601 is still the session's end (CONTRACT A §13).

`epoch-expiry` (docs/sandbox.md): a PHP platform keeps a session's end as `time()` seconds and answers it so.
`zoned-dates`: a Java platform writes it as a ZonedDateTime, its zone's id in brackets after the offset.
Read as no end at all, it became the contract's assumed life (TENANTS_DEFAULT_SESSION_SECONDS): where the
platform's session lived longer, the bot stopped answering when the assumed life ran out, its token good.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from botcore.models import Bot, EventLogEntry
from botcore.services.polling import poll_bot_once
from botcore.vibe.identity import identity_from_me
from botcore.vibe.parse import parse_event
from tenants.models import SessionGrant
from tests.botcore.test_dialects_live import Platform

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def traveller():
    """Started before the queue and any session, as test_dialects_live's clock: all on the moved clock."""
    travel = time_machine.travel(START, tick=True)
    yield travel.start()
    travel.stop()


@pytest.mark.parametrize("dialect", ["epoch-expiry", "zoned-dates"])
def test_a_session_end_in_another_form_keeps_the_bot_answering_past_the_assumed_life(
    dialect, traveller, sandbox, settings, task_queue
):
    platform = Platform(sandbox)
    platform.post("/dialects", {"dialects": [dialect]})
    settings.VIBE_APP_KEY = platform.app_key
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.BOTCORE_SKILLS = ["botcore.skills.builtin.echo.EchoSkill"]
    # What the backend assumes of a session whose end it cannot read; the sandbox's live 24 h.
    settings.TENANTS_DEFAULT_SESSION_SECONDS = 2 * 3600
    assert platform.open_app(platform.alice) == 302
    task_queue.run()
    bot = Bot.objects.get()
    assert bot.vibe_bot_id and bot.status == Bot.Status.ACTIVE, (bot.status, bot.vibe_bot_id)

    traveller.shift(timedelta(hours=3))  # past the assumed life, well within the platform's
    platform.say(platform.boris, "hello", bot_id=bot.vibe_bot_id)
    for _ in range(3):
        poll_bot_once(bot.pk)

    echoes = [text for text in platform.texts(bot.vibe_bot_id) if "[i]hello[/i]" in text]
    assert len(echoes) == 1
    assert SessionGrant.objects.get().expires_at > START + timedelta(hours=23)  # the platform's 24 h


def test_an_event_dated_as_a_zoned_date_time_keeps_its_date(traveller, sandbox, settings, task_queue):
    """The platform's date of a message is what the standup reads as when it was written, and the platform's
    clock lead is estimated from; read as none, an answer written just before the summary but handled after
    it came too late."""
    platform = Platform(sandbox)
    platform.post("/dialects", {"dialects": ["zoned-dates"]})
    settings.VIBE_APP_KEY = platform.app_key
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.BOTCORE_SKILLS = ["botcore.skills.builtin.echo.EchoSkill"]
    assert platform.open_app(platform.alice) == 302
    task_queue.run()
    bot = Bot.objects.get()
    written = platform.say(platform.boris, "hello", bot_id=bot.vibe_bot_id)
    poll_bot_once(bot.pk)

    entry = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.occurred_at and entry.occurred_at.replace(microsecond=0) == datetime.fromisoformat(
        written["date"]
    )
    # The message's own date (what the standup reads first as when an answer was written) in the same form,
    # read as the same instant.
    assert entry.payload["data"]["message"]["date"].endswith("+03:00[Europe/Moscow]")
    message = parse_event(entry.payload).message
    assert message.date is not None
    assert message.date.replace(microsecond=0) == datetime.fromisoformat(written["date"])
    assert [text for text in platform.texts(bot.vibe_bot_id) if "[i]hello[/i]" in text] != []


@pytest.mark.parametrize(
    "stated", ["08.12.2026 16:00:00", "2026-12-08T16:00:00[Europe/Moscow]", {"epoch": 1}]
)
def test_a_session_end_that_cannot_be_read_is_said_in_the_log(stated, caplog):
    me = {
        "portal": {"id": "1", "memberId": "m-1", "domain": "acme.bitrix24.com"},
        "currentUser": {"bitrixUserId": 1, "name": "Alice"},
        "session": {"expiresAt": stated},
    }
    with caplog.at_level(logging.WARNING, logger="botcore.vibe.identity"):
        assert identity_from_me(me).expires_at is None
    assert [r.getMessage() for r in caplog.records] == [
        f"GET /v1/me stated a session end this client cannot read ({stated!r:.60}): the assumed life is used"
    ]


@pytest.mark.parametrize("stated", [None, "", 0, False, "2026-12-08T16:00:00+03:00[Europe/Moscow]"])
def test_no_end_stated_or_a_readable_one_logs_nothing(stated, caplog):
    me = {"portal": {"memberId": "m-1"}, "currentUser": {"bitrixUserId": 1}, "session": {"expiresAt": stated}}
    with caplog.at_level(logging.WARNING, logger="botcore.vibe.identity"):
        identity_from_me(me)
    assert caplog.records == []
