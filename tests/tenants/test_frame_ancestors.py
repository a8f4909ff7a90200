"""Who may frame a portal page once its viewer is known: only the portal this viewer's session entered, never
any Bitrix24 portal. The app's session cookie is SameSite=None in production (the portal frames it from
another site), so every `https://*.bitrix24.com` page could frame a signed-in admin's settings, "Remove key"
and skill switches, and an attacker's own portal (`evil.bitrix24.com`) could clickjack them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from tenants.models import Portal
from tests.tenants.test_install_flow import (  # noqa: F401  (platform: a fixture, used by name)
    consent,
    gateway_visit,
    platform,
    session_for,
    start_url,
)
from tests.vibeapp.test_content_security_policy import BITRIX24_CLOUD, policy

pytestmark = pytest.mark.django_db(transaction=True)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def allows(sources: list[str], origin: str) -> bool:
    """Whether a browser lets a page at `origin` frame a page whose frame-ancestors lists `sources` (CSP3's
    matching of source expressions, for what the app sends: 'none', schemes, hosts with `*.` and ports)."""
    seen = urlsplit(origin)
    port = seen.port or _DEFAULT_PORTS[seen.scheme]
    for source in sources:
        if source.startswith("'"):  # 'none'; 'self' is the app's own origin, no portal's
            continue
        if source.endswith(":") and "/" not in source:
            if source[:-1] == seen.scheme or (source == "http:" and seen.scheme == "https"):
                return True
            continue
        scheme, _, rest = source.rpartition("://")
        if scheme and scheme != seen.scheme and not (scheme == "http" and seen.scheme == "https"):
            continue
        host, _, wanted_port = rest.split("/", 1)[0].partition(":")
        if host.startswith("*."):
            host_matches = (seen.hostname or "").endswith(host[1:].lower())
        else:
            host_matches = host.lower() == seen.hostname
        port_matches = wanted_port == "*" or int(wanted_port or _DEFAULT_PORTS[seen.scheme]) == port
        if host_matches and port_matches:
            return True
    return False


def test_the_matcher_reads_sources_as_a_browser_does():
    assert allows(BITRIX24_CLOUD, "https://evil.bitrix24.com")
    assert not allows(BITRIX24_CLOUD, "https://bitrix24.com.evil.example")
    assert allows(["http://127.0.0.1:8100"], "http://127.0.0.1:8100")
    assert not allows(["http://127.0.0.1:8100"], "http://127.0.0.1:8101")
    assert not allows(["'none'"], "https://acme.bitrix24.com")


def _signed_in_through_the_gateway(platform, user) -> Client:  # noqa: F811
    browser = Client()
    token = session_for(platform, user)
    entry = gateway_visit(browser, token=token, portal_id=platform["portal"]["id"], user_id=user["id"])
    assert entry.status_code == 302 and entry["Location"].endswith("/portal/")
    return browser


PAGES = [
    ("get", "/portal/", 200),
    ("get", "/portal/skills/standup/", 200),
    ("post", "/portal/", 400),  # a settings form with its mistake shown
    ("post", "/portal/skills/standup/switch/", 302),
    ("post", "/portal/uninstall/", 400),  # the domain typed wrong
]


@pytest.mark.parametrize("method, path, status", PAGES)
def test_a_viewer_who_entered_through_their_portal_is_framed_by_no_other_bitrix24_portal(
    platform,  # noqa: F811
    method,
    path,
    status,
):
    """Alice entered through acme.bitrix24.com (the gateway's token, checked with GET /v1/me): the page may be
    framed there, not by evil.bitrix24.com, which every Bitrix24 cloud zone let in."""
    browser = _signed_in_through_the_gateway(platform, platform["admin"])
    data = {"action": "settings", "language": "xx"} if path == "/portal/" else {"confirm": "nope"}
    page = getattr(browser, method)(path, data=data) if method == "post" else browser.get(path)
    assert page.status_code == status
    assert "X-Frame-Options" not in page.headers
    ancestors = policy(page)["frame-ancestors"]
    assert allows(ancestors, "https://acme.bitrix24.com")
    assert not allows(ancestors, "https://evil.bitrix24.com")
    assert not any("*" in source for source in ancestors)


def test_the_entry_records_no_domain_a_request_header_names(platform):  # noqa: F811
    """A page of another portal framing the app through the gateway brings the victim's own token, and its
    own Referer and Origin: only the platform's word on the token names the domain."""
    browser = Client()
    token = session_for(platform, platform["admin"])
    entry = browser.get(
        "/",
        headers={
            "X-Vibe-Authorization": f"Bearer {token}",
            "X-Vibe-Portal-Id": platform["portal"]["id"],
            "X-Vibe-User-Id": str(platform["admin"]["id"]),
            "Referer": "https://evil.bitrix24.com/marketplace/app/1/",
            "Origin": "https://evil.bitrix24.com",
        },
    )
    assert entry.status_code == 302
    for page in (entry, browser.get("/portal/")):
        assert not allows(policy(page)["frame-ancestors"], "https://evil.bitrix24.com")


def test_a_viewer_signed_in_with_oauth_is_framed_by_their_portal_only(platform):  # noqa: F811
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    assert browser.get(callback).status_code == 302
    ancestors = policy(browser.get("/portal/"))["frame-ancestors"]
    assert allows(ancestors, "https://acme.bitrix24.com")
    assert not allows(ancestors, "https://evil.bitrix24.com")


def test_a_portal_on_a_domain_of_its_own_frames_the_viewers_who_entered_through_it(platform):  # noqa: F811
    """The platform names the portal's own domain (Bitrix24's Professional plan): no cloud zone covers it,
    and the entry through it records it for the viewer."""
    own, own_admin = _add_portal(platform, "crm.acme.example")
    browser = Client()
    token = session_for(platform, own_admin)
    assert (
        gateway_visit(browser, token=token, portal_id=own["id"], user_id=own_admin["id"]).status_code == 302
    )
    ancestors = policy(browser.get("/portal/"))["frame-ancestors"]
    assert allows(ancestors, "https://crm.acme.example")
    assert not allows(ancestors, "https://acme.bitrix24.com")
    assert not allows(ancestors, "https://evil.bitrix24.com")


def test_a_viewer_keeps_the_domain_they_entered_through_when_the_portal_s_changes(platform):  # noqa: F811
    """The portal renamed (another sign-in stored the domain the platform names now): a viewer who entered
    through the old address, still shown there, is not refused; the new address frames them too."""
    browser = _signed_in_through_the_gateway(platform, platform["admin"])
    Portal.objects.filter(member_id=platform["portal"]["memberId"]).update(domain="acme-new.bitrix24.com")
    ancestors = policy(browser.get("/portal/"))["frame-ancestors"]
    assert allows(ancestors, "https://acme.bitrix24.com") and allows(
        ancestors, "https://acme-new.bitrix24.com"
    )
    assert not allows(ancestors, "https://evil.bitrix24.com")


def test_two_portals_viewers_in_two_browsers_are_each_framed_by_their_own_portal(platform):  # noqa: F811
    other, other_admin = _add_portal(platform, "other.bitrix24.de")
    alice = _signed_in_through_the_gateway(platform, platform["admin"])
    other_browser = Client()
    token = session_for(platform, other_admin)
    assert gateway_visit(other_browser, token=token, portal_id=other["id"], user_id=other_admin["id"])
    alices = policy(alice.get("/portal/"))["frame-ancestors"]
    others = policy(other_browser.get("/portal/"))["frame-ancestors"]
    assert not allows(alices, "https://other.bitrix24.de") and allows(others, "https://other.bitrix24.de")
    assert not allows(others, "https://acme.bitrix24.com") and allows(alices, "https://acme.bitrix24.com")


def test_before_the_viewer_is_known_the_cloud_zones_may_frame_the_page(platform):  # noqa: F811
    """The entry's refusal and the page for nobody signed in: no viewer, no portal known yet to name."""
    nobody = Client().get("/portal/")
    assert nobody.status_code == 401
    assert set(BITRIX24_CLOUD) <= set(policy(nobody)["frame-ancestors"])
    refused = gateway_visit(
        Client(), token="vibe_session_made_up", portal_id=platform["portal"]["id"], user_id=1
    )
    assert refused.status_code == 403
    assert set(BITRIX24_CLOUD) <= set(policy(refused)["frame-ancestors"])


def _add_portal(platform, domain: str) -> tuple[dict, dict]:  # noqa: F811
    control = platform["control"]
    portal = control.post("/_sandbox/portals", json={"domain": domain, "name": domain}).json()["data"][
        "portal"
    ]
    admin = control.post(
        f"/_sandbox/portals/{portal['id']}/users", json={"name": "Other Admin", "isAdmin": True}
    ).json()["data"]["user"]
    return portal, admin
