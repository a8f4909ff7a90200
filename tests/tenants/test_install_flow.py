"""Installing a portal end to end against the sandbox: OAuth redirect and gateway headers, each checked
with GET /v1/me; forged headers, replayed or foreign state, and another app's token are refused."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from tenants import oauth
from tenants.models import Portal, SessionGrant

pytestmark = pytest.mark.django_db(transaction=True)


def _data(response):
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


@pytest.fixture
def platform(sandbox, settings):
    """A sandbox with our app, a portal, its admin and a member; the backend configured to use it."""
    control = httpx.Client(base_url=sandbox.root_url, timeout=10)
    app = _data(control.post("/_sandbox/apps", json={"name": "Our app"}))
    other_app = _data(control.post("/_sandbox/apps", json={"name": "Someone else's app"}))
    portal = _data(control.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}))[
        "portal"
    ]
    admin = _data(
        control.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Alice Admin", "isAdmin": True})
    )["user"]
    member = _data(control.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Bob Member"}))[
        "user"
    ]
    settings.VIBE_APP_KEY = app["key"]
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    yield {
        "control": control,
        "app": app,
        "other_app": other_app,
        "portal": portal,
        "admin": admin,
        "member": member,
        "sandbox": sandbox,
    }
    control.close()


def session_for(platform, user, app_key=None) -> str:
    body = {"appKey": app_key or platform["app"]["key"], "userId": user["id"]}
    return _data(platform["control"].post("/_sandbox/sessions", json=body))["token"]


def gateway_visit(client: Client, *, token: str, portal_id: str, user_id: int):
    return client.get(
        "/",
        headers={
            "X-Vibe-Authorization": f"Bearer {token}",
            "X-Vibe-Portal-Id": portal_id,
            "X-Vibe-User-Id": str(user_id),
            "X-Vibe-User-Role": "ADMIN",
        },
    )


def start_url() -> str:
    """/oauth/start/ with an invitation, as an operator hands it out (manage.py oauth_invite)."""
    return f"/oauth/start/?{urlencode({'invite': oauth.issue_invite()})}"


def consent(platform, authorize_url: str, *, user, decision="allow") -> str:
    """Click through the sandbox's consent page as `user`; returns where the platform sends the browser."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    page = httpx.get(authorize_url)
    assert page.status_code == 200 and "Allow" in page.text
    answer = httpx.post(
        f"{platform['sandbox'].base_url}/oauth/authorize",
        data={
            **query,
            "portal_id": platform["portal"]["id"],
            "user_id": str(user["id"]),
            "decision": decision,
        },
    )
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["location"]


def test_an_admin_opening_the_app_through_the_gateway_installs_the_portal(platform):
    client = Client()
    token = session_for(platform, platform["admin"])
    response = gateway_visit(
        client, token=token, portal_id=platform["portal"]["id"], user_id=platform["admin"]["id"]
    )
    assert response.status_code == 302 and response["Location"].endswith("/portal/")
    portal = Portal.objects.get(member_id=platform["portal"]["memberId"])
    assert portal.status == Portal.Status.ACTIVE and portal.domain == "acme.bitrix24.com"
    grant = SessionGrant.objects.get(portal=portal)
    assert grant.is_admin and grant.source == "gateway"
    page = client.get("/portal/")
    assert page.status_code == 200 and "Portal settings" in page.content.decode()


def test_a_member_visit_refreshes_but_cannot_install(platform):
    member_client = Client()
    token = session_for(platform, platform["member"])
    refused = gateway_visit(
        member_client, token=token, portal_id=platform["portal"]["id"], user_id=platform["member"]["id"]
    )
    assert refused.status_code == 403 and "administrator must open it first" in refused.content.decode()
    gateway_visit(
        Client(),
        token=session_for(platform, platform["admin"]),
        portal_id=platform["portal"]["id"],
        user_id=platform["admin"]["id"],
    )
    assert (
        gateway_visit(
            member_client, token=token, portal_id=platform["portal"]["id"], user_id=platform["member"]["id"]
        ).status_code
        == 302
    )
    assert SessionGrant.objects.count() == 2
    assert "Portal settings" not in member_client.get("/portal/").content.decode()


