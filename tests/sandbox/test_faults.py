"""Fault injection over real HTTP: latency, error rates, forced codes, dropped connections."""

from __future__ import annotations

import logging
import random
import time

import httpx
import pytest

from sandbox.errors import REFERENCE_ERRORS
from sandbox.faults import FaultRule, Faults
from sandbox.state import StateError
from tests.sandbox.helpers import error_of, register_bot, user_writes

EVENTS = "/v1/bots/{bot_id}/events"


def add_fault(sandbox, **rule) -> int:
    return sandbox.run_in_loop(lambda s: s.faults.add(FaultRule(**rule)))


@pytest.mark.slow
def test_latency_delays_the_matching_endpoint(sandbox, client):
    bot_id = register_bot(client)
    add_fault(sandbox, path=EVENTS, latency_ms=300)
    started = time.monotonic()
    assert client.get(f"/bots/{bot_id}/events").status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("code", ["BITRIX_ERROR", "BITRIX_UNAVAILABLE", "INTERNAL_ERROR"])
def test_a_forced_system_error_answers_in_the_envelope_with_its_status(sandbox, client, code):
    bot_id = register_bot(client)
    add_fault(sandbox, method="GET", path=EVENTS, error_rate=1.0, error_code=code)
    response = client.get(f"/bots/{bot_id}/events")
    assert response.status_code == REFERENCE_ERRORS[code][0]
    assert error_of(response) == code
    assert response.json()["error"]["message"] == REFERENCE_ERRORS[code][1]


def test_registration_failed_is_reachable_on_register(sandbox, client):
    add_fault(sandbox, method="POST", path="/v1/bots", error_rate=1.0, error_code="REGISTRATION_FAILED")
    response = client.post("/bots", json={"code": "fails", "name": "Fails"})
    assert response.status_code == 502
    assert error_of(response) == "REGISTRATION_FAILED"
    assert client.get("/bots").json()["data"]["bots"] == []  # GET on the same path is untouched


def test_a_forced_rate_limit_carries_retry_after(sandbox, client):
    add_fault(sandbox, error_rate=1.0, error_code="RATE_LIMIT")
    response = client.get("/bots")
    assert response.status_code == 429
    assert response.json()["error"]["retryAfter"] == 1 == int(response.headers["Retry-After"])


def test_a_rule_for_one_route_leaves_the_others_alone(sandbox, client):
    bot_id = register_bot(client)
    add_fault(sandbox, path="/v1/bots/{bot_id}", error_rate=1.0)
    assert client.get(f"/bots/{bot_id}").status_code == 502
    assert client.get("/bots/revision").status_code == 200  # a different route, though the path looks alike
    assert client.get(f"/bots/{bot_id}/events").status_code == 200


def test_a_literal_path_matches_too(sandbox, client):
    first, second = register_bot(client, "first"), register_bot(client, "second")
    add_fault(sandbox, path=f"/v1/bots/{first}/events", error_rate=1.0)
    assert client.get(f"/bots/{first}/events").status_code == 502
    assert client.get(f"/bots/{second}/events").status_code == 200


def test_an_error_rate_fails_some_calls_reproducibly_with_a_seed(sandbox, client):
    def statuses() -> list[int]:
        sandbox.run_in_loop(lambda s: s.faults.seed(7))
        return [client.get("/bots").status_code for _ in range(40)]

    add_fault(sandbox, path="/v1/bots", error_rate=0.5)
    first = statuses()
    assert set(first) == {200, 502}
    assert statuses() == first


def test_a_dropped_connection_is_a_transport_error_and_the_server_keeps_serving(sandbox, client):
    bot_id = register_bot(client)
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(handler)
    try:
        add_fault(sandbox, path=EVENTS, drop_rate=1.0)
        with pytest.raises(httpx.TransportError):
            client.get(f"/bots/{bot_id}/events")
        assert client.get("/bots").status_code == 200
        sandbox.run_in_loop(lambda s: s.faults.clear())
        assert client.get(f"/bots/{bot_id}/events").status_code == 200
    finally:
        uvicorn_log.removeHandler(handler)
    assert [r for r in seen if r.levelno >= logging.ERROR] == []


