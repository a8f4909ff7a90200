"""The sandbox's bot management endpoints over real HTTP, and the access errors every bot endpoint shares."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.sandbox.helpers import (
    client_for,
    error_of,
    refused,
    register_bot,
    seed_app,
    seed_personal,
    seed_session,
    user_writes,
)


# --- register -----------------------------------------------------------------------------------------
def test_register_answers_201_with_the_bot_nested_and_no_token(client):
    response = client.post(
        "/bots",
        json={
            "code": "echo_bot",
            "name": "Echo Bot",
            "type": "bot",
            "color": "AQUA",
            "eventMode": "fetch",
            "workPosition": "Repeats your messages",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    bot = body["data"]["bot"]
    assert isinstance(bot["id"], int)
    assert (bot["code"], bot["name"]) == ("echo_bot", "Echo Bot")
    assert (bot["type"], bot["eventMode"]) == ("bot", "fetch")
    assert (bot["color"], bot["workPosition"]) == ("AQUA", "Repeats your messages")
    assert "token" not in response.text.lower()


def test_register_defaults_to_a_fetch_mode_bot(client):
    bot = client.post("/bots", json={"code": "plain", "name": "Plain"}).json()["data"]["bot"]
    assert (bot["type"], bot["eventMode"]) == ("bot", "fetch")
    assert (bot["isHidden"], bot["isReactionsEnabled"]) == (False, True)


def test_register_reads_the_profile_under_properties(client):
    response = client.post(
        "/bots",
        json={
            "code": "nested",
            "type": "personal",
            "isHidden": "Y",
            "properties": {"name": "Ассистент 🤖", "lastName": "Bot", "gender": "F", "workPosition": "AI"},
        },
    )
    assert response.status_code == 201
    bot = response.json()["data"]["bot"]
    assert (bot["name"], bot["lastName"], bot["gender"], bot["type"], bot["isHidden"]) == (
        "Ассистент 🤖",
        "Bot",
        "F",
        "personal",
        True,
    )


def test_register_twice_answers_409_with_the_flat_bot_id_and_the_bot_as_201_nests_it(client):
    # The reference's error table: data.botId, flat. Its echo bot reads `data.bot.id` from whatever
    # registration answers, so on its restart (the 409) it needs the bot nested too: both are there.
    bot_id = register_bot(client, "twice")
    response = client.post("/bots", json={"code": "twice", "name": "Again"})
    assert response.status_code == 409
    assert error_of(response) == "BOT_ALREADY_EXISTS"
    answered = response.json()["data"]
    assert answered["botId"] == bot_id and answered["bot"]["id"] == bot_id
    assert answered["bot"] == client.get(f"/bots/{bot_id}").json()["data"]["bot"]
    assert answered["bot"]["name"] == "Helper", "the existing bot, not the repeated body"
    assert "token" not in response.text.lower()


def test_the_same_code_under_another_key_is_another_bot(sandbox, client, tenant):
    first = register_bot(client, "shared_code")
    with client_for(sandbox, seed_personal(sandbox, portal_id=tenant.portal_id)) as other:
        assert register_bot(other, "shared_code") != first


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "No code"}, "CODE_REQUIRED"),
        ({"code": "", "name": "Empty code"}, "CODE_REQUIRED"),
        ({"code": "no_name"}, "NAME_REQUIRED"),
        ({"code": "blank_name", "name": "  "}, "NAME_REQUIRED"),
        ({"code": "nested_blank", "properties": {"lastName": "Only"}}, "NAME_REQUIRED"),
    ],
)
def test_register_without_code_or_name_names_what_is_missing(client, body, code):
    response = client.post("/bots", json=body)
    assert response.status_code == 400
    assert error_of(response) == code


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"code": 42}, "code"),
        ({"name": ["Helper"]}, "name"),
        ({"type": "robot"}, "type"),
        ({"eventMode": "push"}, "eventMode"),
        ({"eventMode": "webhook"}, "webhookUrl"),
        ({"gender": "X"}, "gender"),
        ({"isHidden": "maybe"}, "isHidden"),
        ({"color": 7}, "color"),
        ({"properties": "Helper"}, "properties"),
        ({"avatar": "data:image/png;base64,AAAA"}, "avatar"),
    ],
)
def test_register_with_a_wrong_type_names_the_field(client, fields, named):
    response = client.post("/bots", json={"code": "typed", "name": "Helper", **fields})
    assert response.status_code == 400
    assert error_of(response) == "INVALID_REQUEST"
    assert named in response.json()["error"]["message"]


def test_an_unknown_background_is_stored_as_null(client):
    known = client.post("/bots", json={"code": "bg1", "name": "A", "backgroundId": "mint"})
    unknown = client.post("/bots", json={"code": "bg2", "name": "B", "backgroundId": "plaid"})
    assert known.json()["data"]["bot"]["backgroundId"] == "mint"
    assert unknown.json()["data"]["bot"]["backgroundId"] is None


def test_a_webhook_bot_keeps_its_url(client):
    response = client.post(
        "/bots",
        json={
            "code": "hook",
            "name": "Hook",
            "eventMode": "webhook",
            "webhookUrl": "https://example.com/hook",
        },
    )
    assert response.status_code == 201
    assert response.json()["data"]["bot"]["webhookUrl"] == "https://example.com/hook"


def test_an_app_may_register_at_most_100_bots_per_portal(sandbox, client, tenant):
    def fill(services):
        platform = services.platform
        for n in range(100):
            platform.add_bot(owner_key=tenant.key, portal_id=tenant.portal_id, code=f"b{n}", name="B")

    sandbox.run_in_loop(fill)
    response = client.post("/bots", json={"code": "one_too_many", "name": "Extra"})
    assert 400 <= response.status_code < 500
    assert error_of(response) == "BOT_LIMIT_REACHED"


# --- list, revision, get ------------------------------------------------------------------------------
def test_list_shows_only_the_bots_of_this_key_on_this_portal(sandbox, client, tenant):
    mine = [register_bot(client, "a"), register_bot(client, "b")]
    with client_for(sandbox, seed_personal(sandbox, portal_id=tenant.portal_id)) as other:
        register_bot(other, "c")
    response = client.get("/bots")
    assert response.status_code == 200
    assert [bot["id"] for bot in response.json()["data"]["bots"]] == mine


def test_revision_is_not_taken_for_a_bot_id(client):
    register_bot(client)
    response = client.get("/bots/revision")
    assert response.status_code == 200
    assert isinstance(response.json()["data"]["revision"], int)


def test_get_answers_the_bot_with_active_and_its_user(client):
    bot_id = register_bot(client, "getme", lastName="Smith")
    response = client.get(f"/bots/{bot_id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["bot"]["id"] == bot_id and data["bot"]["active"] is True
    assert data["users"][0]["id"] == bot_id and data["users"][0]["active"] is True
    assert data["users"][0]["name"] == "Helper Smith"


# --- update, delete, reauth, resubscribe ------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"name": "Renamed", "workPosition": "Bot"},
        {"fields": {"name": "Renamed", "workPosition": "Bot"}},
        {"properties": {"name": "Renamed", "workPosition": "Bot"}},
        {"fields": {"properties": {"name": "Renamed"}, "workPosition": "Bot"}},
    ],
    ids=["flat", "fields", "properties", "fields.properties"],
)
def test_update_takes_fields_flat_or_nested(client, body):
    bot_id = register_bot(client)
    response = client.patch(f"/bots/{bot_id}", json=body)
    assert response.status_code == 200
    bot = response.json()["data"]["bot"]
    assert (bot["name"], bot["workPosition"]) == ("Renamed", "Bot")
    assert client.get(f"/bots/{bot_id}").json()["data"]["bot"]["name"] == "Renamed"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "INVALID_REQUEST"),
        ({"code": "other"}, "INVALID_REQUEST"),
        ({"name": ""}, "INVALID_REQUEST"),
        ({"name": "  "}, "INVALID_REQUEST"),
        ({"fields": {"name": ""}}, "INVALID_REQUEST"),
        ({"name": None}, "INVALID_REQUEST"),
        ({"type": 1}, "INVALID_REQUEST"),
        ({"fields": []}, "INVALID_REQUEST"),
    ],
)
def test_update_refuses_nothing_or_bad_fields(client, body, code):
    bot_id = register_bot(client)
    response = client.patch(f"/bots/{bot_id}", json=body)
    assert response.status_code == 400
    assert error_of(response) == code


@pytest.mark.parametrize("body", [{"name": ""}, {"properties": {"name": " "}}])
def test_update_with_an_empty_name_says_so_and_speaks_of_no_registration(client, body):
    # NAME_REQUIRED is the reference's "not provided during registration"; a PATCH registers nothing, and
    # its name is optional: an empty one is a bad value, INVALID_REQUEST as an empty chat title is.
    bot_id = register_bot(client)
    error = refused(client.patch(f"/bots/{bot_id}", json=body), 400, "INVALID_REQUEST")
    assert "name" in error["message"] and "registration" not in error["message"].lower()
    assert client.get(f"/bots/{bot_id}").json()["data"]["bot"]["name"] == "Helper"


def test_delete_removes_the_bot_and_a_repeat_finds_nothing(client):
    bot_id = register_bot(client)
    response = client.delete(f"/bots/{bot_id}")
    assert response.status_code == 200
    assert response.json()["data"]["result"] is True
    assert error_of(client.get(f"/bots/{bot_id}")) == "BOT_NOT_FOUND"
    repeat = client.delete(f"/bots/{bot_id}")
    assert repeat.status_code == 404 and error_of(repeat) == "BOT_NOT_FOUND"
    assert client.get("/bots").json()["data"]["bots"] == []


def test_delete_takes_the_bot_out_of_its_chats(sandbox, client, tenant):
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hello")
    client.delete(f"/bots/{bot_id}")
    in_chats = sandbox.run_in_loop(lambda s: [c for c in s.platform.chats.values() if bot_id in c.member_ids])
    assert in_chats == []


def test_reauth_answers_the_bot_without_a_token(client):
    bot_id = register_bot(client)
    response = client.post(f"/bots/{bot_id}/reauth")
    assert response.status_code == 200
    assert response.json()["data"]["result"] is True
    assert "token" not in response.text.lower()


def test_resubscribe_may_switch_the_event_mode(client):
    bot_id = register_bot(client)
    assert client.post(f"/bots/{bot_id}/resubscribe").json()["data"]["bot"]["eventMode"] == "fetch"
    webhook = {"eventMode": "webhook", "webhookUrl": "https://h.example/x"}
    switched = client.post(f"/bots/{bot_id}/resubscribe", json=webhook)
    assert switched.json()["data"]["bot"]["eventMode"] == "webhook"
    refused = client.post(f"/bots/{bot_id}/resubscribe", json={"eventMode": "webhook", "webhookUrl": ""})
    assert refused.status_code == 400


# --- the access errors every bot endpoint shares ------------------------------------------------------
@pytest.mark.parametrize("path", ["/bots/abc", "/bots/abc/events", "/bots/12x/commands", "/bots/-1/files/1"])
def test_a_non_numeric_bot_id_is_invalid_bot_id(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert error_of(response) == "INVALID_BOT_ID"


@pytest.mark.parametrize("path", ["/bots/999999", "/bots/999999/events", "/bots/999999/commands"])
def test_an_unknown_bot_is_bot_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert error_of(response) == "BOT_NOT_FOUND"


def test_another_keys_bot_is_bot_access_denied(sandbox, client, tenant):
    bot_id = register_bot(client)
    with client_for(sandbox, seed_personal(sandbox, portal_id=tenant.portal_id)) as other:
        for response in (
            other.get(f"/bots/{bot_id}"),
            other.get(f"/bots/{bot_id}/events"),
            other.delete(f"/bots/{bot_id}"),
        ):
            assert response.status_code == 403
            assert error_of(response) == "BOT_ACCESS_DENIED"


def test_the_same_app_key_with_another_portals_session_is_bot_access_denied(sandbox):
    app_tenant = seed_app(sandbox)
    with client_for(sandbox, app_tenant) as client:
        bot_id = register_bot(client)
    with client_for(sandbox, seed_session(sandbox, app_tenant)) as elsewhere:
        response = elsewhere.get(f"/bots/{bot_id}/events")
        assert response.status_code == 403
        assert error_of(response) == "BOT_ACCESS_DENIED"
        assert elsewhere.get("/bots").json()["data"]["bots"] == []


def test_an_app_key_with_its_session_works_like_a_personal_key(sandbox):
    with client_for(sandbox, seed_app(sandbox)) as client:
        bot_id = register_bot(client)
        assert client.get(f"/bots/{bot_id}").status_code == 200


def test_an_app_key_without_bearer_is_token_missing(sandbox):
    app_tenant = seed_app(sandbox)
    response = httpx.post(
        f"{sandbox.base_url}/bots", headers={"X-Api-Key": app_tenant.key}, json={"code": "x", "name": "X"}
    )
    assert response.status_code == 401
    assert error_of(response) == "TOKEN_MISSING"


def test_an_expired_session_is_token_expired(sandbox):
    app_tenant = seed_app(sandbox, ttl=60)
    with client_for(sandbox, app_tenant) as client:
        assert client.get("/bots").status_code == 200
        two_minutes = timedelta(minutes=2).total_seconds()
        sandbox.run_in_loop(lambda s: setattr(s.platform, "clock_offset", two_minutes))
        response = client.get("/bots")
    assert response.status_code == 401
    assert error_of(response) == "TOKEN_EXPIRED"


def test_a_key_without_the_imbot_scope_is_scope_denied(sandbox):
    with client_for(sandbox, seed_personal(sandbox, scopes={"crm", "im"})) as client:
        response = client.post("/bots", json={"code": "x", "name": "X"})
    assert response.status_code == 403
    assert error_of(response) == "SCOPE_DENIED"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "AUTH_REQUIRED"),
        ({"X-Api-Key": "vibe_api_" + "0" * 40}, 401, "INVALID_API_KEY"),
    ],
)
def test_a_missing_or_unknown_key_is_refused(sandbox, headers, status, code):
    response = httpx.get(f"{sandbox.base_url}/bots", headers=headers)
    assert response.status_code == status
    assert error_of(response) == code


def test_a_revoked_key_is_key_revoked(sandbox, client, tenant):
    assert client.get("/bots").status_code == 200
    sandbox.run_in_loop(lambda s: setattr(s.platform.keys[tenant.key], "revoked", True))
    response = client.get("/bots")
    assert response.status_code == 403
    assert error_of(response) == "KEY_REVOKED"
    assert tenant.key not in response.text


# Every reference endpoint with :botId in its path (the other three are POST/GET /v1/bots and the revision).
BOT_ENDPOINTS = [
    ("GET", "/bots/{bot}"),
    ("PATCH", "/bots/{bot}"),
    ("DELETE", "/bots/{bot}"),
    ("POST", "/bots/{bot}/reauth"),
    ("POST", "/bots/{bot}/resubscribe"),
    ("GET", "/bots/{bot}/events"),
    ("POST", "/bots/{bot}/messages"),
    ("PATCH", "/bots/{bot}/messages/1"),
    ("DELETE", "/bots/{bot}/messages/1"),
    ("POST", "/bots/{bot}/chats/chat1/read"),
    ("GET", "/bots/{bot}/messages/1"),
    ("GET", "/bots/{bot}/messages/1/context"),
    ("POST", "/bots/{bot}/messages/1/reactions"),
    ("DELETE", "/bots/{bot}/messages/1/reactions"),
    ("POST", "/bots/{bot}/typing"),
    ("POST", "/bots/{bot}/text-field"),
    ("POST", "/bots/{bot}/chats"),
    ("GET", "/bots/{bot}/chats/chat1"),
    ("PATCH", "/bots/{bot}/chats/chat1"),
    ("POST", "/bots/{bot}/chats/chat1/leave"),
    ("POST", "/bots/{bot}/chats/chat1/owner"),
    ("POST", "/bots/{bot}/chats/chat1/users"),
    ("DELETE", "/bots/{bot}/chats/chat1/users"),
    ("GET", "/bots/{bot}/chats/chat1/users"),
    ("POST", "/bots/{bot}/chats/chat1/managers"),
    ("DELETE", "/bots/{bot}/chats/chat1/managers"),
    ("POST", "/bots/{bot}/commands"),
    ("GET", "/bots/{bot}/commands"),
    ("PATCH", "/bots/{bot}/commands/1"),
    ("DELETE", "/bots/{bot}/commands/1"),
    ("POST", "/bots/{bot}/commands/1/answer"),
    ("POST", "/bots/{bot}/files"),
    ("GET", "/bots/{bot}/files/1"),
]


def arabic_indic(number: int) -> str:
    """`number` in Arabic-Indic digits ("١٢"): str.isdigit() says yes and int() reads them."""
    return "".join(chr(0x660 + int(digit)) for digit in str(number))


@pytest.mark.parametrize(("method", "path"), BOT_ENDPOINTS)
@pytest.mark.parametrize("raw", ["abc", "²", "1²", "٣"])
def test_a_bot_id_that_is_not_ascii_digits_is_invalid_bot_id_on_every_endpoint(client, method, path, raw):
    # The reference: INVALID_BOT_ID, 400, "botId must be a number"; "²" passes isdigit() but not int().
    response = client.request(method, path.format(bot=raw))
    assert response.status_code == 400, response.text
    assert error_of(response) == "INVALID_BOT_ID"


def test_a_bot_id_in_other_digits_does_not_name_the_bot(client):
    bot_id = register_bot(client)
    assert client.get(f"/bots/{bot_id}").status_code == 200
    response = client.get(f"/bots/{arabic_indic(bot_id)}")
    assert response.status_code == 400, response.text
    assert error_of(response) == "INVALID_BOT_ID"
