"""GET /v1/me over real HTTP: who an app key (with and without a session) or a personal key belongs to."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.helpers import ok, refused


@pytest.fixture
def portal(ctl) -> dict:
    return ok(ctl.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}))["portal"]


@pytest.fixture
def admin(ctl, portal) -> dict:
    return ok(
        ctl.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Anna Petrova", "isAdmin": True})
    )["user"]


@pytest.fixture
def member(ctl, portal) -> dict:
    return ok(
        ctl.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Борис Иванов", "language": "ru"})
    )["user"]


@pytest.fixture
def app(ctl) -> dict:
    return ok(ctl.post("/_sandbox/apps", json={"name": "Standup", "scopes": ["imbot", "im"]}))


def session_of(ctl, app_key: str, user: dict, **fields) -> dict:
    return ok(ctl.post("/_sandbox/sessions", json={"appKey": app_key, "userId": user["id"], **fields}))


def me(api, key: str | None, token: str | None = None) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["X-Api-Key"] = key
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.get("/me", headers=headers)


# --- app key with a session ------------------------------------------------------------------------------
def test_app_key_with_session_names_the_portal_the_user_and_the_session_expiry(ctl, api, portal, member, app):
    session = session_of(ctl, app["key"], member)
    data = ok(me(api, app["key"], session["token"]))
    assert data["type"] == "app"
    assert data["portal"] == {
        "id": portal["id"],
        "domain": "acme.bitrix24.com",
        "name": "Acme",
        "memberId": portal["memberId"],
    }
    assert data["currentUser"] == {"bitrixUserId": member["id"], "name": "Борис Иванов", "isAdmin": False}
    assert data["session"] == {"expiresAt": session["expiresAt"]}
    assert data["app"] == {"id": app["app"]["id"], "name": "Standup"}
    assert {"imbot", "im"} <= set(data["scopes"])
    assert data["owner"] is None


def test_an_admin_session_says_is_admin(ctl, api, admin, app):
    data = ok(me(api, app["key"], session_of(ctl, app["key"], admin)["token"]))
    assert data["currentUser"]["isAdmin"] is True


def test_app_key_without_bearer_has_no_current_user_and_no_portal(api, app):
    data = ok(me(api, app["key"]))
    assert data["type"] == "app"
    assert data["currentUser"] is None and data["portal"] is None and data["session"] is None
    assert data["app"]["name"] == "Standup"


def test_a_non_bearer_authorization_counts_as_no_session(api, app):
    data = ok(api.get("/me", headers={"X-Api-Key": app["key"], "Authorization": "Basic dXNlcjpwYXNz"}))
    assert data["currentUser"] is None


# --- personal key ------------------------------------------------------------------------------------------
def test_personal_key_is_type_api_and_acts_as_its_owner(ctl, api, portal, admin):
    key = ok(ctl.post("/_sandbox/keys", json={"userId": admin["id"]}))["key"]
    data = ok(me(api, key))
    assert data["type"] == "api"
    assert data["owner"] == {"userId": admin["id"], "name": "Anna Petrova"}
    assert data["currentUser"] == {"bitrixUserId": admin["id"], "name": "Anna Petrova", "isAdmin": True}
    assert data["portal"]["id"] == portal["id"] and data["portal"]["memberId"] == portal["memberId"]
    assert data["session"] is None and data["app"] is None


def test_personal_key_ignores_a_bearer(ctl, api, admin, member, app):
    key = ok(ctl.post("/_sandbox/keys", json={"userId": admin["id"]}))["key"]
    foreign = session_of(ctl, app["key"], member)["token"]
    assert ok(me(api, key, foreign))["currentUser"]["bitrixUserId"] == admin["id"]


def test_me_needs_no_imbot_scope_and_lists_the_keys_scopes_plus_vibe_infra(ctl, api, admin):
    key = ok(ctl.post("/_sandbox/keys", json={"userId": admin["id"], "scopes": ["crm"]}))["key"]
    assert ok(me(api, key))["scopes"] == ["crm", "vibe:infra"]


# --- never the secret itself -----------------------------------------------------------------------------
def test_key_prefix_tells_the_key_apart_without_revealing_it(ctl, api, member, app):
    token = session_of(ctl, app["key"], member)["token"]
    response = me(api, app["key"], token)
    data = ok(response)
    assert data["keyPrefix"] == app["key"][: len("vibe_app_") + 4]
    assert app["key"] not in response.text and token not in response.text


def test_personal_key_prefix_starts_with_vibe_api(ctl, api, admin):
    key = ok(ctl.post("/_sandbox/keys", json={"userId": admin["id"]}))["key"]
    response = me(api, key)
    assert ok(response)["keyPrefix"].startswith("vibe_api_") and key not in response.text


# --- refusals --------------------------------------------------------------------------------------------
def test_no_key_is_auth_required(api):
    refused(me(api, None), 401, "AUTH_REQUIRED")


def test_unknown_key_is_invalid_api_key(api):
    refused(me(api, "vibe_app_" + "0" * 40), 401, "INVALID_API_KEY")


@pytest.mark.parametrize("kind", ["app", "api"])
def test_revoked_key_is_key_revoked(ctl, api, admin, app, kind):
    key = app["key"] if kind == "app" else ok(ctl.post("/_sandbox/keys", json={"userId": admin["id"]}))["key"]
    ok(ctl.post("/_sandbox/keys/revoke", json={"key": key}))
    refused(me(api, key), 403, "KEY_REVOKED")


def test_unknown_token_is_token_invalid(api, app):
    refused(me(api, app["key"], "vibe_session_not-a-real-one"), 401, "TOKEN_INVALID")


def test_a_token_of_another_app_is_token_invalid(ctl, api, member, app):
    other = ok(ctl.post("/_sandbox/apps", json={"name": "Other"}))
    token = session_of(ctl, other["key"], member)["token"]
    refused(me(api, app["key"], token), 401, "TOKEN_INVALID")


def test_an_expired_token_is_token_expired(ctl, api, member, app):
    token = session_of(ctl, app["key"], member, ttlSeconds=-1)["token"]
    refused(me(api, app["key"], token), 401, "TOKEN_EXPIRED")


def test_me_is_recorded_without_the_key(ctl, api, member, app):
    token = session_of(ctl, app["key"], member)["token"]
    ok(me(api, app["key"], token))
    response = ctl.get("/_sandbox/calls")
    calls = [c for c in ok(response)["calls"] if c["path"] == "/v1/me"]
    assert [(c["keyKind"], c["hadBearer"], c["status"]) for c in calls] == [("app", True, 200)]
    assert app["key"] not in response.text and token not in response.text