@pytest.mark.parametrize("forgery", ["portal", "user", "other_app_token", "unknown_token"])
def test_forged_gateway_headers_are_refused_with_a_clear_page_and_a_log_line(platform, forgery, caplog):
    token = session_for(platform, platform["admin"])
    portal_id, user_id = platform["portal"]["id"], platform["admin"]["id"]
    if forgery == "portal":
        portal_id = "00000000-0000-0000-0000-000000000000"
    elif forgery == "user":
        user_id = platform["member"]["id"]
    elif forgery == "other_app_token":
        token = session_for(platform, platform["admin"], app_key=platform["other_app"]["key"])
    else:
        token = "vibe_session_forged"
    response = gateway_visit(Client(), token=token, portal_id=portal_id, user_id=user_id)
    assert response.status_code == 403
    assert "could not verify who you are" in response.content.decode()
    assert not Portal.objects.exists()
    assert "refused" in caplog.text and token not in caplog.text


def test_the_oauth_redirect_installs_the_portal_with_a_verified_token(platform):
    browser = Client()
    start = browser.get(start_url())
    assert start.status_code == 302
    callback = consent(platform, start["Location"], user=platform["admin"])
    done = browser.get(callback)
    assert done.status_code == 302 and done["Location"].endswith("/portal/")
    grant = SessionGrant.objects.get()
    assert grant.source == "oauth" and grant.is_admin and grant.portal.status == Portal.Status.ACTIVE


def test_an_invitation_naming_a_portal_signs_in_only_to_that_portal(platform):
    """From a security trial: `oauth_invite --portal A` was "for the record" only, and its link installed
    portal B as well; a link handed to one portal's admin now completes only for that portal."""
    elsewhere = f"/oauth/start/?{urlencode({'invite': oauth.issue_invite(member_id='another-portals-id')})}"
    browser = Client()
    callback = consent(platform, browser.get(elsewhere)["Location"], user=platform["admin"])
    refused = browser.get(callback)
    assert refused.status_code == 403 and "another portal" in refused.content.decode()
    assert not SessionGrant.objects.exists() and not Portal.objects.exists()

    ours = oauth.issue_invite(member_id=platform["portal"]["memberId"])
    browser = Client()
    callback = consent(
        platform,
        browser.get(f"/oauth/start/?{urlencode({'invite': ours})}")["Location"],
        user=platform["admin"],
    )
    assert browser.get(callback).status_code == 302
    assert SessionGrant.objects.get().portal.member_id == platform["portal"]["memberId"]


def test_the_oauth_redirect_keeps_the_exchanges_expiry_when_me_does_not_say_it(platform, settings):
    """me-no-expiry: /v1/me names no session end, the token exchange does; the grant keeps the exchange's."""
    settings.TENANTS_DEFAULT_SESSION_SECONDS = 60
    _data(platform["control"].post("/_sandbox/dialects", json={"dialects": ["me-no-expiry"]}))
    _data(platform["control"].post("/_sandbox/settings", json={"sessionTtlSeconds": 7200}))
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    assert browser.get(callback).status_code == 302
    grant = SessionGrant.objects.get()
    assert grant.expires_at > timezone.now() + timedelta(hours=1)


def test_a_replayed_state_is_refused(platform, settings):
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    assert browser.get(callback).status_code == 302
    del browser.cookies[settings.SESSION_COOKIE_NAME]  # not signed in: the state is all it brings
    assert browser.get(callback).status_code == 403 and exchanges(platform) == 1


def test_a_callback_opened_again_where_it_signed_in_goes_to_the_portal_page(platform):
    """The browser's Back after signing in showed "this sign-in cannot go on" to someone signed in."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    assert browser.get(callback).status_code == 302
    again = browser.get(callback)
    assert again.status_code == 302 and again["Location"].endswith("/portal/") and exchanges(platform) == 1


def test_a_callback_the_platform_could_not_answer_may_be_tried_again(platform):
    """From a security trial: a code exchange that met the platform's 5xx answered 503 "try again shortly"
    with a Retry-After, and the same callback tried again was refused (403, "open the app from Bitrix24"):
    its state had been spent by the attempt that nobody refused."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    rule = {"method": "POST", "path": "/v1/oauth/token", "errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"}
    _data(platform["control"].post("/_sandbox/faults", json=rule))
    busy = browser.get(callback)
    assert busy.status_code == 503 and busy["Retry-After"]
    _data(platform["control"].delete("/_sandbox/faults"))
    again = browser.get(callback)
    assert again.status_code == 302 and again["Location"].endswith("/portal/")
    assert SessionGrant.objects.get().source == "oauth"
    assert browser.get(callback)["Location"].endswith("/portal/")  # spent now: the browser is signed in


