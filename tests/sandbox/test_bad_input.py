"""Bad input to the bot endpoints is a 4xx with a clear code, never a 500 or a stack trace."""

from __future__ import annotations

import base64
import re
import socket

import httpx
import pytest
from starlette.routing import Route

from sandbox.http import MAX_BODY_BYTES
from sandbox.server import build_app
from tests.sandbox.helpers import client_for, error_of, ok, refused, register_bot, seed_personal

JSON = {"Content-Type": "application/json"}
WRITES = [
    ("POST", "/bots"),
    ("PATCH", "/bots/{bot}"),
    ("POST", "/bots/{bot}/resubscribe"),
    ("POST", "/bots/{bot}/commands"),
    ("POST", "/bots/{bot}/files"),
]


def send(client, method: str, path: str, bot_id: int, **kwargs) -> httpx.Response:
    return client.request(method, path.format(bot=bot_id), **kwargs)


def assert_clear_4xx(response: httpx.Response, *codes: str) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    code = error_of(response)
    assert code in codes if codes else code
    assert "Traceback" not in response.text


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_malformed_json_is_invalid_json(client, bot_id, method, path):
    response = send(client, method, path, bot_id, content=b'{"code": "x", "name": ', headers=JSON)
    assert_clear_4xx(response, "INVALID_JSON")


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_a_json_body_that_is_not_an_object_is_invalid_request(client, bot_id, method, path, body):
    response = send(client, method, path, bot_id, content=body, headers=JSON)
    assert_clear_4xx(response, "INVALID_REQUEST")


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_that_is_not_utf8_is_invalid_json(client, bot_id, method, path):
    response = send(client, method, path, bot_id, content=b'{"name": "\xff\xfe"}')
    assert_clear_4xx(response, "INVALID_JSON")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/bots", {"code": ["x"], "name": "X"}),
        ("POST", "/bots", {"code": "x", "name": {"en": "X"}}),
        ("POST", "/bots", {"code": "x", "name": "X", "isReactionsEnabled": 3}),
        ("PATCH", "/bots/{bot}", {"fields": "name=X"}),
        ("PATCH", "/bots/{bot}", {"properties": ["X"]}),
        ("POST", "/bots/{bot}/resubscribe", {"eventMode": 1}),
        ("POST", "/bots/{bot}/commands", {"command": 5, "title": "T"}),
        ("POST", "/bots/{bot}/commands", {"command": "ok", "title": ["T"]}),
        ("POST", "/bots/{bot}/commands", {"command": "ok", "title": "T", "hidden": "sometimes"}),
        ("POST", "/bots/{bot}/commands", {"fields": 1}),
        ("POST", "/bots/{bot}/files", {"dialogId": {"id": 1}, "name": "a.txt", "content": "aGk="}),
        ("POST", "/bots/{bot}/files", {"dialogId": "1", "fields": ["a.txt"]}),
        ("POST", "/bots/{bot}/files", {"dialogId": "1", "fields": {"name": 1, "content": "aGk="}}),
    ],
)
def test_wrong_types_are_a_clear_4xx(client, bot_id, method, path, body):
    assert_clear_4xx(send(client, method, path, bot_id, json=body))


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("POST", "/bots", "CODE_REQUIRED"),
        ("PATCH", "/bots/{bot}", "INVALID_REQUEST"),
        ("POST", "/bots/{bot}/commands", "COMMAND_REQUIRED"),
        ("POST", "/bots/{bot}/files", "FILE_NAME_INVALID"),
    ],
)
def test_an_empty_body_names_what_is_missing(client, bot_id, method, path, code):
    assert_clear_4xx(send(client, method, path, bot_id), code)


