"""Operator API tokens are kept as digests: the database (a backup, a read replica, the admin's token page)
holds nothing that opens the API. From a security trial: DRF's tokens were stored as they are sent (found
in the SQLite WAL file) and shown to superusers in the admin. A token issued before keeps working."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from ops.models import OperatorToken
from ops.tokens import adopt_legacy_tokens

pytestmark = pytest.mark.django_db


def issued_token(capsys) -> str:
    call_command("create_operator", "olga", "--no-password", "--api-token")
    return capsys.readouterr().out.rsplit(": ", 1)[-1].strip()


def api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def every_stored_text() -> str:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        found = []
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            found += [str(value) for row in cursor.fetchall() for value in row]
    return "\n".join(found)


def test_the_database_holds_no_token_that_opens_the_api(capsys):
    token = issued_token(capsys)
    assert api(token).get("/api/ops/portals/").status_code == 200
    assert token not in every_stored_text()
    assert OperatorToken.objects.get().digest == hashlib.sha256(token.encode()).hexdigest()


def test_a_new_token_revokes_the_old_and_a_wrong_one_is_refused(capsys):
    first = issued_token(capsys)
    second = issued_token(capsys)
    assert api(first).get("/api/ops/portals/").status_code == 401
    assert api(second).get("/api/ops/portals/").status_code == 200
    assert api(second[:-1] + ("x" if second[-1] != "x" else "y")).get("/api/ops/portals/").status_code == 401


def test_an_inactive_operators_token_is_refused(capsys):
    token = issued_token(capsys)
    get_user_model().objects.filter(username="olga").update(is_active=False)
    assert api(token).get("/api/ops/portals/").status_code == 401


def test_a_token_issued_before_the_upgrade_keeps_working_and_leaves_no_plain_copy():
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("legacy", is_staff=True)
    legacy = Token.objects.create(user=user).key
    adopt_legacy_tokens(Token, OperatorToken)  # what the migration does
    assert not Token.objects.exists()
    assert api(legacy).get("/api/ops/portals/").status_code == 200
    assert legacy not in every_stored_text()
