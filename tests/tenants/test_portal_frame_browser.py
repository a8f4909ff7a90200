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


def test_a_refused_form_in_the_frame_of_a_phone_says_so_at_the_top_and_leads_to_its_field(
    portal_sandbox, chromium
):
    """From a phone trial: in the portal's frame (another origin) chromium blocks autofocus, so a refused
    form came back at the page's top, its mistake screens below, unseen; and nothing was read out. The
    mistakes are summed up first on the page, each a link to its field, and the title says so."""
    from playwright.sync_api import expect

    root_url, admin = portal_sandbox["root_url"], portal_sandbox["users"]["Alice Admin"]
    context = chromium.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{root_url}/portal?userId={admin['id']}")
        app = page.frame_locator('[data-testid="app-frame"]')
        app.get_by_label("Confirm").fill("not-the-domain")
        app.get_by_label("Confirm").press("Enter")
        summary = app.get_by_test_id("error-summary")
        expect(summary).to_contain_text("Type the portal's domain exactly to confirm.")
        assert summary.bounding_box()["y"] < 740  # in sight as the page comes back
        frame = page.frame(name="app")
        assert frame is not None and frame.title().startswith("Not saved:")
        summary.get_by_role("link").click()
        assert app.get_by_label("Confirm").bounding_box()["y"] < 740
        expect(app.get_by_label("Confirm")).to_have_value("not-the-domain")
    finally:
        context.close()
