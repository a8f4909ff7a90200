"""No token reaches the database, the logs or the admin in plain text."""
import logging

import pytest
from django.db import connection

from tenants import selectors, services
from tenants.models import SessionGrant
from tests.fakes import make_identity

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "vibe_session_PLAINTEXT_CANARY_42"
KEY = "vibe_api_PLAINTEXT_CANARY_43"


@pytest.fixture
def installed(fake_identity):
    fake_identity.sessions[TOKEN] = make_identity(user_id=1, is_admin=True)
    fake_identity.api_keys[KEY] = make_identity()
    portal = services.accept_gateway_visit(session_token=TOKEN, claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    services.set_portal_api_key(portal, api_key=KEY, added_by_user_id=1)
    return portal


def _dump_all_rows() -> str:
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_raw_database_rows_hold_no_token_or_key(installed):
    dump = _dump_all_rows()
    assert SessionGrant.objects.exists()
    assert TOKEN not in dump and KEY not in dump
    assert "PLAINTEXT_CANARY" not in dump


def test_sqlite_database_file_holds_no_token_or_key(installed):
    if connection.vendor != "sqlite":
        pytest.skip("the file check applies to the SQLite run; the row check covers PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = connection.settings_dict["NAME"]
    data = open(path, "rb").read()
    assert b"PLAINTEXT_CANARY" not in data


def test_install_refresh_and_uninstall_log_no_token(fake_identity, caplog):
    caplog.set_level(logging.DEBUG)
    fake_identity.sessions[TOKEN] = make_identity(user_id=1, is_admin=True)
    portal = services.accept_gateway_visit(session_token=TOKEN, claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    services.accept_gateway_visit(session_token=TOKEN, claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    services.report_credential_refused(portal, credential=selectors.get_portal_credential(portal))
    services.uninstall_portal(portal, reason="admin")
    assert caplog.records
    assert "PLAINTEXT_CANARY" not in caplog.text


def test_admin_pages_show_grants_masked(installed, admin_client):
    grant = SessionGrant.objects.get()
    for url in ("/admin/tenants/portal/", f"/admin/tenants/portal/{installed.pk}/change/",
                "/admin/tenants/sessiongrant/", f"/admin/tenants/sessiongrant/{grant.pk}/change/",
                "/admin/tenants/portalapikey/"):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        body = page.content.decode()
        assert "PLAINTEXT_CANARY" not in body and grant.token.raw not in body, url
