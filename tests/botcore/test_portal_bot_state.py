"""The portal page says what the bot is doing: which credential it runs on, and why it does not answer when
it does not (broken, paused, waiting); before, a broken bot's portal read "Active" and nothing else."""

from __future__ import annotations

import pytest

from botcore.models import Bot
from tenants.models import PortalApiKey
from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal():
    return make_portal("acme")


def bot_of(portal, status: str, **fields) -> Bot:
    return Bot.objects.create(
        portal=portal, code="b", name="Acme bot", status=status, vibe_bot_id=7, **fields
    )


def test_a_broken_bot_is_said_to_everyone_and_its_reason_to_admins(portal):
    bot_of(
        portal, Bot.Status.BROKEN, broken_reason="BOT_ACCESS_DENIED: The bot belongs to a different API key"
    )
    admin_page = signed_in(portal, is_admin=True).get("/portal/").content.decode()
    member_page = signed_in(portal, is_admin=False).get("/portal/").content.decode()
    for page in (admin_page, member_page):
        assert 'data-testid="bot-section"' in page and "the platform refused it" in page
    assert "BOT_ACCESS_DENIED" in admin_page and "BOT_ACCESS_DENIED" not in member_page


@pytest.mark.parametrize(
    "status, said",
    [(Bot.Status.PAUSED, "paused by the app"), (Bot.Status.WAITING_SESSION, "waits for a session")],
)
def test_a_bot_that_does_not_answer_says_why(portal, status, said):
    bot_of(portal, status)
    assert said in signed_in(portal, is_admin=False).get("/portal/").content.decode()


def test_an_active_bot_needs_no_card(portal):
    bot_of(portal, Bot.Status.ACTIVE)
    assert (
        'data-testid="bot-section"' not in signed_in(portal, is_admin=True).get("/portal/").content.decode()
    )


def test_with_a_personal_key_and_a_session_the_page_names_the_key_the_bot_runs_on(portal):
    client = signed_in(portal, is_admin=True)  # a live session of the admin
    PortalApiKey.objects.create(
        portal=portal, key="vibe_api_" + "k" * 40, key_hint="vibe_api_…kkkk", added_by_user_id=1
    )
    page = client.get("/portal/").content.decode()
    assert "Credential: a personal key (vibe_api_…kkkk)" in page
    assert "session, until" not in page


def test_the_header_names_the_credential_and_leaves_a_paused_bot_to_its_card(portal):
    """It said "The bot runs unattended on a personal key" above "paused by the app's operators"."""
    bot_of(portal, Bot.Status.PAUSED)
    PortalApiKey.objects.create(
        portal=portal, key="vibe_api_" + "k" * 40, key_hint="vibe_api_…kkkk", added_by_user_id=1
    )
    page = signed_in(portal, is_admin=True).get("/portal/").content.decode()
    assert "paused by the app" in page and "Credential: a personal key" in page
    assert "The bot runs" not in page


def test_a_bot_whose_every_code_another_app_holds_tells_the_admin_what_to_free(portal):
    """From an attacker's trial: a portal whose codes another app squats read "the platform refused it" and
    "The platform said: BotCodesTakenError: …", in English, with the class name; only the portal's admin can
    free a code (by deleting the stale bot in Bitrix24), so the page says so, in the viewer's language."""
    bot_of(
        portal,
        Bot.Status.BROKEN,
        broken_reason="BotCodesTakenError: every code the bot may take (vibe_bot to vibe_bot_10) is held",
    )
    admin_page = signed_in(portal, is_admin=True).get("/portal/").content.decode()
    member_page = signed_in(portal, is_admin=False).get("/portal/").content.decode()
    for page in (admin_page, member_page):
        assert "another app on this portal holds every code" in page and "the platform refused it" not in page
    assert "delete the other app" in admin_page and "BotCodesTakenError" not in admin_page
    assert "vibe_bot to vibe_bot_10" in admin_page
    russian = signed_in(portal, is_admin=True).get("/portal/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "другое приложение" in russian
