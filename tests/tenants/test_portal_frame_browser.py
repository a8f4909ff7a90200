"""The app inside the portal's frame, in Debian's chromium: the sandbox's /portal page plays the portal's
Bitrix24 page (another origin than the app's) and frames the app through the gateway, as Bitrix24 does
(CONTRACT B §5.2). The portal's pages open and their forms post in the frame; the admin is refused there."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tenants.models import Portal, PortalSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portal_sandbox(gateway, settings):
    """The gateway's sandbox (tests/tenants/conftest.py), the app told that the sandbox's page may frame it,
    whoever the viewer (the development default names the sandbox's usual port, 8100)."""
    settings.TENANTS_SHARED_FRAME_ANCESTORS = [gateway["root_url"]]
    return gateway


class _FramingPage(BaseHTTPRequestHandler):
    """GET /?src=<url>: a page whose one iframe opens `src`."""

    def do_GET(self) -> None:
        src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
        frame = f'<iframe name="app" src="{html.escape(src)}"></iframe>'
        body = f"<!doctype html><title>Another portal</title>{frame}"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_portals_page() -> Iterator[str]:
    """A page of another origin that frames any URL: it plays a page of an attacker's own Bitrix24 portal
    (evil.bitrix24.com), which a cloud zone of TENANTS_FRAME_ANCESTORS covers. Its root URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FramingPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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


def test_another_portals_page_cannot_frame_a_signed_in_admins_page(
    portal_sandbox, other_portals_page, settings, chromium
):
    """Clickjacking: the session cookie goes with a frame from another site (SameSite=None in production),
    and every Bitrix24 cloud zone could frame a viewer's page, so an attacker's own portal could show a
    signed-in admin their "Remove key" under its own bait. Once the viewer is known, only the portal they
    entered through frames them: chromium refuses the other page's frame. Here the other page's origin is
    one of TENANTS_FRAME_ANCESTORS, as evil.bitrix24.com is under https://*.bitrix24.com."""
    from playwright.sync_api import expect

    settings.TENANTS_FRAME_ANCESTORS = [*settings.TENANTS_FRAME_ANCESTORS, other_portals_page]
    root_url, admin = portal_sandbox["root_url"], portal_sandbox["users"]["Alice Admin"]
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{root_url}/portal?userId={admin['id']}")  # signed in, in the portal's own frame
        expect(page.frame_locator('[data-testid="app-frame"]').get_by_test_id("portal-status")).to_have_text(
            "Active"
        )
        victims_page = portal_sandbox["url"] + "/portal/"  # through the gateway, with its cookie
        bait = f"{other_portals_page}/?{urlencode({'src': victims_page})}"
        with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal:
            page.goto(bait)
        assert portal_sandbox["url"] in refusal.value.text and other_portals_page not in refusal.value.text
        frame = page.frame(name="app")
        assert frame is not None
        assert "Portal settings" not in frame.content() and "Acme" not in frame.content()
    finally:
        context.close()
