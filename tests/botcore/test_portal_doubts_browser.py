"""A request left in doubt on the platform shows on the portal admin's page in a real browser."""

from __future__ import annotations

import pytest

from botcore.services import bots as bot_services
from botcore.services.polling import poll_bot_once
from tests.botcore.test_doubt_notices import DoubtfulChatSkill
from tests.tenants.browser_session import sign_in_browser

pytestmark = [pytest.mark.browser]


def test_the_admin_reads_a_request_left_in_doubt_without_what_the_person_wrote(
    sandbox_portal, live_server, browser_page, settings
):
    from playwright.sync_api import expect

    settings.BOTCORE_SKILLS = [f"{DoubtfulChatSkill.__module__}.{DoubtfulChatSkill.__name__}"]
    bot = bot_services.provision_bot(sandbox_portal.portal)
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="the budget")
    poll_bot_once(bot.pk)

    sign_in_browser(
        browser_page,
        url=live_server.url,
        member_id=sandbox_portal.portal.member_id,
        user_id=sandbox_portal.admin_id,
        name="Alice Admin",
        is_admin=True,
    )
    browser_page.goto(f"{live_server.url}/portal/")
    section = browser_page.get_by_test_id("doubts-section")
    expect(section).to_be_visible()
    [row] = section.get_by_test_id("doubt-row").all()
    expect(row).to_contain_text("the private chat with Boris Ivanov")
    expect(row).to_contain_text("the new chat it was creating may or may not exist")
    expect(row).to_contain_text("Not yet")
    expect(section).not_to_contain_text("the budget")
