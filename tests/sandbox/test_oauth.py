"""The OAuth redirect over real HTTP: consent page, Allow/Deny, single-use short-lived codes, the code
exchange."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.sandbox.helpers import ok, refused

CALLBACK = "https://app.example.com/oauth/callback"


@pytest.fixture
def http(sandbox):
    """A browser-like client on the sandbox's root; redirects are looked at, not followed."""
    with httpx.Client(base_url=sandbox.root_url, timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
def world(http) -> dict:
    acme = ok(http.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}))["portal"]
    globex = ok(http.post("/_sandbox/portals", json={"domain": "globex.bitrix24.com", "name": "Globex"}))[
        "portal"
    ]

    def user(portal: dict, name: str, **fields) -> dict:
        return ok(http.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": name, **fields}))["user"]

    return {
        "acme": acme,
        "globex": globex,
        "anna": user(acme, "Anna Petrova", isAdmin=True),
        "boris": user(acme, "Boris Ivanov"),
        "greta": user(globex, "Greta Globex"),
        "app": ok(http.post("/_sandbox/apps", json={"name": "Standup bot", "scopes": ["imbot", "im"]})),
        "other_app": ok(http.post("/_sandbox/apps", json={"name": "Other app"})),
    }


def authorize_page(http, app_key: str, redirect_uri: str = CALLBACK, **params) -> httpx.Response:
    return http.get(
        "/v1/oauth/authorize", params={"app_key": app_key, "redirect_uri": redirect_uri, **params}
    )


def consent(
    http,
    app_key: str,
    user: dict,
    *,
    decision: str = "allow",
    redirect_uri: str = CALLBACK,
    state: str | None = "st-123",
) -> httpx.Response:
    form = {
        "app_key": app_key,
        "redirect_uri": redirect_uri,
        "portal_id": user["portalId"],
        "user_id": str(user["id"]),
        "decision": decision,
    }
    if state is not None:
        form["state"] = state
    return http.post("/v1/oauth/authorize", data=form)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def exchange(http, app_key: str, code: str, redirect_uri: str = CALLBACK) -> httpx.Response:
    return http.post("/v1/oauth/token", json={"app_key": app_key, "code": code, "redirect_uri": redirect_uri})


def hidden_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))


# --- the consent page ------------------------------------------------------------------------------------
def test_consent_page_shows_the_app_its_scopes_the_portals_and_the_first_portals_users(http, world):
    page = authorize_page(http, world["app"]["key"], state="xyz")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Standup bot" in page.text and "imbot" in page.text and ">im<" in page.text
    assert "Acme (acme.bitrix24.com)" in page.text and "Globex (globex.bitrix24.com)" in page.text
    assert "Anna Petrova" in page.text and "Boris Ivanov" in page.text and "Greta Globex" not in page.text
    assert "app.example.com" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_consent_page_shows_the_users_of_the_chosen_portal(http, world):
    page = authorize_page(http, world["app"]["key"], portal_id=world["globex"]["id"])
    assert "Greta Globex" in page.text and "Anna Petrova" not in page.text


def test_consent_page_escapes_names_from_state(http, world):
    portal = ok(http.post("/_sandbox/portals", json={"name": "<script>alert(1)</script>"}))["portal"]
    ok(http.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "<b>Mallory</b>"}))
    page = authorize_page(http, world["app"]["key"], portal_id=portal["id"])
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert "<b>Mallory</b>" not in page.text and "&lt;b&gt;Mallory&lt;/b&gt;" in page.text


def test_the_page_form_carries_what_the_post_needs(http, world):
    page = authorize_page(http, world["app"]["key"], state="s&t=1")
    fields = hidden_fields(page.text)
    assert fields["redirect_uri"] == CALLBACK and fields["state"] == "s&amp;t=1"
    assert fields["portal_id"] == world["acme"]["id"]


# --- the whole dance ---------------------------------------------------------------------------------------
def test_full_redirect_dance_yields_a_session_token_that_acts_as_the_chosen_user(http, world):
    key = world["app"]["key"]
    assert authorize_page(http, key, state="st-123").status_code == 200
    allowed = consent(http, key, world["boris"], state="st-123")
    location = urlsplit(allowed.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "app.example.com",
        "/oauth/callback",
    )
    query = parse_qs(location.query)
    assert query["state"] == ["st-123"] and query["code"][0]

    data = ok(exchange(http, key, query["code"][0]))
    assert data["access_token"].startswith("vibe_session_") and data["token_type"] == "Bearer"
    assert data["portal"] == {
        "id": world["acme"]["id"],
        "domain": "acme.bitrix24.com",
        "name": "Acme",
        "memberId": world["acme"]["memberId"],
    }
    assert data["user"] == {
        "id": world["boris"]["id"],
        "bitrixUserId": world["boris"]["id"],
        "name": "Boris Ivanov",
        "isAdmin": False,
    }

    me = ok(http.get("/v1/me", headers={"X-Api-Key": key, "Authorization": f"Bearer {data['access_token']}"}))
    assert me["currentUser"]["bitrixUserId"] == world["boris"]["id"]
    assert me["session"]["expiresAt"] == data["expires_at"]
    bots = http.get("/v1/bots", headers={"X-Api-Key": key, "Authorization": f"Bearer {data['access_token']}"})
    assert bots.status_code == 200