def test_a_drop_rate_drops_some_connections(sandbox, client):
    sandbox.run_in_loop(lambda s: s.faults.seed(3))
    add_fault(sandbox, path="/v1/bots", method="GET", drop_rate=0.5)
    outcomes = []
    for _ in range(20):
        try:
            outcomes.append(client.get("/bots").status_code)
        except httpx.TransportError:
            outcomes.append("dropped")
    assert "dropped" in outcomes and 200 in outcomes


def test_rules_are_listed_as_json_and_cleared():
    faults = Faults(rng=random.Random(1))
    rule_id = faults.add(FaultRule(method="get", path=EVENTS, latency_ms=5, error_rate=0.25))
    assert isinstance(rule_id, int)
    assert [r.as_json() for r in faults.rules()] == [
        {
            "method": "GET",
            "path": EVENTS,
            "latencyMs": 5,
            "errorRate": 0.25,
            "errorCode": "BITRIX_UNAVAILABLE",
            "dropRate": 0.0,
            "garbageRate": 0.0,
            "garbageKind": "html",
            "afterAction": False,
        }
    ]
    faults.clear()
    assert faults.rules() == []


@pytest.mark.parametrize(
    "rule", [{"error_rate": 1.5}, {"drop_rate": -0.1}, {"latency_ms": -1}, {"error_code": "not a code!"}]
)
def test_an_impossible_rule_is_refused(rule):
    with pytest.raises(StateError):
        FaultRule(**rule)


def test_a_garbage_fault_answers_200_with_a_body_that_is_not_json(sandbox):
    import httpx as _httpx

    control = _httpx.Client(base_url=sandbox.root_url)
    assert (
        control.post("/_sandbox/faults", json={"path": "/v1/bots/revision", "garbageRate": 1.0}).status_code
        == 200
    )
    key = sandbox.run_in_loop(
        lambda s: (
            s.platform.issue_personal_key(
                s.platform.create_user(s.platform.create_portal(), name="G H")
            ).value
        )
    )
    answer = _httpx.get(f"{sandbox.base_url}/bots/revision", headers={"X-Api-Key": key})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert control.post("/_sandbox/faults", json={"garbageRate": 2}).status_code == 400


@pytest.mark.parametrize("kind", ["text", "json"])
def test_a_garbage_fault_of_another_kind_answers_200_with_what_a_client_cannot_use(sandbox, kind):
    import httpx as _httpx

    control = _httpx.Client(base_url=sandbox.root_url)
    rule = {"path": "/v1/bots/revision", "garbageRate": 1.0, "garbageKind": kind}
    assert control.post("/_sandbox/faults", json=rule).status_code == 200
    key = sandbox.run_in_loop(
        lambda s: (
            s.platform.issue_personal_key(
                s.platform.create_user(s.platform.create_portal(), name="G H")
            ).value
        )
    )
    answer = _httpx.get(f"{sandbox.base_url}/bots/revision", headers={"X-Api-Key": key})
    assert answer.status_code == 200
    if kind == "text":
        with pytest.raises(ValueError):
            answer.json()
    else:
        assert answer.json()["data"] == ["not", "what", "was", "asked"]
    assert control.post("/_sandbox/faults", json={"garbageRate": 1, "garbageKind": "xml"}).status_code == 400


@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [("proxy-413", 413, "413 Request Entity Too Large"), ("proxy-431", 431, "")],
)
def test_a_proxy_refusing_a_request_too_large_answers_its_status_without_the_envelope(
    sandbox, kind, status, body
):
    import httpx as _httpx

    control = _httpx.Client(base_url=sandbox.root_url)
    rule = {"path": "/v1/bots/revision", "garbageRate": 1.0, "garbageKind": kind}
    assert control.post("/_sandbox/faults", json=rule).status_code == 200
    answer = _httpx.get(f"{sandbox.base_url}/bots/revision", headers={"X-Api-Key": "any"})
    assert answer.status_code == status
    assert body in answer.text and "success" not in answer.text


