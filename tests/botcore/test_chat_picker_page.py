"""The settings page's chat picker offers a chat the bot joined however long it has been quiet: it read the
bot's newest 2,000 events, so a standup's chat quiet past them (or past the log's 14 days) left the picker,
and the page told the admin the bot was not in the chat it posts to, to add it there again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from botcore.models import Bot, BotChat, EventLogEntry, SkillConfig
from botcore.services import directory
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from botcore.tasks import prune_event_log
from tests.botcore.skills.test_portal_admin import signed_in

pytestmark = pytest.mark.slow


def standup_chat_quiet_past_the_event_log(sp, settings) -> tuple[Bot, str]:
    """The bot with the standup on a chat it joined, whose events the log has pruned since: only the bot's
    join row names the chat now."""
    settings.BOTCORE_SKILLS = ["botcore.skills.builtin.standup.StandupSkill"]
    bot = provision_bot(sp.portal)
    created = sp.control.post(
        "/_sandbox/act/chats",
        json={"userId": sp.admin_id, "title": "Team", "memberIds": [sp.member_id, bot.vibe_bot_id]},
    )
    chat = created.json()["data"]["chat"]["dialogId"]
    poll_bot_once(bot.pk)  # the bot hears it joined
    SkillConfig.objects.create(
        portal=sp.portal, skill_name="standup", is_enabled=True, options={"chat": chat}
    )
    EventLogEntry.objects.filter(bot=bot).update(received_at=timezone.now() - timedelta(days=15))
    assert prune_event_log() > 0  # quiet since: no event names the chat any more
    return bot, chat


def test_a_standup_chat_quiet_past_the_event_log_is_offered_not_said_to_be_left(sandbox_portal, settings):
    sp = sandbox_portal
    _bot, chat = standup_chat_quiet_past_the_event_log(sp, settings)

    page = signed_in(sp.portal, is_admin=True).get("/portal/skills/standup/").content.decode()
    picker = page.split('data-testid="pick-chat"')[1].split("</select>")[0]
    assert f'<option value="{chat}" selected>Team</option>' in picker
    assert 'data-testid="chat-not-joined"' not in page


def test_a_chosen_chat_past_the_pickers_cap_is_offered_as_one_the_bot_is_in(
    sandbox_portal, settings, monkeypatch
):
    """The picker offers the bot's newest MAX_OFFERED_CHATS chats: the standup's own chat, joined before
    them, was shown as one the bot is not in (the page told the admin to add the bot again), though its join
    is stored. A chosen chat the bot joined is offered under its name, past the cap, and said to be known."""
    sp = sandbox_portal
    monkeypatch.setattr(directory, "MAX_OFFERED_CHATS", 5)
    bot, chat = standup_chat_quiet_past_the_event_log(sp, settings)
    later = timezone.now() + timedelta(minutes=1)
    BotChat.objects.bulk_create(
        BotChat(
            bot=bot,
            vibe_bot_id=bot.vibe_bot_id,
            dialog_id=f"chat{9000 + n}",
            name=f"Other {n}",
            joined_at=later,
        )
        for n in range(5)
    )  # joined since: the cap's worth

    page = signed_in(sp.portal, is_admin=True).get("/portal/skills/standup/").content.decode()
    picker = page.split('data-testid="pick-chat"')[1].split("</select>")[0]
    assert f'<option value="{chat}" selected>Team</option>' in picker
    assert picker.count('<option value="chat') == 6  # the cap's chats, and the chosen one
    assert 'data-testid="chat-not-joined"' not in page
