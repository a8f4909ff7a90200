"""A person's request that left a post, chat or file in doubt is told to the portal's admins.

The person was told (notices.apologize_for_failed_event); the portal's admins were not, and only the vendor's
operator could read it in the event log. Counted on the platform: the notices each admin's dialog holds.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from botcore import conf
from botcore.errors import ActionInDoubtError
from botcore.models import Bot, EventLogEntry
from botcore.services.bots import provision_bot
from botcore.services.doubt_notices import send_doubt_notices
from botcore.services.polling import poll_bot_once
from botcore.services.skill_schedules import sweep_schedules
from botcore.skills.base import Skill
from botcore.vibe import VibeClient
from botcore.vibe.events import EventType
from tenants.testing import store_sandbox_session
from tests.botcore.replying import message_entry

pytestmark = [pytest.mark.slow]

NOTICE = "may not have finished a request"
RUSSIAN_NOTICE = "возможно, не довёл до конца"


class DoubtfulChatSkill(Skill):
    """Meets a chat an earlier attempt may have made, as ctx.create_chat raises it (skills/actions.py)."""

    name = "doubtful_chats"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        raise ActionInDoubtError(f"secret-ish detail of {event.message.text}", write="chat")


class UploadSkill(Skill):
    name = "uploads"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.upload_file(f"{event.message.text}.txt", b"the report")


def bot_for(sandbox_portal, settings, skill: type[Skill]) -> Bot:
    settings.BOTCORE_SKILLS = [f"{skill.__module__}.{skill.__name__}"]
    return provision_bot(sandbox_portal.portal)


def second_admin(sandbox_portal, *, language: str = "en") -> int:
    """Another admin of the portal, signed in once (tenants knows the portal's admins by their sessions)."""
    control = sandbox_portal.control
    user = control.post(
        f"/_sandbox/portals/{sandbox_portal.sandbox_portal_id}/users",
        json={"name": "Carla Admin", "isAdmin": True, "language": language},
    ).json()["data"]["user"]
    portal = next(
        p
        for p in control.get("/_sandbox/portals").json()["data"]["portals"]
        if p["id"] == sandbox_portal.sandbox_portal_id
    )
    session = control.post(
        "/_sandbox/sessions", json={"appKey": sandbox_portal.app_key, "userId": user["id"]}
    )
    store_sandbox_session(portal=portal, user=user, session=session.json()["data"])
    return user["id"]


def notices(sandbox_portal, bot: Bot) -> list[dict]:
    return [
        m
        for m in sandbox_portal.bot_messages(bot.vibe_bot_id)
        if NOTICE in m["text"] or RUSSIAN_NOTICE in m["text"]
    ]


def per_chat(sandbox_portal, bot: Bot) -> Counter:
    return Counter(m["chatId"] for m in notices(sandbox_portal, bot))


def said_by_member(sandbox_portal, bot: Bot, *texts: str) -> None:
    for text in texts:
        sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text=text)
    poll_bot_once(bot.pk)


def test_an_upload_left_in_doubt_is_told_to_each_admin_once(sandbox_portal, settings):
    """The platform took the file and the answer was lost: the upload is left in doubt and the event fails.
    Each admin hears it once, in their language, by the minute sweep (none during the handling), naming the
    skill and the person's chat, never the file's content."""
    second_admin(sandbox_portal)
    bot = bot_for(sandbox_portal, settings, UploadSkill)
    rule = {"method": "POST", "path": "/v1/bots/{bot_id}/files", "afterAction": True, "dropRate": 1.0}
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success
    said_by_member(sandbox_portal, bot, "day")
    sandbox_portal.control.delete("/_sandbox/faults")
    entry = message_entry(bot, "day")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.FAILED and entry.left_in_doubt == "upload"
    assert notices(sandbox_portal, bot) == []  # the handling sends none: the sweep does

    sweep_schedules(timezone.now())
    sweep_schedules(timezone.now() + timedelta(hours=2))  # past the window: nothing new to tell
    assert sorted(per_chat(sandbox_portal, bot).values()) == [1, 1]
    english = notices(sandbox_portal, bot)[0]["text"]
    assert "the file it was sending may or may not have arrived" in english
    assert "the private chat with Boris Ivanov" in english and "the report" not in english
    assert "asked to look for it before asking again" in english


