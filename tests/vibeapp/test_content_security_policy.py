"""Every HTML page of the app (portal pages, their error pages, the admin) carries a Content-Security-Policy:
scripts from the app's own origin only, never inline, no plugins, forms posting back to the app. The portal's
pages may be framed by the portal's Bitrix24 only (tenants/framing.py), every other page by nobody, as
X-Frame-Options DENY says. The browser tests check that no page breaks its rules (tests/conftest.py:
browser_page; tests/tenants/test_portal_frame_browser.py frames them)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.botcore.skills.test_portal_admin import make_portal, signed_in
from tests.ops.conftest import operator  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.fixture
def admin_browser() -> Client:
    return signed_in(make_portal("acme"), is_admin=True)


PAGES = [
    ("admin_browser", "/portal/"),
    ("admin_browser", "/portal/skills/standup/"),
    ("operator", "/admin/"),
    ("operator", "/admin/fleet/"),
    ("operator", "/admin/tenants/portal/"),
    (None, "/admin/login/"),
    (None, "/portal/"),  # 401: nobody signed in
]


@pytest.mark.parametrize("who, path", PAGES)
def test_each_page_carries_a_policy_that_allows_no_inline_script(request, who, path):
    client = request.getfixturevalue(who) if who else Client()
    page = client.get(path)
    assert page["Content-Type"].startswith("text/html")
    rules = policy(page)
    assert rules["script-src"] == ["'self'"]
    assert rules["object-src"] == ["'none'"] and rules["base-uri"] == ["'none'"]
    assert rules["form-action"] == ["'self'"]


BITRIX24_CLOUD = [
    f"https://*.bitrix24.{zone}"
    for zone in (
        "com", "eu", "de", "es", "com.br", "fr", "it", "pl", "uk", "com.tr", "ru", "ua", "by", "kz", "in",
        "cn", "jp", "id", "vn",
    )
]  # fmt: skip


@pytest.fixture
def own_domain_portal():
    """A portal on a domain of its own (Bitrix24's Professional plan), which no cloud zone covers."""
    portal = make_portal("acme")
    portal.domain = "crm.acme.example"
    portal.save(update_fields=["domain"])
    return portal


def assert_framed_by_bitrix24(page, *, portal_origin: str | None) -> list[str]:
    """A page for no viewer: any portal's Bitrix24 may frame it (and the one it shows, if any)."""
    assert "X-Frame-Options" not in page.headers  # it has no allow-list; frame-ancestors says who
    ancestors = policy(page)["frame-ancestors"]
    assert set(BITRIX24_CLOUD) <= set(ancestors) and "'none'" not in ancestors
    if portal_origin is not None:
        assert portal_origin in ancestors
    return ancestors


def assert_framed_by_the_viewers_portal(page, *, portal_origin: str) -> list[str]:
    """A viewer's page: their portal frames it, no cloud zone does (tests/tenants/test_frame_ancestors.py)."""
    assert "X-Frame-Options" not in page.headers
    ancestors = policy(page)["frame-ancestors"]
    assert portal_origin in ancestors and "'none'" not in ancestors
    assert not any("*" in source for source in ancestors)
    return ancestors


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("get", "/portal/", 200),
        ("get", "/", 302),  # the app's entry, a viewer in session: on to the portal page
        ("get", "/portal/skills/standup/", 200),
        ("get", "/portal/skills/no-such-skill/", 404),
        ("post", "/portal/", 400),  # a settings form with its mistakes shown at its fields
        ("post", "/portal/skills/standup/switch/", 302),  # switched off, back to the portal page
        ("post", "/portal/uninstall/", 400),  # the domain typed wrong
    ],
)
def test_a_portal_page_may_be_framed_by_the_viewers_own_portal(own_domain_portal, method, path, status):
    """Bitrix24 shows the app in a frame of the portal's page (CONTRACT B §5.2): DENY and 'none' kept every
    portal admin from opening it; a portal on its own domain is named per request, no zone covers it, and
    once the viewer is known no zone is named (any portal under it could frame their page)."""
    browser = signed_in(own_domain_portal, is_admin=True)
    data = {"action": "settings", "language": "xx"} if path == "/portal/" else {"confirm": "nope"}
    page = getattr(browser, method)(path, data=data) if method == "post" else browser.get(path)
    assert page.status_code == status
    assert_framed_by_the_viewers_portal(page, portal_origin="https://crm.acme.example")


def test_a_members_refusal_is_shown_in_the_frame_too(own_domain_portal):
    page = signed_in(own_domain_portal, is_admin=False).post("/portal/skills/standup/", data={})
    assert page.status_code == 403
    assert_framed_by_the_viewers_portal(page, portal_origin="https://crm.acme.example")