def test_expires_in_follows_the_session_ttl(http, world):
    ok(http.post("/_sandbox/settings", json={"sessionTtlSeconds": 3600}))
    data = ok(
        exchange(http, world["app"]["key"], code_from(consent(http, world["app"]["key"], world["anna"])))
    )
    assert 3590 <= data["expires_in"] <= 3600


def test_state_comes_back_exactly_and_the_redirect_uris_own_query_is_kept(http, world):
    state = "a b&c=d/é?"
    redirect_uri = "http://localhost:8000/cb?tenant=7&x=%2F"
    response = consent(http, world["app"]["key"], world["anna"], redirect_uri=redirect_uri, state=state)
    location = response.headers["location"]
    assert location.startswith("http://localhost:8000/cb?tenant=7&x=%2F&")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state] and query["tenant"] == ["7"] and query["x"] == ["/"]


def test_without_a_state_none_is_added(http, world):
    response = consent(http, world["app"]["key"], world["anna"], state=None)
    assert "state" not in parse_qs(urlsplit(response.headers["location"]).query)


def test_deny_redirects_with_access_denied_and_the_state(http, world):
    response = consent(http, world["app"]["key"], world["anna"], decision="deny", state="st-9")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": ["st-9"]}


# --- codes -------------------------------------------------------------------------------------------------
def test_a_code_works_once(http, world):
    key = world["app"]["key"]
    code = code_from(consent(http, key, world["anna"]))
    ok(exchange(http, key, code))
    error = refused(exchange(http, key, code), 400, "INVALID_GRANT")
    assert "already been used" in error["message"]


def test_an_expired_code_is_refused(http, world):
    key = world["app"]["key"]
    code = code_from(consent(http, key, world["anna"]))
    ok(http.post("/_sandbox/clock", json={"advanceSeconds": 61}))
    assert "expired" in refused(exchange(http, key, code), 400, "INVALID_GRANT")["message"]


def test_a_code_is_still_good_just_before_it_expires(http, world):
    key = world["app"]["key"]
    code = code_from(consent(http, key, world["anna"]))
    ok(http.post("/_sandbox/clock", json={"advanceSeconds": 55}))
    ok(exchange(http, key, code))


def test_a_different_redirect_uri_is_refused(http, world):
    key = world["app"]["key"]
    code = code_from(consent(http, key, world["anna"]))
    refused(exchange(http, key, code, redirect_uri=CALLBACK + "/other"), 400, "INVALID_GRANT")


def test_a_code_is_refused_with_another_apps_key(http, world):
    code = code_from(consent(http, world["app"]["key"], world["anna"]))
    error = refused(exchange(http, world["other_app"]["key"], code), 400, "INVALID_GRANT")
    assert "another app" in error["message"]


def test_a_refused_exchange_spends_the_code(http, world):
    key = world["app"]["key"]
    code = code_from(consent(http, key, world["anna"]))
    refused(exchange(http, key, code, redirect_uri=CALLBACK + "/other"), 400, "INVALID_GRANT")
    refused(exchange(http, key, code), 400, "INVALID_GRANT")


def test_an_unknown_code_is_refused(http, world):
    refused(exchange(http, world["app"]["key"], "vibe_code_made-up"), 400, "INVALID_GRANT")


def test_a_reset_forgets_codes(http, world, sandbox):
    key = world["app"]["key"]
    code = code_from(consent(http, key, world["anna"]))
    sandbox.reset()
    refused(exchange(http, key, code), 401, "INVALID_API_KEY")


# --- bad requests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("app_key", [None, "", "vibe_app_unknown", "garbage"])
def test_a_bad_app_key_gets_an_error_page_and_no_redirect(http, world, app_key):
    params = {"redirect_uri": CALLBACK, "state": "s"}
    if app_key is not None:
        params["app_key"] = app_key
    response = http.get("/v1/oauth/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html") and "app_key" in response.text