@pytest.mark.slow
def test_a_body_over_40_mib_is_payload_too_large(client):
    body = b'{"code": "big", "name": "' + b"x" * (MAX_BODY_BYTES + 1024) + b'"}'
    response = client.post("/bots", content=body, headers=JSON)
    assert response.status_code == 413
    assert error_of(response) == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_over_40_mib_is_payload_too_large(client):
    def chunks():
        yield b'{"code": "big", "name": "'
        for _ in range(41):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = client.post("/bots", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert error_of(response) == "PAYLOAD_TOO_LARGE"


@pytest.mark.slow
def test_a_file_upload_just_under_the_cap_is_accepted(sandbox, client, tenant, bot_id):
    raw = b"\x00" * (29 * 1024 * 1024)
    fields = {"name": "big.bin", "content": base64.b64encode(raw).decode()}
    body = {"dialogId": str(tenant.user_id), "fields": fields}
    response = client.post(f"/bots/{bot_id}/files", json=body, timeout=60)
    assert response.status_code == 200
    assert response.json()["data"]["file"]["size"] == len(raw)


def test_an_unknown_path_is_a_json_404(client):
    response = client.get("/bots/1/nowhere")
    assert response.status_code == 404
    assert error_of(response) == "NOT_FOUND"
    assert error_of(httpx.get(client.base_url.join("/nowhere"))) == "NOT_FOUND"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "AUTH_REQUIRED"),
        ({"X-Api-Key": "vibe_api_" + "0" * 32}, 401, "INVALID_API_KEY"),
        (None, 404, "NOT_FOUND"),  # the tenant's own key: the path is what is wrong
    ],
)
def test_an_unknown_v1_path_checks_the_key_first(sandbox, tenant, headers, status, code):
    """The reference's AUTH_REQUIRED is "Missing X-Api-Key header", a system error: a gateway in front of
    every /v1 path asks for the key before any route is looked up. An unknown path without a key answered
    404 NOT_FOUND. `path-before-key` speaks that order."""
    sent = tenant.headers if headers is None else headers
    for path in ("/nowhere", "/bots/1/nowhere", "/"):
        refused(httpx.get(sandbox.base_url + path, headers=sent, timeout=10), status, code)


def test_path_before_key_answers_an_unknown_path_404_whatever_the_key(sandbox, ctl):
    ok(ctl.post("/_sandbox/dialects", json={"dialects": ["path-before-key"]}))
    refused(httpx.get(sandbox.base_url + "/nowhere", timeout=10), 404, "NOT_FOUND")
    refused(httpx.get(sandbox.base_url + "/bots", timeout=10), 401, "AUTH_REQUIRED")  # a known path's key


def test_router_errors_answer_an_unknown_path_or_method_in_the_routers_own_json(sandbox, ctl, tenant):
    """A platform whose framework answers what it has no route for (Spring Boot's error JSON): no envelope,
    the key still asked for first; a 405 still names the methods the path takes."""
    ok(ctl.post("/_sandbox/dialects", json={"dialects": ["router-errors"]}))
    refused(httpx.get(sandbox.base_url + "/nowhere", timeout=10), 401, "AUTH_REQUIRED")
    missing = httpx.get(sandbox.base_url + "/bots/1/nowhere", headers=tenant.headers, timeout=10)
    assert missing.status_code == 404 and "success" not in missing.json()
    said = missing.json()
    assert (said["status"], said["error"], said["path"]) == (404, "Not Found", "/v1/bots/1/nowhere")
    wrong = httpx.put(sandbox.base_url + "/bots", headers=tenant.headers, timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"] == "Method Not Allowed"
    assert wrong.headers["allow"] == "GET, HEAD, POST" and "success" not in wrong.json()


def test_official_error_codes_name_a_missing_key_on_an_unknown_path_as_on_any(sandbox, ctl):
    ok(ctl.post("/_sandbox/dialects", json={"dialects": ["official-error-codes"]}))
    refused(httpx.get(sandbox.base_url + "/nowhere", timeout=10), 401, "MISSING_API_KEY")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/bots/"), ("POST", "/bots/"), ("GET", "/bots/{bot}/events/")]
)
def test_a_path_with_a_trailing_slash_is_a_json_404_not_a_redirect(client, bot_id, method, path):
    """The reference's paths are exact, and every answer is the envelope: a trailing slash was a bare 307 to
    the path without it (Starlette's redirect), outside the envelope, sending the key on to wherever
    `Location` named."""
    response = send(
        client, method, path, bot_id, json={"code": "x", "name": "X"} if method == "POST" else None
    )
    assert response.status_code == 404 and "location" not in response.headers
    assert error_of(response) == "NOT_FOUND"


