"""The reference against the sandbox, table by table: its 36 endpoints, its error codes and statuses on each,
and the field names of its JSON examples. Where a reference file is beside the checkout, the tables are read
from it, so a change to the reference fails here first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.errors import REFERENCE_ERRORS
from tests.sandbox.helpers import (
    client_for,
    ok,
    refused,
    register_bot,
    seed_app,
    seed_personal,
    user_writes,
)
from tests.sandbox.test_bots import BOT_ENDPOINTS

REFERENCE = Path("/work/shared/vibecode/bot-platform-reference.txt")
needs_reference = pytest.mark.skipif(not REFERENCE.exists(), reason="the reference is not on this machine")

# The reference's "Endpoint reference" table, as test_bots.BOT_ENDPOINTS writes the 33 with :botId (its
# per-endpoint INVALID_BOT_ID test), plus the three without one.
ENDPOINTS = [("POST", "/bots"), ("GET", "/bots"), ("GET", "/bots/revision"), *BOT_ENDPOINTS]
WITH_BOT = [(method, path) for method, path in ENDPOINTS if "{bot}" in path]


def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def as_reference_path(path: str) -> str:
    """Our template as the reference writes it: /bots/{bot}/files/1 -> /v1/bots/:botId/files/:fileId."""
    path = path.replace("{bot}", ":botId").replace("/chat1", "/:dialogId")
    path = re.sub(r"/messages/1", "/messages/:messageId", path)
    path = re.sub(r"/commands/1", "/commands/:commandId", path)
    path = re.sub(r"/files/1", "/files/:fileId", path)
    return "/v1" + path


@needs_reference
def test_the_table_here_is_the_references_36_endpoints():
    rows = re.findall(r"^\| (GET|POST|PATCH|DELETE) \| (/v1/\S+) \|", reference_text(), re.MULTILINE)
    assert len(rows) == 36
    assert {(method, as_reference_path(path)) for method, path in ENDPOINTS} == set(rows)


@needs_reference
def test_the_error_codes_and_statuses_are_the_references_tables_exactly():
    table = reference_text().split("#Error codes", 1)[1].split("#Endpoint reference", 1)[0]
    rows = re.findall(r"^([A-Z][A-Z_]+) \|\n(\d{3}) \| (.+?) \|$", table, re.MULTILINE)
    assert len(rows) == 16
    assert {code: int(status) for code, status, _ in rows} == {c: s for c, (s, _) in REFERENCE_ERRORS.items()}
    for code, _, description in rows:  # the message is the reference's description (the 409's first sentence)
        assert description.startswith(REFERENCE_ERRORS[code][1]), code


def call(client: httpx.Client, method: str, path: str, bot_id: int | str) -> httpx.Response:
    body = {} if method in ("POST", "PATCH", "DELETE") else None
    return client.request(method, path.format(bot=bot_id), json=body)


@pytest.fixture
def owned(sandbox, client) -> int:
    return register_bot(client)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_each_endpoint_is_routed_and_answers_in_the_envelope(client, owned, method, path):
    # No answer says "no such path" or "no such method", and none is a 5xx: the call reached its handler.
    response = call(client, method, path, owned)
    assert response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body["success"], bool)
    if not body["success"]:
        assert body["error"]["code"] not in ("NOT_FOUND", "METHOD_NOT_ALLOWED"), response.text
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def auth_cases(sandbox, owner_tenant) -> dict[str, tuple[dict[str, str], int]]:
    """Headers that each draw one of the reference's key and session refusals, and its status."""
    unscoped = seed_personal(sandbox, scopes={"im", "crm"}, portal_id=owner_tenant.portal_id)
    revoked = seed_personal(sandbox, portal_id=owner_tenant.portal_id)
    sandbox.run_in_loop(lambda s: setattr(s.platform.keys[revoked.key], "revoked", True))
    app = seed_app(sandbox)
    return {
        "AUTH_REQUIRED": ({}, 401),
        "INVALID_API_KEY": ({"X-Api-Key": "vibe_api_" + "0" * 40}, 401),
        "KEY_REVOKED": ({"X-Api-Key": revoked.key}, 403),
        "SCOPE_DENIED": ({"X-Api-Key": unscoped.key}, 403),
        "TOKEN_MISSING": ({"X-Api-Key": app.key}, 401),
    }


def test_every_endpoint_refuses_a_missing_unknown_revoked_unscoped_key_and_a_missing_session(
    sandbox, client, tenant, owned
):
    cases = auth_cases(sandbox, tenant)
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as bare:
        for code, (headers, status) in cases.items():
            for method, path in ENDPOINTS:
                body = {} if method in ("POST", "PATCH", "DELETE") else None
                response = bare.request(method, path.format(bot=owned), json=body, headers=headers)
                assert (response.status_code, response.json()["error"]["code"]) == (status, code), (
                    method,
                    path,
                )
                assert response.json()["error"]["message"] == REFERENCE_ERRORS[code][1]
    # Nothing refused changed anything: the one bot, no command, no message.
    assert [b["id"] for b in ok(client.get("/bots"))["bots"]] == [owned]
    assert ok(client.get(f"/bots/{owned}/commands"))["commands"] == []
    assert sandbox.run_in_loop(lambda s: len(s.platform.messages)) == 0


