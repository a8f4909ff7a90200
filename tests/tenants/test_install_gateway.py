"""The whole install through the sandbox's gateway in front of a live app server: a portal admin opens the
app, the gateway injects X-Vibe-* headers, the app checks them with GET /v1/me and installs the portal."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from tenants.models import Portal, SessionGrant

pytestmark = pytest.mark.django_db(transaction=True)


def open_app(gateway, user_name: str) -> httpx.Response:
    with httpx.Client(follow_redirects=True, timeout=15) as browser:
        return browser.get(
            f"{gateway['url']}/_gateway/open",
            params={"userId": gateway["users"][user_name]["id"], "next": "/"},
        )


def test_an_admin_opening_the_app_installs_the_portal_through_the_gateway(gateway):
    page = open_app(gateway, "Alice Admin")
    assert page.status_code == 200
    assert "Portal settings" in page.text and "Acme" in page.text
    portal = Portal.objects.get()
    assert portal.member_id == gateway["portal"]["memberId"] and portal.status == Portal.Status.ACTIVE
    grant = SessionGrant.objects.get()
    assert grant.source == "gateway" and grant.is_admin


def test_an_install_assumes_the_contracts_session_life_when_me_does_not_say_it(gateway, settings):
    """The me-no-expiry dialect: GET /v1/me names no session.expiresAt; the install still succeeds."""
    settings.TENANTS_DEFAULT_SESSION_SECONDS = 5 * 3600
    spoken = gateway["control"].post("/_sandbox/dialects", json={"dialects": ["me-no-expiry"]})
    assert spoken.status_code == 200
    before = timezone.now()
    page = open_app(gateway, "Alice Admin")
    assert page.status_code == 200 and "Portal settings" in page.text
    grant = SessionGrant.objects.get()
    assert before + timedelta(hours=5) <= grant.expires_at <= timezone.now() + timedelta(hours=5)
    assert Portal.objects.get().status == Portal.Status.ACTIVE


@pytest.mark.slow
def test_a_member_first_is_refused_then_refreshes_after_the_admin_installed(gateway):
    refused = open_app(gateway, "Bob Member")
    assert refused.status_code == 403 and "administrator must open it first" in refused.text
    open_app(gateway, "Alice Admin")
    member_page = open_app(gateway, "Bob Member")
    assert member_page.status_code == 200 and "Portal settings" not in member_page.text
    assert SessionGrant.objects.count() == 2


def test_headers_a_browser_forges_never_reach_the_app(gateway, settings):
    forged = {
        "X-Vibe-Authorization": "Bearer vibe_session_forged",
        "X-Vibe-Portal-Id": gateway["portal"]["id"],
        "X-Vibe-User-Id": str(gateway["users"]["Alice Admin"]["id"]),
        "X-Vibe-User-Role": "ADMIN",
    }
    page = httpx.get(f"{gateway['url']}/", headers=forged, follow_redirects=True)
    assert page.status_code == 200 and "Open this app from your Bitrix24 portal" in page.text
    assert not Portal.objects.exists()


def test_make_run_says_whether_its_demo_portal_was_installed_now_or_opened_again(gateway):
    """`make run` opens the app as the portal's admin at every start: the first start installs the portal,
    later ones open it again; its line said "(the first time, that installs it)" every time."""
    from io import StringIO

    from vibeapp.management.commands.runstack import Command

    def start_once() -> str:
        out = StringIO()
        Command(stdout=out)._install_demo_portal(sandbox=gateway["root_url"], gateway=gateway["url"])
        return out.getvalue()

    assert start_once() == "Demo portal installed: opened by Alice Admin through the gateway.\n"
    assert Portal.objects.get().status == Portal.Status.ACTIVE
    again = "Demo portal opened again by Alice Admin through the gateway (installed already).\n"
    assert start_once() == again
    Portal.objects.update(status=Portal.Status.UNINSTALLED)  # its admin uninstalled the app meanwhile
    assert start_once() == "Demo portal installed: opened by Alice Admin through the gateway.\n"
