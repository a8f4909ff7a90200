"""The HTTP APIs (the operator API, the portal's skills API, the schema) answer a caller past VIBE_API_RATE
with 429 and Retry-After, counted per caller: an operator's runaway script or a portal member's loop slows
itself, not the other callers or the database. Where the counts' cache cannot be reached the API still
answers (it is a help against load, not a lock; the sign-in limits are the ones that refuse then)."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches

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
