"""Operator API tokens are kept as digests: the database (a backup, a read replica, the admin's token page)
holds nothing that opens the API. From a security trial: DRF's tokens were stored as they are sent (found
in the SQLite WAL file) and shown to superusers in the admin. A token issued before keeps working."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from ops.models import OperatorToken
from ops.operators import ensure_operators_group
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
    user.groups.add(ensure_operators_group())
    legacy = Token.objects.create(user=user).key
    adopt_legacy_tokens(Token, OperatorToken)  # what the migration does
    assert not Token.objects.exists()
    assert api(legacy).get("/api/ops/portals/").status_code == 200
    assert legacy not in every_stored_text()


def test_a_token_lasts_the_configured_days_then_is_refused_saying_how_to_get_another(capsys, settings):
    settings.OPS_API_TOKEN_DAYS = 30
    token = issued_token(capsys)
    stored = OperatorToken.objects.get()
    assert timedelta(days=29, hours=23) < stored.expires_at - timezone.now() <= timedelta(days=30)
    assert api(token).get("/api/ops/portals/").status_code == 200

    OperatorToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = api(token).get("/api/ops/portals/")

    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"] and "create_operator" in refused.json()["detail"]


def test_the_issuer_chooses_the_days_or_a_token_that_never_expires(capsys):
    call_command("create_operator", "olga", "--no-password", "--api-token", "--expires-in-days", "7")
    assert "expires" in capsys.readouterr().out
    assert timedelta(days=6) < OperatorToken.objects.get().expires_at - timezone.now() <= timedelta(days=7)

    call_command("create_operator", "olga", "--no-password", "--api-token", "--expires-in-days", "0")
    assert "never expires" in capsys.readouterr().out
    assert OperatorToken.objects.get().expires_at is None


@pytest.mark.parametrize(
    "arguments",
    [
        ["--expires-in-days", "-1", "--api-token"],
        ["--expires-in-days", "5"],
        ["--api-token", "--revoke-token"],
    ],
)
def test_contradictory_token_options_are_refused_plainly(arguments):
    with pytest.raises(CommandError):
        call_command("create_operator", "olga", "--no-password", *arguments)
    assert not OperatorToken.objects.exists()


def test_a_revoked_token_is_refused_and_revoking_again_says_there_is_none(capsys):
    token = issued_token(capsys)

    call_command("create_operator", "olga", "--revoke-token")
    assert "revoked" in capsys.readouterr().out
    assert api(token).get("/api/ops/portals/").status_code == 401

    call_command("create_operator", "olga", "--revoke-token")
    assert "none to revoke" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no operator named"):
        call_command("create_operator", "nobody", "--revoke-token")


def test_the_admin_offers_no_page_of_drf_plain_tokens(operator):
    """From an operator trial: the admin listed DRF's own "Auth Token" model (rest_framework.authtoken) for a
    superuser to add tokens, each shown in the list as sent and stored as sent, which the operator API never
    accepts (it reads OperatorToken digests only): a token someone took for an operator's, in the clear in
    every backup, that opens nothing. Tokens come from create_operator --api-token."""
    index = operator.get("/admin/").content.decode()
    assert "/admin/authtoken/" not in index
    assert operator.get("/admin/authtoken/tokenproxy/").status_code == 404