@pytest.mark.parametrize(
    ("kind", "status", "error"), [("router-404", 404, "Not Found"), ("router-405", 405, "Method Not Allowed")]
)
def test_a_router_answers_a_path_or_method_it_has_no_handler_for_in_its_own_json(
    sandbox, kind, status, error
):
    """Spring Boot's error JSON, naming the path: not the platform's envelope (no `success`)."""
    control = httpx.Client(base_url=sandbox.root_url)
    rule = {"method": "GET", "path": "/v1/bots/revision", "garbageRate": 1.0, "garbageKind": kind}
    assert control.post("/_sandbox/faults", json=rule).status_code == 200
    answer = httpx.get(f"{sandbox.base_url}/bots/revision", headers={"X-Api-Key": "any"})
    assert answer.status_code == status and "success" not in answer.json()
    assert answer.json()["status"] == status and answer.json()["path"] == "/v1/bots/revision"
    assert answer.headers.get("allow") == (None if status == 404 else "GET, HEAD")
    assert answer.json()["error"] == error


def test_no_content_answers_204_with_no_body_after_the_send_posted(sandbox, client, tenant):
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    add_fault(sandbox, method="POST", path="/v1/bots/{bot_id}/messages", after_action=True, garbage_rate=1.0,
              garbage_kind="no-content")  # fmt: skip
    body = {"dialogId": str(tenant.user_id), "fields": {"message": "posted, unnamed"}}
    answer = client.post(f"/bots/{bot_id}/messages", json=body)
    assert answer.status_code == 204 and answer.content == b""
    posted = sandbox.run_in_loop(
        lambda s: [m.text for m in s.platform.messages.values() if m.author_id == bot_id]
    )
    assert posted == ["posted, unnamed"]  # the platform acted; its answer names nothing


@pytest.mark.parametrize(
    "strike",
    [{"drop_rate": 1.0}, {"garbage_rate": 1.0}, {"error_rate": 1.0, "error_code": "BITRIX_ERROR"}],
    ids=["dropped", "garbage", "error"],
)
def test_a_fault_after_the_action_loses_the_answer_of_a_call_that_acted(sandbox, client, tenant, strike):
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    add_fault(sandbox, method="POST", path="/v1/bots/{bot_id}/messages", after_action=True, **strike)
    body = {"dialogId": str(tenant.user_id), "fields": {"message": "did it arrive?"}}
    try:
        answer = client.post(f"/bots/{bot_id}/messages", json=body)
    except httpx.TransportError:
        answer = None
    assert answer is None or answer.status_code != 200 or '"id"' not in answer.text  # no message id came back
    posted = sandbox.run_in_loop(
        lambda s: [m.text for m in s.platform.messages.values() if m.author_id == bot_id]
    )
    assert posted == ["did it arrive?"]  # the platform acted; only its answer was lost


def test_the_control_api_takes_after_action(sandbox, ctl):
    answer = ctl.post("/_sandbox/faults", json={"path": "*", "dropRate": 1, "afterAction": True})
    assert answer.status_code == 200, answer.text
    assert ctl.get("/_sandbox/faults").json()["data"]["faults"][0]["afterAction"] is True


@pytest.mark.slow
def test_a_caller_that_gives_up_during_latency_is_no_sandbox_bug_and_nothing_is_posted(
    sandbox, client, tenant, ctl
):
    """From the chaos benchmark's full profile: every call whose caller gave up during an injected latency
    (its deadline passed, it hung up) was logged as a sandbox bug, an ERROR with a traceback (62 in one run,
    `ClientDisconnect` as the body was read), and counted as a 500 in the stats, which nobody was answered."""
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hello")
    before = ctl.get("/_sandbox/stats").json()["data"]["byStatus"]
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    sandbox_log = logging.getLogger("sandbox")
    sandbox_log.addHandler(handler)
    try:
        add_fault(sandbox, path="/v1/bots/{bot_id}/messages", method="POST", latency_ms=400)
        body = {"dialogId": str(tenant.user_id), "fields": {"message": "too late"}}
        with pytest.raises(httpx.TimeoutException):
            client.post(f"/bots/{bot_id}/messages", json=body, timeout=0.1)
        time.sleep(0.8)  # the latency ends, and the sandbox reads the body of a caller that hung up
    finally:
        sandbox_log.removeHandler(handler)
    assert [r.getMessage() for r in seen if r.levelno >= logging.ERROR] == []
    after = ctl.get("/_sandbox/stats").json()["data"]["byStatus"]
    assert after.get("500", 0) == before.get("500", 0) and after.get("499", 0) == before.get("499", 0) + 1
    texts = sandbox.run_in_loop(lambda s: [m.text for m in s.platform.messages.values()])
    assert "too late" not in texts