def test_every_endpoint_with_a_bot_refuses_an_unknown_bot_and_another_keys_bot(
    sandbox, client, tenant, owned
):
    with client_for(sandbox, seed_personal(sandbox, portal_id=tenant.portal_id)) as other:
        for method, path in WITH_BOT:
            refused(call(client, method, path, 999999), 404, "BOT_NOT_FOUND")
            refused(call(other, method, path, owned), 403, "BOT_ACCESS_DENIED")
    assert ok(client.get(f"/bots/{owned}"))["bot"]["id"] == owned, "another key's calls left the bot alone"


def test_registration_refusals_are_the_references_codes_with_its_409_shape(client):
    refused(client.post("/bots", json={"name": "No code"}), 400, "CODE_REQUIRED")
    refused(client.post("/bots", json={"code": "no_name"}), 400, "NAME_REQUIRED")
    bot_id = register_bot(client, "taken")
    again = client.post("/bots", json={"code": "taken", "name": "Again"})
    refused(again, 409, "BOT_ALREADY_EXISTS")
    assert again.json()["data"]["botId"] == bot_id
    assert len(ok(client.get("/bots"))["bots"]) == 1


# --- the field names of the reference's JSON examples ---------------------------------------------------
def reference_examples() -> list[dict]:
    """The quick start's answers, in order: register, events, send."""
    text = reference_text().split("#Quick start", 1)[1].split("#Full example", 1)[0]
    decoder = json.JSONDecoder()
    return [
        decoder.raw_decode(text, m.start())[0] for m in re.finditer(r'^\{\n"success"', text, re.MULTILINE)
    ]


def missing_fields(example: Any, actual: Any, where: str = "") -> list[str]:
    """Every field of `example` that `actual` lacks or holds as another JSON type (lists: by first item)."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{where or '.'}: an object"]
        return [
            problem
            for key, value in example.items()
            for problem in (
                missing_fields(value, actual[key], f"{where}.{key}") if key in actual else [f"{where}.{key}"]
            )
        ]
    if isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{where}: a list"]
        return missing_fields(example[0], actual[0], f"{where}[0]") if example and actual else []
    kind = (bool,) if isinstance(example, bool) else (int,) if isinstance(example, int) else (type(example),)
    if isinstance(actual, bool) and kind != (bool,):
        return [f"{where}: {type(example).__name__}"]
    return [] if isinstance(actual, kind) else [f"{where}: {type(example).__name__}"]


@needs_reference
def test_the_quick_starts_answers_have_every_field_the_reference_shows(sandbox, client, tenant):
    registered_example, events_example, sent_example = reference_examples()
    registered = client.post("/bots", json={"code": "my_helper_bot", "name": "Assistant", "type": "bot"})
    assert registered.status_code == 201
    assert missing_fields(registered_example, registered.json()) == []
    bot_id = registered.json()["data"]["bot"]["id"]

    user_writes(sandbox, tenant.user_id, bot_id, "Hi, bot!")
    polled = client.get(f"/bots/{bot_id}/events").json()
    # The example's one event is a user's message; the sandbox's batch opens with the dialog's JOINCHAT.
    polled["data"]["events"] = [e for e in polled["data"]["events"] if e["type"] == "ONIMBOTV2MESSAGEADD"]
    assert missing_fields(events_example, polled) == []

    dialog_id = polled["data"]["events"][0]["data"]["dialogId"]
    sent = client.post(
        f"/bots/{bot_id}/messages", json={"dialogId": dialog_id, "fields": {"message": "Hi! How can I help?"}}
    )
    assert missing_fields(sent_example, sent.json()) == [] and sent.json()["data"]["uuidMap"] == []


def test_a_group_message_event_names_the_chat_as_chatn_and_a_private_one_the_sender(
    sandbox, ctl, client, tenant
):
    # The standup section: "every message event … carries a dialogId (for a group chat it is chatXXX)", and
    # in a private dialog "ev.data.dialogId equals the sender's numeric ID".
    bot_id = register_bot(client)
    members = {"userId": tenant.user_id, "title": "Team", "memberIds": [bot_id]}
    group = ok(ctl.post("/_sandbox/act/chats", json=members))["chat"]
    said = f"[USER={bot_id}]Helper[/USER] hi"
    ok(
        ctl.post(
            "/_sandbox/act/messages", json={"userId": tenant.user_id, "chatId": group["id"], "text": said}
        )
    )
    user_writes(sandbox, tenant.user_id, bot_id, "in private")
    events = ok(client.get(f"/bots/{bot_id}/events"))["events"]
    dialogs = [e["data"]["dialogId"] for e in events if e["type"] == "ONIMBOTV2MESSAGEADD"]
    assert dialogs == [f"chat{group['id']}", str(tenant.user_id)]
    assert group["dialogId"] == f"chat{group['id']}"
