"""A save of the portal page's settings asks the platform to change the bot only when what it holds (the bot's
name and language) changes, and a portal's saves that change its settings are bounded.

From an attacker trial: each save sent a PATCH of the bot to the platform during the web request, even when
nothing changed, without limit (on the app key every portal shares, where the bot runs on it)."""

from __future__ import annotations

import pytest

from botcore.models import Bot
from botcore.services import bot_profile
from tenants.models import PortalSettings
from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db

FORM = {"action": "settings", "language": "en", "timezone": "UTC", "bot_name": ""}


class Platform:
    """Stands in for the bot's client: records each bot update it is asked for."""

    def __init__(self) -> None:
        self.updates: list[dict] = []

    def update_bot(self, bot_id: int, **fields: str) -> None:
        self.updates.append({"bot_id": bot_id, **fields})


@pytest.fixture
def platform(monkeypatch) -> Platform:
    platform = Platform()
    monkeypatch.setattr(bot_profile, "client_for_bot", lambda bot: platform)
    return platform


@pytest.fixture
def admin(fresh_rate_limits):
    portal = make_portal("acme")
    Bot.objects.create(portal=portal, code="b", name="VibeBot", status=Bot.Status.ACTIVE, vibe_bot_id=7)
    return signed_in(portal, is_admin=True)


def test_saves_that_change_nothing_the_platform_holds_ask_nothing_of_it(admin, platform):
    answers = [admin.post("/portal/", FORM).status_code for _ in range(5)]
    assert answers == [302] * 5
    assert platform.updates == []  # five PATCHes before
    assert admin.post("/portal/", {**FORM, "bot_name": "Acme Helper"}).status_code == 302
    assert platform.updates == [{"bot_id": 7, "name": "Acme Helper", "language": "en"}]
    # The time zone is the app's own: the platform holds nothing of it.
    assert (
        admin.post("/portal/", {**FORM, "bot_name": "Acme Helper", "timezone": "Europe/Moscow"}).status_code
        == 302
    )
    assert PortalSettings.objects.get().timezone == "Europe/Moscow"
    assert admin.post("/portal/", {**FORM, "bot_name": "Acme Helper", "language": "ru"}).status_code == 302
    assert len(platform.updates) == 2


def test_a_portals_saves_that_change_its_settings_are_bounded(admin, platform, settings):
    settings.TENANTS_PORTAL_SETTINGS_SAVED_RATE = "3/h"
    answers = [admin.post("/portal/", {**FORM, "bot_name": f"Bot {n}"}) for n in range(6)]
    assert [answer.status_code for answer in answers] == [302] * 3 + [400] * 3
    assert len(platform.updates) == 3
    assert "Too many settings were saved for this portal just now" in answers[3].content.decode()
    assert PortalSettings.objects.get().bot_name == "Bot 2"
    # A save that changes nothing is not counted, and is still answered as saved.
    assert admin.post("/portal/", {**FORM, "bot_name": "Bot 2"}).status_code == 302


def test_with_the_counts_unreachable_a_change_is_not_saved_and_the_admin_is_told_to_retry(
    admin, platform, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr("tenants.views.take_slot", unreachable)
    assert admin.post("/portal/", FORM).status_code == 302  # nothing changes: no count needed
    refused = admin.post("/portal/", {**FORM, "bot_name": "Acme Helper"})
    assert refused.status_code == 503
    assert "We could not save the settings just now" in refused.content.decode()
    assert platform.updates == []
    assert not PortalSettings.objects.filter(bot_name="Acme Helper").exists()
