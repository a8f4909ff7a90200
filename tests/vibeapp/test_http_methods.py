"""Every path the app routes answers HEAD as it answers GET, without the body (RFC 9110 §9.1: a server MUST
take GET and HEAD; §9.3.2: HEAD is GET without the content), and a method it does not take with 405 naming
those it does in Allow (§15.5.6). A probe or a link checker sending HEAD got 405 from every page of the
portal, /healthz, /readyz and /metrics."""

from __future__ import annotations

import re

import pytest
from django.contrib.admindocs.views import extract_views_from_urlpatterns, simplify_regex
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import get_resolver

from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db


def _app_paths() -> list[str]:
    """Each path the app's own views answer, its parameters filled in (a skill's name, else 1). The admin's
    own views are Django's and left out; the app's views under /admin/ (the fleet, the sign-in) are in."""
    paths = set()
    for view, regex, _namespace, _name in extract_views_from_urlpatterns(get_resolver().url_patterns):
        if view.__module__.startswith("django."):
            continue
        path = simplify_regex(regex)
        paths.add(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "echo" if m[1] == "name" else "1", path))
    return sorted(paths)


APP_PATHS = _app_paths()


@pytest.fixture
def everyone():
    """A browser that is both a portal's admin (its tenants session) and an operator (the admin's session),
    so that each path answers as it does to someone allowed in; and one that is nobody."""
    portal = make_portal("acme")
    insider = signed_in(portal, is_admin=True)
    insider.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))
    return {"insider": insider, "anonymous": Client()}


def test_the_app_paths_are_found():
    assert {"/portal/", "/portal/skills/echo/", "/healthz", "/metrics", "/api/ops/", "/admin/fleet/"} <= set(
        APP_PATHS
    )


@pytest.mark.parametrize("path", APP_PATHS)
@pytest.mark.parametrize("who", ["insider", "anonymous"])
def test_head_answers_as_get_does_without_the_body(everyone, who, path):
    client = everyone[who]
    got = client.get(path)
    head = client.head(path)
    if got.status_code == 405:  # a path GET is no method of (a form's POST): neither is HEAD
        assert head.status_code == 405 and "HEAD" not in head["Allow"].split(", ")
        return
    assert head.status_code == got.status_code, head.get("Allow")
    assert head.get("Content-Type") == got.get("Content-Type")
    assert head.get("Location") == got.get("Location")
    assert head.content == b""


@pytest.mark.parametrize("path", APP_PATHS)
def test_a_method_no_view_takes_is_405_naming_what_the_path_takes(everyone, path):
    answer = everyone["insider"].put(path)
    assert answer.status_code == 405
    allowed = answer["Allow"].split(", ")
    assert ("GET" in allowed) == ("HEAD" in allowed), allowed
    assert "PUT" not in allowed


def test_a_portal_page_opened_with_the_gateway_headers_sends_head_through_the_entry_as_get():
    """A page asked for with the gateway's headers of someone not yet signed in goes through the entry (which
    signs them in) and back; HEAD was answered the page as it stood, for nobody (401)."""
    gateway = {"HTTP_X_VIBE_AUTHORIZATION": "Bearer vibe_session_someone_new", "HTTP_X_VIBE_USER_ID": "7"}
    got = Client().get("/portal/", **gateway)
    head = Client().head("/portal/", **gateway)
    assert got.status_code == 302 and got["Location"].startswith("/?next=")
    assert (head.status_code, head.get("Location")) == (got.status_code, got["Location"])
