"""No token reaches the database, the logs, the admin or an error page in plain text."""

import logging
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from botcore.vibe.identity import VibeIdentityBackend
from tenants import handshakes, selectors, services
from tenants.models import SessionGrant
from tests.botcore.skills.test_portal_admin import signed_in

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


def _failing_page(client: Client, method: str, path: str, **kwargs) -> str:
    client.raise_request_exception = False
    page = getattr(client, method)(path, **kwargs)
    body = page.content.decode()
    assert page.status_code == 500 and "it failed" in body
    return body


def test_an_error_page_shows_no_token_a_visit_carried(platform, secrets, settings, monkeypatch):
    """Django's debug page (DJANGO_DEBUG, as runstack has it) lists each frame's variables and the request:
    a visit that failed showed the session token the gateway injected, one the person is never shown."""

    def fail(**kwargs):
        raise RuntimeError("it failed")

    monkeypatch.setattr(handshakes, "accept_gateway_visit", fail)
    settings.DEBUG = True
    headers = {
        "X-Vibe-Authorization": f"Bearer {secrets['token']}",
        "X-Vibe-Portal-Id": platform.portal_id,
        "X-Vibe-User-Id": str(platform.admin["id"]),
        "X-Vibe-User-Role": "ADMIN",
    }
    body = _failing_page(Client(), "get", "/?placement=DEFAULT", headers=headers)
    assert secrets["token"] not in body


def test_an_error_page_shows_no_key_the_key_form_posted(installed, platform, settings, monkeypatch):
    def fail(self, api_key):
        raise RuntimeError("it failed")

    monkeypatch.setattr(VibeIdentityBackend, "verify_api_key", fail)
    settings.DEBUG = True
    key = platform.personal_key(platform.admin)
    body = _failing_page(
        signed_in(installed, is_admin=True), "post", "/portal/", data={"api_key": key, "action": "api_key"}
    )
    assert key not in body