def test_the_page_after_an_uninstall_is_still_framed_by_the_portal(own_domain_portal):
    """The uninstall forgets the viewer; its result is shown where the form was, in the portal's frame: the
    form's answer as the viewer's (they were known as it came), the result as a page for no viewer."""
    browser = signed_in(own_domain_portal, is_admin=True)
    done = browser.post("/portal/uninstall/", data={"confirm": "crm.acme.example"})
    assert done.status_code == 302
    assert_framed_by_the_viewers_portal(done, portal_origin="https://crm.acme.example")
    page = browser.get(done["Location"])
    assert_framed_by_bitrix24(page, portal_origin="https://crm.acme.example")
    assert page.status_code == 200 and "uninstalled" in page.content.decode()


def test_a_verified_gateway_visit_names_its_portal(own_domain_portal):
    """The visit's token is one a live grant holds (tenants.handshakes.grant_holding): its portal is known."""
    signed_in(own_domain_portal, is_admin=True)  # stores the grant holding vibe_session_test_1
    page = Client().get(
        "/",
        headers={
            "X-Vibe-Authorization": "Bearer vibe_session_test_1",
            "X-Vibe-Portal-Id": own_domain_portal.vibe_portal_id,
            "X-Vibe-User-Id": "1",
        },
    )
    assert page.status_code == 302 and page["Location"] == "/portal/"
    assert_framed_by_the_viewers_portal(page, portal_origin="https://crm.acme.example")


def test_a_page_for_nobody_signed_in_is_framed_by_the_cloud_zones_only():
    page = Client().get("/portal/")
    assert page.status_code == 401
    ancestors = assert_framed_by_bitrix24(page, portal_origin=None)
    assert not any("acme" in source for source in ancestors)


def test_a_portal_domain_that_is_no_host_name_never_reaches_the_header(own_domain_portal):
    own_domain_portal.domain = "evil.example; script-src *"
    own_domain_portal.save(update_fields=["domain"])
    page = signed_in(own_domain_portal, is_admin=True).get("/portal/")
    assert "evil" not in page["Content-Security-Policy"]
    assert policy(page)["script-src"] == ["'self'"]


def test_a_recorded_entry_domain_that_is_no_host_name_never_reaches_the_header(own_domain_portal):
    from tenants.viewer import SESSION_KEY

    browser = signed_in(own_domain_portal, is_admin=True)
    session = browser.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "entry_domain": "x.example; script-src *"}
    session.save()
    page = browser.get("/portal/")
    assert "x.example" not in page["Content-Security-Policy"]
    assert policy(page)["script-src"] == ["'self'"]
    assert_framed_by_the_viewers_portal(page, portal_origin="https://crm.acme.example")


def test_a_portal_domain_in_another_script_is_named_as_the_browser_sees_it(own_domain_portal):
    """A domain of its own in Cyrillic: the header holds ASCII only, and the browser matches the portal's
    origin in punycode; dropped, the viewer's page named nobody and the portal's frame stayed empty."""
    own_domain_portal.domain = "црм.компания.рф"
    own_domain_portal.save(update_fields=["domain"])
    page = signed_in(own_domain_portal, is_admin=True).get("/portal/")
    assert_framed_by_the_viewers_portal(page, portal_origin="https://xn--l1ahr.xn--80aqeigdi5k.xn--p1ai")


def test_a_portal_domain_with_a_trailing_dot_is_named_as_the_browser_sees_it(own_domain_portal):
    """The fully qualified form (`crm.acme.example.`): dropped as no host name, the viewer's page was framed
    by nobody (an attacker's probe of the framing rule)."""
    own_domain_portal.domain = "CRM.acme.example."
    own_domain_portal.save(update_fields=["domain"])
    page = signed_in(own_domain_portal, is_admin=True).get("/portal/")
    assert_framed_by_the_viewers_portal(page, portal_origin="https://crm.acme.example")


def test_the_frame_ancestors_setting_replaces_the_cloud_zones_for_no_viewer(settings):
    settings.TENANTS_FRAME_ANCESTORS = ["https://*.bitrix24.de"]
    settings.TENANTS_SHARED_FRAME_ANCESTORS = []
    page = Client().get("/portal/")
    assert policy(page)["frame-ancestors"] == ["https://*.bitrix24.de"]


def test_a_viewers_page_names_their_portal_and_the_shared_sources_only(settings, own_domain_portal):
    settings.TENANTS_FRAME_ANCESTORS = ["https://*.bitrix24.de"]
    settings.TENANTS_SHARED_FRAME_ANCESTORS = ["http://127.0.0.1:8100"]
    page = signed_in(own_domain_portal, is_admin=True).get("/portal/")
    assert policy(page)["frame-ancestors"] == ["https://crm.acme.example", "http://127.0.0.1:8100"]


def test_a_viewers_page_whose_portal_names_no_host_is_framed_by_nobody(settings, own_domain_portal):
    """An empty source list drops the directive, and the page, sent without X-Frame-Options, could be framed
    by anyone."""
    settings.TENANTS_SHARED_FRAME_ANCESTORS = []
    own_domain_portal.domain = "not a host"
    own_domain_portal.save(update_fields=["domain"])
    page = signed_in(own_domain_portal, is_admin=True).get("/portal/")
    assert page.status_code == 200 and "X-Frame-Options" not in page.headers
    assert policy(page)["frame-ancestors"] == ["'none'"]


