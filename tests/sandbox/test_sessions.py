"""Session tokens over real HTTP: they live a configurable number of seconds on the platform's clock, then
401."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from tests.sandbox.helpers import ok, refused


@pytest.fixture
def user(ctl) -> dict:
    portal = ok(ctl.post("/_sandbox/portals", json={"name": "Acme"}))["portal"]
    return ok(ctl.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Anna Petrova"}))["user"]


@pytest.fixture
def app_key(ctl) -> str:
    return ok(ctl.post("/_sandbox/apps", json={"name": "Standup"}))["key"]


def new_session(ctl, app_key: str, user: dict, **fields) -> dict:
    return ok(ctl.post("/_sandbox/sessions", json={"appKey": app_key, "userId": user["id"], **fields}))


def headers(app_key: str, token: str) -> dict:
    return {"X-Api-Key": app_key, "Authorization": f"Bearer {token}"}


def advance(ctl, seconds: float) -> None:
    ok(ctl.post("/_sandbox/clock", json={"advanceSeconds": seconds}))


def test_a_session_lives_24_hours_by_default(ctl, api, user, app_key):
    session = new_session(ctl, app_key, user)
    me = ok(api.get("/me", headers=headers(app_key, session["token"])))
    now = datetime.fromisoformat(ok(ctl.post("/_sandbox/clock", json={"advanceSeconds": 0}))["now"])
    life = datetime.fromisoformat(me["session"]["expiresAt"]) - now
    assert timedelta(hours=23, minutes=59) <= life <= timedelta(hours=24)


def test_moving_the_clock_past_the_ttl_makes_the_token_expired(ctl, api, user, app_key):
    token = new_session(ctl, app_key, user, ttlSeconds=3600)["token"]
    advance(ctl, 3500)
    ok(api.get("/me", headers=headers(app_key, token)))
    advance(ctl, 101)
    error = refused(api.get("/me", headers=headers(app_key, token)), 401, "TOKEN_EXPIRED")
    assert "hint" in error


def test_an_expired_token_is_refused_by_bot_endpoints_too(ctl, api, user, app_key):
    token = new_session(ctl, app_key, user, ttlSeconds=60)["token"]
    assert api.get("/bots", headers=headers(app_key, token)).status_code == 200
    advance(ctl, 61)
    refused(api.get("/bots", headers=headers(app_key, token)), 401, "TOKEN_EXPIRED")
    refused(
        api.post("/bots", headers=headers(app_key, token), json={"code": "x", "name": "X"}),
        401,
        "TOKEN_EXPIRED",
    )


def test_expiry_follows_the_platform_clock_both_ways(ctl, api, user, app_key):
    token = new_session(ctl, app_key, user, ttlSeconds=60)["token"]
    advance(ctl, 120)
    refused(api.get("/me", headers=headers(app_key, token)), 401, "TOKEN_EXPIRED")
    advance(ctl, -120)  # expiry is a moment on the platform's clock, not a flag set once
    ok(api.get("/me", headers=headers(app_key, token)))


def test_the_session_ttl_setting_applies_to_new_sessions(ctl, api, user, app_key):
    ok(ctl.post("/_sandbox/settings", json={"sessionTtlSeconds": 30}))
    token = new_session(ctl, app_key, user)["token"]
    advance(ctl, 29)
    ok(api.get("/me", headers=headers(app_key, token)))
    advance(ctl, 2)
    refused(api.get("/me", headers=headers(app_key, token)), 401, "TOKEN_EXPIRED")


@pytest.mark.slow
def test_a_session_of_a_few_seconds_expires_in_real_time(ctl, api, user, app_key):
    token = new_session(ctl, app_key, user, ttlSeconds=0.3)["token"]
    deadline = time.monotonic() + 10
    while api.get("/me", headers=headers(app_key, token)).status_code == 200:
        assert time.monotonic() < deadline, "the session never expired"
        time.sleep(0.05)
    refused(api.get("/me", headers=headers(app_key, token)), 401, "TOKEN_EXPIRED")


def test_a_token_is_worthless_with_another_apps_key(ctl, api, user, app_key):
    other_key = ok(ctl.post("/_sandbox/apps", json={"name": "Other"}))["key"]
    token = new_session(ctl, app_key, user)["token"]
    refused(api.get("/me", headers=headers(other_key, token)), 401, "TOKEN_INVALID")
    refused(api.get("/bots", headers=headers(other_key, token)), 401, "TOKEN_INVALID")


def test_each_session_is_its_own_token(ctl, api, user, app_key):
    first = new_session(ctl, app_key, user, ttlSeconds=10)["token"]
    second = new_session(ctl, app_key, user, ttlSeconds=100)["token"]
    assert first != second
    advance(ctl, 50)
    refused(api.get("/me", headers=headers(app_key, first)), 401, "TOKEN_EXPIRED")
    ok(api.get("/me", headers=headers(app_key, second)))


def test_an_app_key_without_a_token_on_a_bot_endpoint_is_token_missing(api, app_key):
    refused(api.get("/bots", headers={"X-Api-Key": app_key}), 401, "TOKEN_MISSING")


def test_a_rotated_app_key_takes_the_apps_sessions_and_its_bots_stay_the_first_keys(ctl, api, user, app_key):
    """The vendor rotates the app's key (CONTRACT A §5, §7): the app's sessions work with either key, a bot
    answers only to the key that registered it, until that key is revoked; the call log names each key by
    its digest, never by value."""
    second_key = ok(ctl.post("/_sandbox/apps/keys", json={"appKey": app_key}))["key"]
    assert second_key.startswith("vibe_app_") and second_key != app_key
    token = new_session(ctl, app_key, user)["token"]
    registered = api.post("/bots", headers=headers(app_key, token), json={"code": "old", "name": "Old"})
    assert registered.status_code == 201, registered.text
    bot_id = registered.json()["data"]["bot"]["id"]
    assert ok(api.get("/me", headers=headers(second_key, token)))["currentUser"]["bitrixUserId"] == user["id"]
    refused(api.get(f"/bots/{bot_id}/events", headers=headers(second_key, token)), 403, "BOT_ACCESS_DENIED")
    ok(api.get(f"/bots/{bot_id}/events", headers=headers(app_key, token)))
    calls = [c for c in ok(ctl.get("/_sandbox/calls"))["calls"] if c["path"] == f"/v1/bots/{bot_id}/events"]
    digests = [c["keyDigest"] for c in calls]
    assert len(set(digests)) == 2 and all(len(d) == 16 for d in digests)
    assert app_key not in str(calls) and second_key not in str(calls)
    ok(ctl.post("/_sandbox/keys/revoke", json={"key": app_key}))
    refused(api.get(f"/bots/{bot_id}/events", headers=headers(app_key, token)), 403, "KEY_REVOKED")
    refused(ctl.post("/_sandbox/apps/keys", json={"appKey": "vibe_app_unknown"}), 404, "KEY_NOT_FOUND")