def test_a_wrong_method_is_a_json_405(client):
    response = client.put("/bots")
    assert response.status_code == 405
    assert error_of(response) == "METHOD_NOT_ALLOWED"


def _paths_with_their_methods() -> list[tuple[str, str]]:
    """Each path the sandbox routes, its parameters filled in ("1"), with the methods some route takes there
    (the API declares one route per method, so a path's methods are spread over several routes)."""
    routes = [route for route in build_app().routes if isinstance(route, Route)]
    paths = {re.sub(r"\{[^}]+\}", "1", route.path) for route in routes}
    return sorted(
        (
            path,
            ", ".join(
                sorted(set().union(*(r.methods or () for r in routes if r.path_regex.fullmatch(path))))
            ),
        )
        for path in paths
    )


@pytest.mark.parametrize(
    ("path", "allowed"), [*_paths_with_their_methods(), ("/chat/static/sandbox/chat.css", "GET, HEAD")]
)
def test_a_wrong_method_is_a_405_naming_every_method_the_path_takes(sandbox, path, allowed):
    """RFC 9110 (15.5.6): a 405 MUST carry Allow. It carried none, so a client could not tell what the path
    takes; and Starlette's own would have named only the first route of the path (POST of /v1/bots)."""
    response = httpx.put(sandbox.root_url + path, timeout=10)
    assert response.status_code == 405
    assert error_of(response) == "METHOD_NOT_ALLOWED"
    assert response.headers.get("allow") == allowed


def test_a_garbage_request_line_does_not_take_the_server_down(sandbox, client):
    with socket.create_connection((sandbox.host, sandbox.port), timeout=5) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw.recv(1024)
    assert client.get("/bots").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x" * 10_000, "name": "X"},
        {"code": "ok", "name": "X" * 100_000},
        {"code": "ok2", "name": "X", "properties": {"name": None}},
        {"code": "ok3", "name": "X", "backgroundId": ["mint"]},
        {"code": "ok4", "name": "X", "type": None},
        {"code": "ünïcødé", "name": "X"},
    ],
)
def test_odd_register_bodies_never_answer_500(client, body):
    assert client.post("/bots", json=body).status_code < 500


# "²" passes str.isdigit() but not int(); a number the platform reads is ASCII digits only.
@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("GET", "/bots/{bot}/events", {"offset": "²"}, None),
        ("GET", "/bots/{bot}/events", {"limit": "²"}, None),
        ("GET", "/bots/{bot}/messages/1/context", {"range": "²"}, None),
        ("GET", "/bots/{bot}/chats/{user}/users", {"limit": "²"}, None),
        ("PATCH", "/bots/{bot}/messages/²", None, {"fields": {"message": "x"}}),
        ("DELETE", "/bots/{bot}/messages/²", None, None),
        ("POST", "/bots/{bot}/messages/²/reactions", None, {"reaction": "like"}),
        ("PATCH", "/bots/{bot}/commands/²", None, {"title": "T"}),
        ("POST", "/bots/{bot}/commands/²/answer", None, {"messageId": 1, "message": "x"}),
        ("GET", "/bots/{bot}/files/²", None, None),
        ("GET", "/bots/{bot}/chats/²", None, None),
        ("GET", "/bots/{bot}/chats/chat²", None, None),
        ("POST", "/bots/{bot}/messages", None, {"dialogId": "²", "fields": {"message": "x"}}),
        ("POST", "/bots/{bot}/messages", None, {"dialogId": "chat²", "fields": {"message": "x"}}),
        (
            "POST",
            "/bots/{bot}/messages",
            None,
            {"dialogId": "{user}", "fields": {"message": "x", "replyId": "²"}},
        ),
        ("POST", "/bots/{bot}/typing", None, {"dialogId": "²"}),
        (
            "POST",
            "/bots/{bot}/files",
            None,
            {"dialogId": "²", "fields": {"name": "a.txt", "content": "aGk="}},
        ),
        ("POST", "/bots/{bot}/chats", None, {"fields": {"title": "T", "userIds": ["²"]}}),
        ("POST", "/bots/{bot}/chats/{user}/read", None, {"messageId": "²"}),
    ],
)
def test_a_number_in_other_digits_is_a_clear_4xx(client, tenant, bot_id, method, path, params, body):
    def fill(value):
        if isinstance(value, str):
            return value.format(bot=bot_id, user=tenant.user_id)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    client.post(
        f"/bots/{bot_id}/messages", json={"dialogId": str(tenant.user_id), "fields": {"message": "hi"}}
    )
    response = client.request(method, fill(path), params=params, json=fill(body))
    assert_clear_4xx(response)


