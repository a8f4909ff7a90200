"""Each portal setting an admin saves in a real browser takes effect on the platform's chat page."""

from __future__ import annotations

import pytest

from botcore.services import bots as bot_services
from tests.tenants.browser_session import sign_in_browser

pytestmark = [pytest.mark.browser]


@pytest.fixture
def admin_page(sandbox_portal, live_server, browser_page):
    """The portal's bot provisioned, and the browser signed in to the app as the portal's admin."""
    bot = bot_services.provision_bot(sandbox_portal.portal)
    sign_in_browser(
        browser_page,
        url=live_server.url,
        member_id=sandbox_portal.portal.member_id,
        user_id=sandbox_portal.admin_id,
        name="Alice Admin",
        is_admin=True,
    )
    browser_page.goto(f"{live_server.url}/portal/")
    return browser_page, bot


def open_bot_chat(page, *, sandbox, user_id: int, bot_id: int) -> None:
    page.goto(f"{sandbox.root_url}/chat?userId={user_id}")
    page.locator(f'[data-testid="dialog-item"][data-dialog-key="bot-{bot_id}"]').click()


def test_the_bot_name_setting_renames_the_bot_on_the_platform(sandbox, sandbox_portal, admin_page):
    from playwright.sync_api import expect

    page, bot = admin_page
    page.get_by_label("Bot name").fill("Acme Helper")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")

    open_bot_chat(page, sandbox=sandbox, user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id)
    expect(page.get_by_test_id("chat-title")).to_have_text("Acme Helper")


def test_the_language_setting_sets_the_bots_language_on_the_platform(sandbox, sandbox_portal, admin_page):
    from playwright.sync_api import expect

    page, bot = admin_page
    page.get_by_label("Language").select_option("ru")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("notice")).to_be_visible()

    open_bot_chat(page, sandbox=sandbox, user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id)
    expect(page.get_by_test_id("chat-subtitle")).to_contain_text("language: ru")


def test_the_standup_form_offers_the_bots_chats_and_the_portals_people(
    sandbox, sandbox_portal, admin_page, live_server
):
    """The admin picks a chat by its name and people by theirs; nobody types chat3 or user ids."""
    from playwright.sync_api import expect

    from botcore.models import SkillConfig
    from botcore.services.polling import poll_bot_once

    page, bot = admin_page
    created = sandbox_portal.control.post(
        "/_sandbox/act/chats",
        json={
            "userId": sandbox_portal.admin_id,
            "title": "Daily sync",
            "memberIds": [sandbox_portal.member_id, bot.vibe_bot_id],
        },
    )
    assert created.status_code == 200, created.text
    dialog_id = created.json()["data"]["chat"]["dialogId"]
    poll_bot_once(bot.pk)  # the bot hears it joined the chat, as the live poller would

    page.goto(f"{live_server.url}/portal/skills/standup/")
    page.get_by_test_id("pick-chat").select_option(label="Daily sync")
    # The people picker is a named group, its hint read with it (an outside trial found a label on a div).
    people = page.get_by_role("group", name="Participants")
    expect(people).to_have_attribute("aria-describedby", "help-participants")
    people.get_by_label("Boris Ivanov").check()
    page.get_by_test_id("is-enabled").check()
    page.get_by_test_id("save-skill").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")

    options = SkillConfig.objects.get(portal=sandbox_portal.portal, skill_name="standup").options
    assert options["chat"] == dialog_id and options["participants"] == [sandbox_portal.member_id]


def test_the_time_zone_setting_sets_the_clock_the_skills_run_on(sandbox_portal, admin_page, live_server):
    """The platform has no time zone of a bot: the setting takes effect in when the skills' schedules fire
    (tests/botcore/skills/test_scheduling.py), and the skill pages say which clock their times are on."""
    from playwright.sync_api import expect

    from botcore.services.skill_schedules import portal_zone
    from tenants.models import PortalSettings

    page, _ = admin_page
    page.get_by_label("Time zone").fill("Asia/Vladivostok")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")

    page.goto(f"{live_server.url}/portal/skills/standup/")
    expect(page.get_by_test_id("clock-ask_at")).to_contain_text("Asia/Vladivostok")
    zone = PortalSettings.objects.get(portal=sandbox_portal.portal).timezone
    assert str(portal_zone(zone)) == "Asia/Vladivostok"


