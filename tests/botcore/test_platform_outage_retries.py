"""A person's message met by a platform failing for a while (5xx on the reply, a minute long) is answered
once the platform is back, not failed after BOTCORE_HANDLE_MAX_ATTEMPTS: the attempts' backoff (1 s base,
full jitter) spends five attempts in about 8 s (15 s at most), so an outage of a minute failed every message
that came in during it. A trial E soak (PostgreSQL + Redis, 20 portals, a minute of 60% 5xx) lost 2 of 71
messages so. Past BOTCORE_HANDLE_RETRY_WINDOW_SECONDS after the event came, the attempts' limit holds again.
Counted in the platform's own chat."""

from __future__ import annotations

import pytest
from django.utils import timezone

from botcore.models import Bot, EventLogEntry
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from tests.botcore.replying import SKILL_PATH, message_entry, replies

pytestmark = [pytest.mark.slow]


@pytest.fixture
def bot(sandbox_portal, settings) -> Bot:
    settings.BOTCORE_SKILLS = [SKILL_PATH]
    return provision_bot(sandbox_portal.portal)


def fail_every_attempt(sandbox_portal, bot: Bot, text: str, *, attempts: int) -> EventLogEntry:
    """The platform answers every reply 500 (before acting); the event is tried `attempts` times, each
    retry made due at once."""
    rule = {"method": "POST", "path": f"/v1/bots/{bot.vibe_bot_id}/messages", "errorRate": 1.0,
            "errorCode": "INTERNAL_ERROR"}  # fmt: skip
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    poll_bot_once(bot.pk)
    entry = message_entry(bot, text)
    while entry.attempts < attempts and entry.status == EventLogEntry.Status.RECEIVED:
        EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=timezone.now())
        Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now())
        poll_bot_once(bot.pk)
        entry.refresh_from_db()
    return entry


def platform_back_and_poll(sandbox_portal, bot: Bot, entry: EventLogEntry) -> None:
    sandbox_portal.control.delete("/_sandbox/faults")
    EventLogEntry.objects.filter(pk=entry.pk, status=EventLogEntry.Status.RECEIVED).update(
        next_attempt_at=timezone.now()
    )
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now())
    poll_bot_once(bot.pk)
    entry.refresh_from_db()


def test_a_message_met_by_an_outage_longer_than_its_attempts_is_answered_once_the_platform_is_back(
    sandbox_portal, bot, settings
):
    settings.BOTCORE_HANDLE_MAX_ATTEMPTS = 3
    entry = fail_every_attempt(sandbox_portal, bot, "during the outage", attempts=5)
    assert entry.status == EventLogEntry.Status.RECEIVED and entry.attempts == 5
    platform_back_and_poll(sandbox_portal, bot, entry)
    assert entry.status == EventLogEntry.Status.HANDLED
    assert len(replies(sandbox_portal, bot, "during the outage")) == 1


def test_without_a_retry_window_the_attempts_limit_holds(sandbox_portal, bot, settings):
    settings.BOTCORE_HANDLE_MAX_ATTEMPTS = 3
    settings.BOTCORE_HANDLE_RETRY_WINDOW_SECONDS = 0
    entry = fail_every_attempt(sandbox_portal, bot, "given up", attempts=5)
    assert entry.status == EventLogEntry.Status.FAILED and entry.attempts == 3
    assert "gave up after 3 attempts" in entry.error
    platform_back_and_poll(sandbox_portal, bot, entry)
    assert replies(sandbox_portal, bot, "given up") == []
