"""The app inside the portal's frame, in Debian's chromium: the sandbox's /portal page plays the portal's
Bitrix24 page (another origin than the app's) and frames the app through the gateway, as Bitrix24 does
(CONTRACT B §5.2). The portal's pages open and their forms post in the frame; the admin is refused there."""

from __future__ import annotations

import pytest

from tenants.models import Portal, PortalSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portal_sandbox(gateway, settings):
    """The gateway's sandbox (tests/tenants/conftest.py), the app told that the sandbox's page may frame it
    (the development default names the sandbox's usual port, 8100)."""
    settings.TENANTS_FRAME_ANCESTORS = [
        *(source for source in settings.TENANTS_FRAME_ANCESTORS if "bitrix24" in source),
        gateway["root_url"],
    ]
    return gateway


def test_an_admin_opens_the_app_in_the_portals_frame_and_saves_its_settings(portal_sandbox, browser_page):
    """Every page carried X-Frame-Options DENY and frame-ancestors 'none': the frame stayed empty and no
    portal admin could open or configure the app."""
    from playwright.sync_api import expect

    root_url, admin = portal_sandbox["root_url"], portal_sandbox["users"]["Alice Admin"]
    page = browser_page
    page.goto(f"{root_url}/portal?userId={admin['id']}")
    app = page.frame_locator('[data-testid="app-frame"]')
    expect(app.get_by_role("heading", name="Acme")).to_be_visible()
    expect(app.get_by_test_id("portal-status")).to_have_text("Active")

    app.get_by_label("Time zone").fill("Asia/Vladivostok")
    app.get_by_test_id("save-settings").click()
    expect(app.get_by_test_id("notice")).to_have_text("Saved.")
    assert PortalSettings.objects.get(portal=Portal.objects.get()).timezone == "Asia/Vladivostok"
    # The frame is the app's page, the top the portal's: the app never took the whole window.
    assert page.url.startswith(f"{root_url}/portal")


def test_an_operators_page_is_refused_in_the_same_frame(portal_sandbox, chromium):
    """The admin keeps frame-ancestors 'none': chromium refuses it and the frame shows none of it. Its own
    context, as the refusal is the point (browser_page fails a test on any refusal it hears)."""
    root_url, admin = portal_sandbox["root_url"], portal_sandbox["users"]["Alice Admin"]
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        with page.expect_console_message(lambda message: "frame-ancestors 'none'" in message.text) as refusal:
            page.goto(f"{root_url}/portal?userId={admin['id']}&next=/admin/")
        assert portal_sandbox["url"] in refusal.value.text and "blocked" in refusal.value.text
        frame = page.frame(name="app")
        assert frame is not None
        assert "Django administration" not in frame.content() and "Log in" not in frame.content()
    finally:
        context.close()
