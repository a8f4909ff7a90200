"""No token reaches the database, the logs or the admin in plain text."""

import logging
from pathlib import Path

import pytest
from django.db import connection

from tenants import handshakes, selectors, services
from tenants.models import SessionGrant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def secrets(platform) -> dict[str, str]:
    """The sandbox's real credentials of the portal's admin: a session token and a personal key."""
    return {"token": platform.session(platform.admin), "key": platform.personal_key(platform.admin)}


@pytest.fixture
def installed(platform, secrets):
    admin_id = platform.admin["id"]
    portal = handshakes.accept_gateway_visit(
        session_token=secrets["token"], claimed_portal_id=platform.portal_id, claimed_user_id=str(admin_id)
    )
    services.set_portal_api_key(portal, api_key=secrets["key"], added_by_user_id=admin_id)
    return portal


def _dump_all_rows() -> str:
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_raw_database_rows_hold_no_token_or_key(installed, secrets):
    dump = _dump_all_rows()
    assert SessionGrant.objects.exists()
    assert secrets["token"] not in dump and secrets["key"] not in dump


def test_sqlite_database_file_holds_no_token_or_key(installed, secrets):
    if connection.vendor != "sqlite":
        pytest.skip("the file check applies to the SQLite run; the row check covers PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = connection.settings_dict["NAME"]
    data = Path(path).read_bytes()
    assert secrets["token"].encode() not in data and secrets["key"].encode() not in data


def test_install_refresh_and_uninstall_log_no_token(platform, secrets, caplog):
    caplog.set_level(logging.DEBUG)
    admin_id = platform.admin["id"]
    visit = dict(
        session_token=secrets["token"], claimed_portal_id=platform.portal_id, claimed_user_id=str(admin_id)
    )
    portal = handshakes.accept_gateway_visit(**visit)
    handshakes.accept_gateway_visit(**visit)
    services.set_portal_api_key(portal, api_key=secrets["key"], added_by_user_id=admin_id)
    services.report_credential_refused(portal, credential=selectors.get_portal_credential(portal))
    services.uninstall_portal(portal, reason="admin")
    assert caplog.records
    assert secrets["token"] not in caplog.text and secrets["key"] not in caplog.text


def test_admin_pages_show_grants_masked(installed, secrets, admin_client):
    grant = SessionGrant.objects.get()
    for url in (
        "/admin/tenants/portal/",
        f"/admin/tenants/portal/{installed.pk}/change/",
        "/admin/tenants/sessiongrant/",
        f"/admin/tenants/sessiongrant/{grant.pk}/change/",
        "/admin/tenants/portalapikey/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        body = page.content.decode()
        assert secrets["token"] not in body and secrets["key"] not in body, url
        assert grant.token.raw not in body, url