def test_in_development_the_sandbox_plays_the_portal_that_frames_the_app(settings):
    """Its /portal page, on its own port (docs/sandbox.md), frames the app through the gateway, whoever the
    viewer: it plays every portal's Bitrix24."""
    assert settings.VIBE_SANDBOX_INSTALLED
    port = settings.VIBE_SANDBOX_PORT
    shared = set(settings.TENANTS_SHARED_FRAME_ANCESTORS)
    assert {f"http://127.0.0.1:{port}", f"http://localhost:{port}"} <= shared


@pytest.mark.parametrize(
    "who, path",
    [
        ("operator", "/admin/"),
        ("operator", "/admin/fleet/"),
        ("operator", "/admin/tenants/portal/"),
        (None, "/admin/login/"),
        ("operator", "/api/ops/"),
        ("operator", "/api/schema/"),
        (None, "/metrics"),
        (None, "/oauth/start/"),  # the standalone OAuth redirect is a page of its own, never framed
    ],
)
def test_an_operators_page_is_framed_by_nobody(request, who, path):
    client = request.getfixturevalue(who) if who else Client()
    page = client.get(path)
    assert page["X-Frame-Options"] == "DENY"
    assert policy(page)["frame-ancestors"] == ["'none'"]


def test_a_frame_ancestors_entry_that_could_break_the_policy_stops_start_up(settings):
    from django.core import checks

    settings.TENANTS_FRAME_ANCESTORS = [
        "https://*.bitrix24.com",
        "'self'",
        "https://x.example;script-src",
        "'none'",
    ]
    errors = [m for m in checks.run_checks(tags=[checks.Tags.security]) if m.id == "tenants.E003"]
    assert len(errors) == 1 and "script-src" in errors[0].msg and "'none'" in errors[0].msg
    assert "bitrix24.com" not in errors[0].msg


def test_a_shared_frame_ancestor_standing_for_many_sites_stops_start_up(settings):
    """Each shared source may frame every viewer's page: a zone there would let any portal under it frame
    another portal's admin again."""
    from django.core import checks

    settings.TENANTS_SHARED_FRAME_ANCESTORS = ["https://crm.example.com", "https://*.bitrix24.com", "https:"]
    errors = [m for m in checks.run_checks(tags=[checks.Tags.security]) if m.id == "tenants.E004"]
    assert len(errors) == 1 and "*.bitrix24.com" in errors[0].msg and "'https:'" in errors[0].msg
    assert "crm.example.com" not in errors[0].msg


def test_the_default_frame_ancestors_pass_the_check():
    from django.core import checks

    assert not [
        m for m in checks.run_checks(tags=[checks.Tags.security]) if m.id in ("tenants.E003", "tenants.E004")
    ]


def test_a_form_refused_for_its_missing_cookie_says_so_in_the_portal_s_frame(own_domain_portal):
    """A browser that keeps no third-party cookie posts a form in the portal's frame without Django's CSRF
    cookie: Django's refusal page was DENY, so the frame went blank. It is the portal's page, saying why."""
    browser = signed_in(own_domain_portal, is_admin=True, csrf=True)
    page = browser.post("/portal/", data={"action": "settings", "language": "en"})
    assert page.status_code == 403
    assert "cookie" in page.content.decode()
    assert_framed_by_the_viewers_portal(page, portal_origin="https://crm.acme.example")


def test_a_form_with_the_cookie_but_no_token_is_not_blamed_on_the_cookie(own_domain_portal):
    """From an outside probe: every refusal said the browser had kept no cookie, also where it had and the
    form came without its token (or from another site): the advice to open the app in a tab of its own did
    not help there."""
    browser = signed_in(own_domain_portal, is_admin=True, csrf=True)
    browser.get("/portal/")  # the page sets the CSRF cookie
    assert "csrftoken" in browser.cookies
    page = browser.post("/portal/", data={"action": "settings", "language": "en"})
    text = page.content.decode()
    assert page.status_code == 403 and "did not send the app's cookie" not in text
    assert "security token" in text and "Reload the page" in text
    assert_framed_by_the_viewers_portal(page, portal_origin="https://crm.acme.example")


def test_anyone_else_s_form_refused_by_the_csrf_check_gets_django_s_page_framed_by_nobody():
    page = Client(enforce_csrf_checks=True).post("/admin/login/", data={"username": "x", "password": "y"})
    assert page.status_code == 403 and page["X-Frame-Options"] == "DENY"
    assert policy(page)["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/", "/admin/fleet/"])
def test_a_portal_viewer_s_post_to_an_operators_page_refused_by_the_csrf_check_is_framed_by_nobody(
    own_domain_portal, path
):
    """From a security probe: the refusal went to the portal's frameable page, whatever page it posted to."""
    page = signed_in(own_domain_portal, is_admin=True, csrf=True).post(path, data={})
    assert page.status_code == 403 and page["X-Frame-Options"] == "DENY"
    assert policy(page)["frame-ancestors"] == ["'none'"]