def exchanges(platform) -> int:
    """How many code exchanges the platform was asked for."""
    return len(_data(platform["control"].get("/_sandbox/calls", params={"path": "/v1/oauth/token"}))["calls"])


def test_a_callback_whose_identity_check_met_an_outage_signs_in_when_tried_again(platform):
    """The code was exchanged, then GET /v1/me met the platform's 5xx: the 503 asked for the same callback
    again, which exchanged the spent code a second time and was refused ("open your sign-in link again")."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    rule = {"method": "GET", "path": "/v1/me", "errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"}
    _data(platform["control"].post("/_sandbox/faults", json=rule))
    assert browser.get(callback).status_code == 503
    _data(platform["control"].delete("/_sandbox/faults"))
    again = browser.get(callback)
    assert again.status_code == 302 and again["Location"].endswith("/portal/")
    assert SessionGrant.objects.get().source == "oauth" and exchanges(platform) == 1


def test_a_callback_opened_twice_at_once_signs_in_both_times(platform):
    """A double click: the first request signed in, but the browser dropped its answer (the second click
    cancelled it) and with it the cookies it set, so the second came with the state still pending, exchanged
    the spent code and showed "the platform did not accept this sign-in" to someone signed in."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    before = browser.cookies
    browser.cookies = before.__class__(before)  # the first answer's cookies never reach the browser
    assert browser.get(callback).status_code == 302
    browser.cookies = before
    second = browser.get(callback)
    assert second.status_code == 302 and second["Location"].endswith("/portal/")
    assert browser.get("/portal/").status_code == 200 and exchanges(platform) == 1


