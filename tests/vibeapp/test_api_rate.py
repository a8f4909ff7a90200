"""The HTTP APIs (the operator API, the portal's skills API, the schema) answer a caller past VIBE_API_RATE
with 429 and Retry-After, counted per caller: an operator's runaway script or a portal member's loop slows
itself, not the other callers or the database. Where the counts' cache cannot be reached the API still
answers (it is a help against load, not a lock; the sign-in limits are the ones that refuse then)."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from tests.botcore.skills.test_portal_admin import make_portal, signed_in
from tests.ops.test_api import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rate(settings):
    settings.VIBE_API_RATE = "3/m"
    return settings


def test_an_operator_past_the_rate_gets_429_with_retry_after_and_another_operator_does_not(rate):
    script = token_client(staff=True)
    assert [script.get("/api/ops/portals/").status_code for _ in range(3)] == [200, 200, 200]
    refused = script.get("/api/ops/bots/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "detail" in refused.json()
    colleague = token_client(staff=True, name="colleague")
    assert colleague.get("/api/ops/portals/").status_code == 200


def test_a_portal_member_past_the_rate_gets_429_and_their_admin_does_not(rate):
    acme = make_portal("acme")
    member = signed_in(acme, is_admin=False)
    assert [member.get("/api/skills/").status_code for _ in range(3)] == [200, 200, 200]
    assert member.get("/api/skills/echo/").status_code == 429
    assert signed_in(acme, is_admin=True).get("/api/skills/").status_code == 200


def test_the_api_answers_while_the_counts_cache_is_down_saying_so(rate, monkeypatch, caplog):
    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "add", "incr", "get_many", "set"):
        monkeypatch.setattr(caches["ratelimit"], name, unreachable)
    operator = token_client(staff=True)
    with caplog.at_level(logging.WARNING):
        assert [operator.get("/api/ops/portals/").status_code for _ in range(5)] == [200] * 5
    assert "API rate not counted" in caplog.text


def test_no_rate_no_limit(settings):
    settings.VIBE_API_RATE = ""
    operator = token_client(staff=True)
    assert {operator.get("/api/ops/portals/").status_code for _ in range(20)} == {200}


def test_the_schema_documents_the_429_on_every_api_operation():
    schema = token_client(staff=True).get("/api/schema/", {"format": "json"}).json()
    operations = [
        (path, method, operation)
        for path, by_method in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in by_method.items()
    ]
    assert operations
    for path, method, operation in operations:
        answer = operation["responses"].get("429")
        assert answer and "Retry-After" in answer.get("headers", {}), (method, path)


def test_requests_refused_for_rights_or_credentials_count_too(rate):
    """From an attacker's probe: DRF checks rights before the rate, so a request refused for rights or for a
    wrong token was never counted: a member PATCHing an admin's skill, a signed-in user who is no operator, or
    anyone sending made-up tokens had every request answered (403/401, each a session or token lookup in the
    database), past any rate. Each is counted, the first two by account, the last by address."""
    acme = make_portal("acme")
    member = signed_in(acme, is_admin=False)
    changes = [
        member.patch("/api/skills/echo/", {"isEnabled": False}, content_type="application/json").status_code
        for _ in range(4)
    ]
    assert changes == [403, 403, 403, 429]
    nobody = token_client(staff=False)
    assert [nobody.get("/api/ops/portals/").status_code for _ in range(4)] == [403, 403, 403, 429]
    guesser = APIClient(REMOTE_ADDR="203.0.113.7")
    guesses = [guesser.get("/api/ops/portals/", HTTP_AUTHORIZATION=f"Token made-up-{n}") for n in range(4)]
    assert [answer.status_code for answer in guesses] == [401, 401, 401, 429]
    assert 1 <= int(guesses[-1]["Retry-After"]) <= 60  # the guesser is told how long, as any caller is
    # Counted by their own keys: the portal's admin and an operator still get through.
    assert signed_in(acme, is_admin=True).get("/api/skills/").status_code == 200
    assert token_client(staff=True, name="operator").get("/api/ops/portals/").status_code == 200
