"""After the bot moves to a new platform bot (another key), its standup chat is one the new bot is not in:
the settings page says so, and offers only chats the current bot was seen in. Before, the page still showed
the chat as "a chat the bot was added to", and each ask failed with 403 ACCESS_DENIED at its time."""

from __future__ import annotations

import pytest

from botcore.models import Bot, SkillConfig
from botcore.services.bots import provision_bot
from botcore.services.directory import list_known_chats
from botcore.services.polling import poll_bot_once
from tenants import services as tenant_services
from tests.botcore.skills.test_portal_admin import signed_in
from tests.botcore.test_reliability import personal_key

pytestmark = pytest.mark.slow


def test_a_moved_bots_standup_chat_is_said_to_be_one_it_is_not_in(sandbox_portal, task_queue, settings):
    settings.BOTCORE_SKILLS = ["botcore.skills.builtin.standup.StandupSkill"]
    sp = sandbox_portal
    bot = provision_bot(sp.portal)
    created = sp.control.post(
        "/_sandbox/act/chats",
        json={"userId": sp.admin_id, "title": "Team", "memberIds": [sp.member_id, bot.vibe_bot_id]},
    )
    chat = created.json()["data"]["chat"]["dialogId"]
    poll_bot_once(bot.pk)  # the bot hears it joined
    assert [choice.value for choice in list_known_chats(sp.portal)] == [chat]
    SkillConfig.objects.update_or_create(
        portal=sp.portal, skill_name="standup", defaults={"is_enabled": True, "options": {"chat": chat}}
    )

    tenant_services.set_portal_api_key(sp.portal, api_key=personal_key(sp), added_by_user_id=sp.admin_id)
    task_queue.run("botcore.tasks.move_portal_bot")
    assert Bot.objects.get(pk=bot.pk).vibe_bot_id != bot.vibe_bot_id  # a new platform bot

    assert list_known_chats(sp.portal) == []
    page = signed_in(sp.portal, is_admin=True).get("/portal/skills/standup/").content.decode()
    assert 'data-testid="chat-not-joined"' in page and "add it to the chat in Bitrix24 again" in page