def test_a_revoked_or_personal_key_gets_an_error_page(http, world):
    personal = ok(http.post("/_sandbox/keys", json={"userId": world["anna"]["id"]}))["key"]
    assert authorize_page(http, personal).status_code == 400
    ok(http.post("/_sandbox/keys/revoke", json={"key": world["app"]["key"]}))
    response = authorize_page(http, world["app"]["key"])
    assert response.status_code == 400 and "revoked" in response.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        None,
        "",
        "/relative/path",
        "ftp://app.example.com/cb",
        "javascript:alert(1)",
        "http://",
        "https:///cb",
        "https://app.example.com/cb#frag",
        "https://app example.com/cb",
        "https://app.example.com:99999/cb",
        "https://app.example.com/" + "x" * 3000,
    ],
)
def test_an_invalid_redirect_uri_gets_an_error_page_and_no_redirect(http, world, redirect_uri):
    params = {"app_key": world["app"]["key"], "state": "s"}
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    response = http.get("/v1/oauth/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers
    assert "redirect_uri" in response.text


def test_posting_a_forged_redirect_uri_is_refused_too(http, world):
    response = consent(http, world["app"]["key"], world["anna"], redirect_uri="javascript:alert(1)")
    assert response.status_code == 400 and "location" not in response.headers


def test_allow_without_a_valid_user_shows_the_consent_page_again(http, world):
    form = {"app_key": world["app"]["key"], "redirect_uri": CALLBACK, "state": "s", "decision": "allow"}
    for user_id in ("", "abc", "99999"):
        response = http.post("/v1/oauth/authorize", data={**form, "user_id": user_id})
        assert response.status_code == 400 and "location" not in response.headers
        assert "Choose a user" in response.text and "Anna Petrova" in response.text


def test_allow_for_a_user_of_another_portal_is_refused(http, world):
    form = {
        "app_key": world["app"]["key"],
        "redirect_uri": CALLBACK,
        "decision": "allow",
        "portal_id": world["acme"]["id"],
        "user_id": str(world["greta"]["id"]),
    }
    response = http.post("/v1/oauth/authorize", data=form)
    assert response.status_code == 400 and "not a user of the chosen portal" in response.text


def test_the_token_endpoint_refuses_bad_json(http, world):
    bad = http.post("/v1/oauth/token", content=b"{not json", headers={"Content-Type": "application/json"})
    refused(bad, 400, "INVALID_JSON")
    refused(http.post("/v1/oauth/token", json=["a", "list"]), 400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "c", "redirect_uri": CALLBACK},
        {"app_key": "k", "redirect_uri": CALLBACK},
        {"app_key": "k", "code": "c"},
    ],
)
def test_the_token_endpoint_needs_all_three_fields(http, body):
    refused(http.post("/v1/oauth/token", json=body), 400, "INVALID_REQUEST")


def test_the_token_endpoint_refuses_wrong_types(http, world):
    body = {"app_key": world["app"]["key"], "code": 123, "redirect_uri": CALLBACK}
    refused(http.post("/v1/oauth/token", json=body), 400, "INVALID_REQUEST")


def test_the_token_endpoint_refuses_unknown_personal_and_revoked_keys(http, world):
    code = code_from(consent(http, world["app"]["key"], world["anna"]))
    refused(exchange(http, "vibe_app_" + "0" * 40, code), 401, "INVALID_API_KEY")
    personal = ok(http.post("/_sandbox/keys", json={"userId": world["anna"]["id"]}))["key"]
    refused(exchange(http, personal, code), 400, "INVALID_REQUEST")
    ok(http.post("/_sandbox/keys/revoke", json={"key": world["app"]["key"]}))
    refused(exchange(http, world["app"]["key"], code), 403, "KEY_REVOKED")


# --- the call log and faults ---------------------------------------------------------------------------
def test_oauth_calls_are_recorded_without_keys_or_codes(http, world):
    key = world["app"]["key"]
    authorize_page(http, key, state="s")
    code = code_from(consent(http, key, world["anna"]))
    ok(exchange(http, key, code))
    response = http.get("/_sandbox/calls")
    calls = ok(response)["calls"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("GET", "/v1/oauth/authorize", 200),
        ("POST", "/v1/oauth/authorize", 302),
        ("POST", "/v1/oauth/token", 200),
    ]
    assert key not in response.text and code not in response.text


def test_an_injected_fault_on_the_token_exchange_answers_in_the_envelope(http, world):
    ok(
        http.post(
            "/_sandbox/faults",
            json={"path": "/v1/oauth/token", "errorRate": 1, "errorCode": "BITRIX_UNAVAILABLE"},
        )
    )
    refused(exchange(http, world["app"]["key"], "whatever"), 502, "BITRIX_UNAVAILABLE")
