"""A request body over Django's upload limits is the client's doing: a 413 naming the limit and one WARNING
naming the path, never an ERROR with a traceback (which pages whoever watches the errors) or a 500."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings as django_settings
from django.middleware.csrf import CSRF_SECRET_LENGTH
from django.test import Client

from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db

LIMIT = 1000


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50


def api_client() -> Client:
    return signed_in(make_portal("acme"), is_admin=True)


def csrf_client() -> Client:
    """A browser with a CSRF cookie, so that the CSRF check reads the form for its token."""
    client = Client(enforce_csrf_checks=True)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = "k" * CSRF_SECRET_LENGTH
    return client


def send(client: Client, method: str, path: str, body: str, content_type: str):
    return getattr(client, method)(path, body, content_type=content_type)


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
BIG_JSON = json.dumps({"options": {"question": "x" * 2 * LIMIT}})
BIG_FORM = "a=" + "x" * 2 * LIMIT
MANY_FIELDS = "&".join(f"f{i}=1" for i in range(100))


@pytest.mark.parametrize(
    "client, method, path, body, content_type, setting",
    [
        # the view reads it (DRF's request.data)
        (api_client, "patch", "/api/skills/standup/", BIG_JSON, JSON, "DATA_UPLOAD_MAX_MEMORY_SIZE"),
        # the CSRF check reads it, before any view
        (csrf_client, "post", "/admin/login/", BIG_FORM, FORM, "DATA_UPLOAD_MAX_MEMORY_SIZE"),
        (csrf_client, "post", "/admin/login/", MANY_FIELDS, FORM, "DATA_UPLOAD_MAX_NUMBER_FIELDS"),
    ],
    ids=["api-json", "form-csrf", "form-fields"],
)  # fmt: skip
def test_a_body_over_the_limit_is_a_413_logged_once_as_a_warning(
    caplog, client, method, path, body, content_type, setting
):
    caplog.set_level(logging.INFO)
    refused = send(client(), method, path, body, content_type)
    assert refused.status_code == 413
    assert setting in refused.content.decode() and len(refused.content) < 300
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert path in warning.getMessage() and setting in warning.getMessage()


def test_a_body_within_the_limit_still_reaches_the_view():
    answered = send(api_client(), "patch", "/api/skills/standup/", json.dumps({"isEnabled": "x"}), JSON)
    assert answered.status_code == 400 and "isEnabled" in answered.json()


def test_a_refused_bodys_path_cannot_forge_a_log_line(caplog):
    """A path resolves with a line break in it (a skill's name is any text but /); the 413's WARNING wrote
    it as it came, so a request could add a line of its own making to a text log."""
    caplog.set_level(logging.INFO)
    path = "/portal/skills/x%0a2030-01-01 ERROR forged/"
    refused = send(csrf_client(), "post", path, BIG_FORM, FORM)
    assert refused.status_code == 413
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "\n" not in warning.getMessage() and "x\\n2030-01-01" in warning.getMessage()


def test_a_portal_forms_body_over_the_limit_is_a_page_the_portals_frame_shows():
    """In the portal's Bitrix24 frame a too-large form answered plain text that the frame refused to show (the
    answer said DENY): a blank frame. It is the portal's error page now, framed like the page posted from."""
    refused = send(csrf_client(), "post", "/portal/", MANY_FIELDS, FORM)
    assert refused.status_code == 413 and refused["Content-Type"].startswith("text/html")
    page = refused.content.decode()
    assert "too large" in page and "<html" in page
    assert "X-Frame-Options" not in refused
    assert "https://*.bitrix24.com" in refused["Content-Security-Policy"]
