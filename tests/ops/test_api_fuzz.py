"""Every operation of /api/schema/ fuzzed from the schema (schemathesis): no 5xx, and every answer one the
schema documents (its status, content type, headers and body), for an operator and a portal admin.

Each operation gets a few dozen generated requests, with the credentials of a staff token and of a signed-in
portal admin (session and CSRF cookies) at once, against a database holding a small fleet. The same checks
against a running stack: the `st run` command of docs/operators.md ("The API's contract").
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from botcore.models import Bot, EventLogEntry
from ops.operators import ensure_operators_group
from ops.tokens import issue_operator_token
from tenants.models import Portal, SessionGrant
from tenants.viewer import SESSION_KEY
from vibeapp.wsgi import application

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CSRF = "f" * 32
# What an integrator trusting the schema relies on (the `st run --checks` of docs/operators.md): no 5xx, a
# request the schema allows is not refused as invalid, and each answer is one the schema documents.
CHECKS = [
    not_a_server_error,
    positive_data_acceptance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def connections_kept_open():
    """As Django's test client does: a request's end must not close the test's connection (and its
    transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(client, settings, connections_kept_open):
    # Actions reach the platform only at a dead address, once: failures must be 4xx answers, never 5xx.
    settings.VIBE_APP_KEY, settings.VIBE_BASE_URL, settings.VIBE_MAX_ATTEMPTS = (
        "vibe_app_" + "f" * 40,
        "http://127.0.0.1:9/v1",
        1,
    )
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.bitrix24.com")
    grant = SessionGrant.objects.create(
        portal=portal,
        bitrix_user_id=1,
        user_name="Admin",
        is_admin=True,
        source="gateway",
        token="vibe_session_" + "z" * 30,
        expires_at=timezone.now() + timedelta(hours=3),
    )
    bot = Bot.objects.create(portal=portal, code="b", name="Bot", status=Bot.Status.ACTIVE, vibe_bot_id=5)
    EventLogEntry.objects.create(bot=bot, vibe_event_id=1, event_type="ONIMBOTV2MESSAGEADD", payload={})
    operator = get_user_model().objects.create_user("ops", password="pw-for-tests-only", is_staff=True)
    operator.groups.add(ensure_operators_group())
    session = client.session
    session[SESSION_KEY] = {
        "member_id": "m1",
        "bitrix_user_id": 1,
        "name": "Admin",
        "is_admin": True,
        "token_digest": "",
        "grant_id": grant.pk,
    }
    session.save()
    # The cookies as cookies: schemathesis generates the schema's `sessionid` cookie (portalSession) for each
    # case, which replaced a Cookie header, so every skills request went without a session (401).
    headers = {"Authorization": f"Token {issue_operator_token(operator)[0]}", "X-CSRFToken": CSRF}
    return headers, {"sessionid": session.session_key, "csrftoken": CSRF}


def test_every_answer_is_one_the_schema_documents(credentials):
    """From an integrator's trial: the schema's operations listed none of the skills API's refusals (401
    without a session, 404 for an unknown skill, 403 and 400 for a change), nor the event log's 404 for an
    invalid cursor, so a client generated from it knew only the 200; and it offered `limit=0`, which the API
    refuses. Only 5xx answers were counted then."""
    headers, cookies = credentials
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    # Uninstalling the portal ends its admin's session: the skills API's 200s are checked before that.
    operations.sort(key=lambda operation: operation.path.endswith("/uninstall/"))
    # Three cases in four name a configured skill (the generated names are all a 404), in a fixed order.
    skill_names = itertools.cycle(["echo", "standup", "help", None])

    def fuzz_operation(operation) -> None:
        # A skill change's options are the skill's own (its optionsSchema, in GET's answer), which one schema
        # of the path cannot state: a change the path's schema allows may still be a 400 naming the option.
        skill_change = operation.method.upper() == "PATCH" and operation.path.startswith("/api/skills/")
        checks = [check for check in CHECKS if not (skill_change and check is positive_data_acceptance)]

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            name = next(skill_names)
            if name and "name" in (case.path_parameters or {}):
                case.path_parameters["name"] = name
            try:
                case.call_and_validate(headers=headers, cookies=cookies, checks=checks)
            except FailureGroup as group:
                failures.extend(f"{operation.label}: {failure.title}" for failure in group.exceptions)

        fuzz()

    for operation in operations:
        fuzz_operation(operation)
    assert not failures, "\n".join(sorted(set(failures)))
