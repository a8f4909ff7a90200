"""The OAuth consent clicked through in a real browser: an invitation link → the sandbox's consent → back,
installed."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tenants import oauth
from tenants.models import Portal, SessionGrant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_installs_the_portal_by_clicking_through_oauth_consent(
    sandbox, settings, live_server, browser_page
):
    control = httpx.Client(base_url=sandbox.root_url)
    app = control.post("/_sandbox/apps", json={"name": "Vibe demo app"}).json()["data"]
    portal = control.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}).json()[
        "data"
    ]["portal"]
    control.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Bob Member"})
    admin = control.post(
        f"/_sandbox/portals/{portal['id']}/users", json={"name": "Alice Admin", "isAdmin": True}
    ).json()["data"]["user"]
    settings.VIBE_APP_KEY = app["key"]
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"

    page = browser_page
    # The invitation link an operator hands out (manage.py oauth_invite); a bare /oauth/start/ is refused.
    page.goto(f"{live_server.url}/oauth/start/?{urlencode({'invite': oauth.issue_invite()})}")
    page.get_by_test_id("app-name").wait_for()
    assert page.get_by_test_id("app-name").inner_text() == "Vibe demo app"
    page.get_by_test_id("user-select").select_option(str(admin["id"]))
    page.get_by_test_id("allow").click()
    page.wait_for_url(f"{live_server.url}/portal/")
    assert page.get_by_test_id("portal-status").inner_text() == "Active"
    assert "Acme" in page.content() and "Alice Admin" in page.content()

    grant = SessionGrant.objects.get()
    assert grant.source == "oauth" and grant.is_admin
    assert Portal.objects.get().member_id == portal["memberId"]