def test_a_dialog_id_in_other_digits_does_not_name_the_user(client, tenant, bot_id):
    arabic_indic = "".join(chr(0x660 + int(digit)) for digit in str(tenant.user_id))
    response = client.post(
        f"/bots/{bot_id}/messages", json={"dialogId": arabic_indic, "fields": {"message": "x"}}
    )
    assert_clear_4xx(response, "DIALOG_ID_INVALID")


# Every reference endpoint with a numeric id beside the bot's in its path, the id's name, and the code the
# `named-id-codes` dialect refuses it with.
PATH_IDS = [
    ("GET", "/bots/{bot}/messages/{id}", "messageId", "INVALID_MESSAGE_ID"),
    ("PATCH", "/bots/{bot}/messages/{id}", "messageId", "INVALID_MESSAGE_ID"),
    ("DELETE", "/bots/{bot}/messages/{id}", "messageId", "INVALID_MESSAGE_ID"),
    ("GET", "/bots/{bot}/messages/{id}/context", "messageId", "INVALID_MESSAGE_ID"),
    ("POST", "/bots/{bot}/messages/{id}/reactions", "messageId", "INVALID_MESSAGE_ID"),
    ("DELETE", "/bots/{bot}/messages/{id}/reactions", "messageId", "INVALID_MESSAGE_ID"),
    ("PATCH", "/bots/{bot}/commands/{id}", "commandId", "INVALID_COMMAND_ID"),
    ("DELETE", "/bots/{bot}/commands/{id}", "commandId", "INVALID_COMMAND_ID"),
    ("POST", "/bots/{bot}/commands/{id}/answer", "commandId", "INVALID_COMMAND_ID"),
    ("GET", "/bots/{bot}/files/{id}", "fileId", "INVALID_FILE_ID"),
]


@pytest.mark.parametrize(("method", "path", "name", "named_code"), PATH_IDS)
@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "²", "٣", "1" * 19])
def test_a_path_id_that_is_not_a_number_is_400_invalid_bot_id(
    client, bot_id, method, path, name, named_code, raw
):
    # CONTRACT A §9: "a non-numeric id elsewhere → 400 INVALID_BOT_ID", the reference's one code for a
    # path id that is not a number; its message names the id that is not (the sandbox answered
    # INVALID_MESSAGE_ID…, codes of its own, which `named-id-codes` speaks).
    response = client.request(method, path.format(bot=bot_id, id=raw), json={"reaction": "like"})
    refused(response, 400, "INVALID_BOT_ID")
    assert response.json()["error"]["message"] == f"{name} must be a number"


@pytest.mark.parametrize(("method", "path", "name", "named_code"), PATH_IDS)
def test_named_id_codes_refuses_each_path_id_under_its_own_name(
    ctl, client, bot_id, method, path, name, named_code
):
    ok(ctl.post("/_sandbox/dialects", json={"dialects": ["named-id-codes"]}))
    response = client.request(method, path.format(bot=bot_id, id="abc"), json={"reaction": "like"})
    refused(response, 400, named_code)
    assert response.json()["error"]["message"] == f"{name} must be a number"
    refused(client.get("/bots/abc"), 400, "INVALID_BOT_ID")  # the bot's own id keeps the reference's code


