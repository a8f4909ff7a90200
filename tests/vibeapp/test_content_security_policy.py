"""Every HTML page of the app (portal pages, their error pages, the admin) carries a Content-Security-Policy:
scripts from the app's own origin only, never inline, no plugins, forms posting back to the app, and framing
refused exactly as X-Frame-Options refuses it. The browser tests check that no page breaks its rules
(tests/conftest.py: browser_page)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_browser() -> Client:
    return signed_in(make_portal("acme"), is_admin=True)


PAGES = [
    ("admin_browser", "/portal/"),
    ("admin_browser", "/portal/skills/standup/"),
    ("operator", "/admin/"),
    ("operator", "/admin/fleet/"),
    ("operator", "/admin/tenants/portal/"),
    (None, "/admin/login/"),
    (None, "/portal/"),  # 401: nobody signed in
]


@pytest.mark.parametrize("who, path", PAGES)
def test_each_page_carries_a_policy_that_allows_no_inline_script(request, who, path):
    client = request.getfixturevalue(who) if who else Client()
    page = client.get(path)
    assert page["Content-Type"].startswith("text/html")
    rules = policy(page)
    assert rules["script-src"] == ["'self'"]
    assert rules["object-src"] == ["'none'"] and rules["base-uri"] == ["'none'"]
    assert rules["form-action"] == ["'self'"]


def test_framing_is_refused_by_the_policy_as_by_x_frame_options(admin_browser):
    page = admin_browser.get("/portal/")
    assert page["X-Frame-Options"] == "DENY"
    assert policy(page)["frame-ancestors"] == ["'none'"]