def test_a_burst_left_in_doubt_is_one_notice_per_window_counting_the_rest(sandbox_portal, settings):
    """A platform failing mid-write fails many requests at once: one notice per admin tells the first and
    counts the rest; those after it wait for the window's end and come as one more."""
    settings.BOTCORE_DOUBT_NOTICE_WINDOW_SECONDS = 600
    bot = bot_for(sandbox_portal, settings, DoubtfulChatSkill)
    said_by_member(sandbox_portal, bot, "a1", "a2", "a3", "a4", "a5")
    now = timezone.now()
    assert send_doubt_notices(now) == 1  # the one admin
    [first] = notices(sandbox_portal, bot)
    assert "And 4 more requests were left in doubt since" in first["text"]
    assert "secret-ish" not in first["text"]

    said_by_member(sandbox_portal, bot, "b1", "b2")
    assert send_doubt_notices(now + timedelta(seconds=60)) == 0  # within the window
    assert send_doubt_notices(now + timedelta(seconds=599)) == 0
    assert len(notices(sandbox_portal, bot)) == 1
    assert send_doubt_notices(now + timedelta(seconds=601)) == 1
    later = notices(sandbox_portal, bot)[1]["text"]
    assert "And 1 more request was left in doubt since" in later
    assert send_doubt_notices(now + timedelta(seconds=1300)) == 0  # all told
    assert len(notices(sandbox_portal, bot)) == 2
    assert not EventLogEntry.objects.filter(doubt_noticed_at__isnull=True).exclude(left_in_doubt="").exists()


def test_a_sweep_killed_after_the_platform_took_the_notice_does_not_send_it_again(
    sandbox_portal, settings, monkeypatch
):
    """The sweep's worker dies after the platform posted the notice to the first admin, before anything is
    recorded of it: the next sweep, past the claim, tells the second admin and not the first again."""
    second_admin(sandbox_portal)
    bot = bot_for(sandbox_portal, settings, DoubtfulChatSkill)
    said_by_member(sandbox_portal, bot, "week")
    real = VibeClient.send_message

    def posted_then_killed(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise SystemExit("worker killed")  # as SIGKILL there: nothing after the platform's answer runs

    now = timezone.now()
    with pytest.MonkeyPatch.context() as killed:
        killed.setattr(VibeClient, "send_message", posted_then_killed)
        with pytest.raises(SystemExit):
            send_doubt_notices(now)
    assert sum(per_chat(sandbox_portal, bot).values()) == 1
    assert send_doubt_notices(now + timedelta(seconds=30)) == 0  # the dead sweep's claim still holds
    assert send_doubt_notices(now + timedelta(seconds=conf.backoff_max_seconds() + 1)) == 1
    assert sorted(per_chat(sandbox_portal, bot).values()) == [1, 1]


def test_the_notice_speaks_each_admins_language(sandbox_portal, settings):
    second_admin(sandbox_portal, language="ru")
    bot = bot_for(sandbox_portal, settings, DoubtfulChatSkill)
    said_by_member(sandbox_portal, bot, "week")
    assert send_doubt_notices(timezone.now()) == 2
    texts = sorted(m["text"] for m in notices(sandbox_portal, bot))
    assert any(RUSSIAN_NOTICE in text for text in texts) and any(NOTICE in text for text in texts)


def test_a_notice_for_an_uninstalled_portal_is_dropped(sandbox_portal, settings):
    bot = bot_for(sandbox_portal, settings, DoubtfulChatSkill)
    said_by_member(sandbox_portal, bot, "week")
    type(sandbox_portal.portal).objects.filter(pk=sandbox_portal.portal.pk).update(status="uninstalled")
    assert send_doubt_notices(timezone.now()) == 0
    assert notices(sandbox_portal, bot) == []
    assert EventLogEntry.objects.get(left_in_doubt="chat").doubt_noticed_at is not None


def test_a_name_someone_chose_puts_neither_markup_nor_a_preview_of_their_link_in_the_notice(
    sandbox_portal, settings
):
    """A portal's member names themselves (or a chat) with BB-code and a link: the admins' notice shows the
    name as typed, its markup inert, and is sent without the platform's preview of links (urlPreview,
    default true, CONTRACT B §7.3): the notice carried a card of the member's page, its title and picture
    chosen by them, under the app's own words."""
    bot = bot_for(sandbox_portal, settings, DoubtfulChatSkill)
    name = "Boris [URL=https://evil.example/a]open the app[/URL] https://evil.example/x"
    changed = sandbox_portal.control.patch(f"/_sandbox/users/{sandbox_portal.member_id}", json={"name": name})
    assert changed.is_success
    said_by_member(sandbox_portal, bot, "week")
    assert send_doubt_notices(timezone.now()) == 1

    [notice] = notices(sandbox_portal, bot)
    assert "[\u200bURL=https://evil.example/a]" in notice["text"] and "[URL=" not in notice["text"]
    [sent] = [
        call
        for call in sandbox_portal.calls(bot.vibe_bot_id)
        if call["method"] == "POST" and call["path"].endswith("/messages") and NOTICE in str(call["body"])
    ]
    assert sent["body"]["fields"].get("urlPreview") is False