def test_a_secret_option_is_typed_once_never_shown_again_kept_when_left_empty_and_removed_on_request(
    sandbox_portal, admin_page, live_server, settings
):
    """Another service's token, given to a skill on its settings page in a real browser: the page never holds
    it again (not in the field, not in the HTML), saving other options keeps it, *Remove it* removes it."""
    from playwright.sync_api import expect

    from botcore.selectors import list_enabled_skills

    settings.BOTCORE_SKILLS = ["help", "tests.botcore.skills.tracker.TrackerSkill", "echo"]
    token = "jira-pat-0a1b2c3d4e"

    def tracker_token() -> str:
        return next(o for s, o in list_enabled_skills(sandbox_portal.portal) if s.name == "tracker")["token"]

    page, _ = admin_page
    page.goto(f"{live_server.url}/portal/skills/tracker/")
    page.get_by_test_id("is-enabled").check()
    page.get_by_label("API token").fill(token)
    page.get_by_test_id("save-skill").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    assert tracker_token() == token

    page.goto(f"{live_server.url}/portal/skills/tracker/")
    expect(page.get_by_label("API token")).to_have_value("")
    expect(page.get_by_label("API token")).to_have_attribute("placeholder", "Set: leave empty to keep it")
    assert token not in page.content()
    page.get_by_label("Project").fill("WEB")
    page.get_by_test_id("save-skill").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    assert tracker_token() == token

    page.goto(f"{live_server.url}/portal/skills/tracker/")
    page.get_by_test_id("clear-token").check()
    page.get_by_test_id("save-skill").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    assert tracker_token() == ""


def test_a_whole_number_option_offers_its_declared_bounds_and_the_browser_keeps_to_them(
    sandbox_portal, admin_page, live_server, settings
):
    """The number inputs had no min or max: the spin buttons ran past the option's range and nothing said
    it before the server's refusal. The browser now keeps to the declared bounds; the server still checks."""
    from playwright.sync_api import expect

    from botcore.models import SkillConfig

    settings.BOTCORE_SKILLS = ["help", "tests.botcore.skills.dice.DiceSkill", "echo"]
    page, _ = admin_page
    page.goto(f"{live_server.url}/portal/skills/dice/")
    sides = page.get_by_label("Sides")
    expect(sides).to_have_attribute("min", "2")
    expect(sides).to_have_attribute("max", "100")
    sides.fill("101")
    assert sides.evaluate("input => input.validity.rangeOverflow")
    page.get_by_test_id("is-enabled").check()
    page.get_by_test_id("save-skill").click()
    expect(page.get_by_test_id("notice")).to_have_count(0)  # not sent: the browser says why at the field
    assert not SkillConfig.objects.filter(skill_name="dice").exists()
    sides.fill("100")
    page.get_by_test_id("save-skill").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    assert SkillConfig.objects.get(skill_name="dice").options["sides"] == 100


def test_a_choice_option_is_picked_by_its_label_and_stored_as_the_choice(
    sandbox_portal, admin_page, live_server, settings
):
    """The select showed a choice option's raw values ("total", "each"); it shows each choice's label in the
    admin's language, and what is stored is still the choice."""
    from playwright.sync_api import expect

    from botcore.models import SkillConfig

    settings.BOTCORE_SKILLS = ["help", "tests.botcore.skills.dice.DiceSkill", "echo"]
    page, _ = admin_page
    page.goto(f"{live_server.url}/portal/skills/dice/")
    show = page.get_by_label("Show")
    expect(show.locator("option")).to_have_text(["The total", "Each die"])
    show.select_option(label="Each die")
    page.get_by_test_id("is-enabled").check()
    page.get_by_test_id("save-skill").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    assert SkillConfig.objects.get(skill_name="dice").options["show"] == "each"
    page.goto(f"{live_server.url}/portal/skills/dice/")
    expect(page.get_by_label("Show")).to_have_value("each")