def other_keys_bot(sandbox, tenant) -> int:
    with client_for(sandbox, seed_personal(sandbox, portal_id=tenant.portal_id)) as other:
        return register_bot(other, "not_yours")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/bots/abc/messages", 400, "INVALID_BOT_ID"),
        ("POST", "/bots/999999/messages", 404, "BOT_NOT_FOUND"),
        ("POST", "/bots/{other}/messages", 403, "BOT_ACCESS_DENIED"),
        ("PATCH", "/bots/{bot}/messages/abc", 400, "INVALID_BOT_ID"),
        ("POST", "/bots/{bot}/commands/abc/answer", 400, "INVALID_BOT_ID"),
        ("PATCH", "/bots/abc", 400, "INVALID_BOT_ID"),
    ],
)
@pytest.mark.parametrize("body", [b"{", b"[1]", b'{"name": "\xff"}'])
def test_the_path_is_checked_before_the_body(
    sandbox, client, tenant, bot_id, method, path, status, code, body
):
    """The reference is silent on the order. The path names what the call is about, and a router reads it
    before a handler reads the body: an unknown bot is unknown whatever the body says (a non-JSON body with
    a bad bot id answered INVALID_JSON). `body-first` speaks the other order."""
    target = path.format(bot=bot_id, other=other_keys_bot(sandbox, tenant) if "{other}" in path else "")
    refused(client.request(method, target, content=body, headers=JSON), status, code)
    assert ok(client.get(f"/bots/{bot_id}/commands"))["commands"] == []


def test_body_first_reads_the_body_before_the_path(sandbox, ctl, client, bot_id):
    ok(ctl.post("/_sandbox/dialects", json={"dialects": ["body-first"]}))
    for path in ("/bots/abc/messages", "/bots/999999/messages", f"/bots/{bot_id}/messages/abc"):
        method = "PATCH" if path.endswith("/abc") else "POST"
        refused(client.request(method, path, content=b"{", headers=JSON), 400, "INVALID_JSON")
        refused(client.request(method, path, content=b"[1]", headers=JSON), 400, "INVALID_REQUEST")
    refused(client.post("/bots/abc/messages", json={}), 400, "INVALID_BOT_ID")


def test_unchecked_path_ids_finds_no_message_command_or_file_under_a_non_numeric_id(ctl, client, bot_id):
    ok(ctl.post("/_sandbox/dialects", json={"dialects": ["unchecked-path-ids"]}))
    refused(
        client.patch(f"/bots/{bot_id}/messages/abc", json={"fields": {"message": "x"}}),
        404,
        "MESSAGE_NOT_FOUND",
    )
    refused(client.delete(f"/bots/{bot_id}/commands/abc"), 404, "COMMAND_NOT_FOUND")
    refused(client.get(f"/bots/{bot_id}/files/abc"), 404, "FILE_NOT_FOUND")
    refused(client.get("/bots/abc"), 400, "INVALID_BOT_ID")  # the reference's own rule, in every dialect


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("POST", "/bots/abc/messages", "INVALID_BOT_ID"),
        ("POST", "/bots/999999/messages", "BOT_NOT_FOUND"),
        ("PATCH", "/bots/{bot}/messages/abc", "INVALID_BOT_ID"),
    ],
)
def test_a_call_refused_for_its_path_logs_the_body_it_sent(ctl, client, bot_id, method, path, code):
    """The request log showed an empty body for a call the path refused before its body was read (the
    default order): a tester reading the log could not tell what the client had sent."""
    body = {"dialogId": "chat1", "fields": {"message": "Привет"}}
    refused(client.request(method, path.format(bot=bot_id), json=body), 400 if "abc" in path else 404, code)
    logged = ok(ctl.get("/_sandbox/calls"))["calls"][-1]
    assert (logged["path"], logged["errorCode"], logged["body"]) == (
        "/v1" + path.format(bot=bot_id),
        code,
        body,
    )