def test_a_callback_replayed_with_its_cookie_of_before_asks_the_platform_nothing_more(platform):
    """From an attacker trial: the browser that signed in kept its cookie of before the answer (the state
    still pending) and sent the callback again and again for the state's ten minutes: each was signed in
    with the kept exchange, and each asked GET /v1/me on the app key, whose budget every portal's bots
    share (30 in 2 s on a stack). Only the first asks; the grant it stored holds the token (as for a gateway
    visit, tenants.handshakes.grant_holding)."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    before = browser.cookies
    browser.cookies = before.__class__(before)
    assert browser.get(callback).status_code == 302
    asked = me_calls(platform)
    for _ in range(5):
        browser.cookies = before.__class__(before)  # the state still pending, every time
        again = browser.get(callback)
        assert again.status_code == 302 and again["Location"].endswith("/portal/")
    assert me_calls(platform) == asked and exchanges(platform) == 1
    assert browser.get("/portal/").status_code == 200


def me_calls(platform) -> int:
    return len(_data(platform["control"].get("/_sandbox/calls", params={"path": "/v1/me"}))["calls"])


def test_a_code_the_platform_refuses_says_how_to_sign_in_again(platform):
    """From a security trial: a code used already (or too old) that came back with a live state was refused
    with "open the app again from your Bitrix24 portal", which someone signing in with a link outside
    Bitrix24 cannot do."""
    browser = Client()
    first = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    assert browser.get(first).status_code == 302
    used_code = parse_qs(urlsplit(first).query)["code"][0]
    state = parse_qs(urlsplit(browser.get(start_url())["Location"]).query)["state"][0]
    refused = browser.get("/oauth/callback/", {"code": used_code, "state": state})
    assert refused.status_code == 403
    assert "did not accept this sign-in" in refused.content.decode()


def test_a_state_from_another_browser_is_refused(platform):
    callback = consent(platform, Client().get(start_url())["Location"], user=platform["admin"])
    assert Client().get(callback).status_code == 403
    assert not Portal.objects.exists()


def test_a_spent_or_foreign_callback_says_how_to_sign_in_again(platform):
    """From a security trial: a callback opened twice (the browser's Back after signing in) or in another
    browser than the one that followed the link said only "open the app again from your Bitrix24 portal",
    which a person signing in with a link outside Bitrix24 cannot do."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    for refused in (Client().get(callback), browser.get(callback.replace("state=", "state=x"))):
        page = refused.content.decode()
        assert refused.status_code == 403
        assert "began in another browser" in page and "Open your sign-in link again in this browser" in page


def test_the_log_line_of_a_refused_callback_says_why(platform, caplog):
    """From a security trial: the refusal's line named only the error's class, so a forged state, a
    replayed one and an expired one looked the same to an operator."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    with caplog.at_level("WARNING", logger="tenants.views"):
        Client().get(callback)
        browser.get(callback.replace("state=", "state=x"))
    lines = [r.getMessage() for r in caplog.records if "request refused" in r.getMessage()]
    assert len(lines) == 2
    assert "oauth state replayed or from another browser" in lines[0] and "oauth state forged" in lines[1]


def test_a_callback_past_the_state_s_lifetime_says_how_to_start_again(platform, settings):
    """From a security trial: "Please start again." did not say how."""
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    settings.TENANTS_OAUTH_STATE_MAX_AGE = -1  # any state is past it
    late = browser.get(callback)
    page = late.content.decode()
    assert late.status_code == 403
    assert "took too long" in page and "Open your sign-in link again" in page
    assert not Portal.objects.exists()


def test_a_tampered_state_is_refused(platform):
    browser = Client()
    callback = consent(platform, browser.get(start_url())["Location"], user=platform["admin"])
    assert browser.get(callback.replace("state=", "state=x")).status_code == 403


def test_a_denied_consent_installs_nothing(platform):
    browser = Client()
    callback = consent(
        platform, browser.get(start_url())["Location"], user=platform["admin"], decision="deny"
    )
    denied = browser.get(callback)
    assert denied.status_code == 400
    assert not Portal.objects.exists()
    # It said only "Access was not granted.": what to do if the refusal was a slip is said too.
    assert "open your sign-in link again and choose Allow" in denied.content.decode()


def test_uninstall_from_the_portal_page_and_reinstall(platform):
    client = Client()
    gateway_visit(
        client,
        token=session_for(platform, platform["admin"]),
        portal_id=platform["portal"]["id"],
        user_id=platform["admin"]["id"],
    )
    wrong = client.post("/portal/uninstall/", {"confirm": "not-the-domain"})
    assert wrong.status_code == 400  # the portal page again, the mistake said at the field: not a dead end
    page = wrong.content.decode()
    assert 'data-testid="uninstall"' in page and "Type the portal&#x27;s domain exactly to confirm." in page
    assert (
        'name="confirm" value="not-the-domain"' in page
        and Portal.objects.get().status == Portal.Status.ACTIVE
    )
    done = client.post("/portal/uninstall/", {"confirm": "acme.bitrix24.com"})
    # Answered by a redirect: a reload of the page it leads to shows it again, and posts nothing again.
    assert done.status_code == 302 and done["Location"] == "/portal/uninstalled/"
    portal = Portal.objects.get()
    assert portal.status == Portal.Status.UNINSTALLED and not SessionGrant.objects.exists()
    for _ in range(2):
        shown = client.get(done["Location"])
        assert shown.status_code == 200
        assert "The app is uninstalled from acme.bitrix24.com" in shown.content.decode()
    assert Client().get(done["Location"]).status_code == 404  # another browser: nothing uninstalled there
    # A double click posts the form twice, and the browser shows the second answer: the result again (from a
    # trial: "We could not continue. Only a portal administrator can uninstall the app.").
    again = client.post("/portal/uninstall/", {"confirm": "acme.bitrix24.com"})
    assert again.status_code == 302 and again["Location"] == "/portal/uninstalled/"
    assert Client().post("/portal/uninstall/", {"confirm": "acme.bitrix24.com"}).status_code == 403
    gateway_visit(
        Client(),
        token=session_for(platform, platform["admin"]),
        portal_id=platform["portal"]["id"],
        user_id=platform["admin"]["id"],
    )
    portal.refresh_from_db()
    assert portal.status == Portal.Status.ACTIVE
