"""The control API changes the platform only for its own clients: a page on another site, open in the
browser of a developer running the sandbox, cannot drive it with a form post or a simple fetch."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.sandbox.helpers import ok, refused

# A form with enctype="text/plain" whose one field is named '{"domain":"…","x":"' and valued '"}' sends
# this body, JSON enough for a parser that ignores the Content-Type.
FORGED = '{{"domain":"{domain}","x":"="}}'


def portals_named(ctl, domain: str) -> int:
    return sum(p["domain"] == domain for p in ok(ctl.get("/_sandbox/portals"))["portals"])


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"}, 403, "CROSS_SITE_REQUEST"),
        ({"Origin": "https://attacker.example"}, 403, "CROSS_SITE_REQUEST"),  # a browser without Sec-Fetch-*
        ({"Sec-Fetch-Site": "cross-site"}, 403, "CROSS_SITE_REQUEST"),
        ({"Origin": "null"}, 403, "CROSS_SITE_REQUEST"),  # a sandboxed frame, a file:// page
        # Another port of the same host is the same site to a browser, not the sandbox's own page.
        ({"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, 403, "CROSS_SITE_REQUEST"),
        ({}, 415, "UNSUPPORTED_MEDIA_TYPE"),  # a browser that tells nothing of where the page came from
    ],
    ids=["cross-site", "origin-only", "fetch-metadata-only", "null-origin", "same-site", "no-metadata"],
)
def test_a_form_post_from_another_site_is_refused_and_changes_nothing(ctl, headers, status, code):
    domain = f"forged-{uuid.uuid4().hex[:8]}.bitrix24.com"
    response = ctl.post(
        "/_sandbox/portals",
        content=FORGED.format(domain=domain),
        headers={"Content-Type": "text/plain", **headers},
    )
    refused(response, status, code)
    assert portals_named(ctl, domain) == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; b=x"])
def test_an_empty_form_post_cannot_reset_the_sandbox(ctl, content_type):
    """A form with no fields needs no body to reach an endpoint that takes none."""
    domain = f"kept-{uuid.uuid4().hex[:8]}.bitrix24.com"
    ok(ctl.post("/_sandbox/portals", json={"domain": domain}))
    refused(
        ctl.post("/_sandbox/reset", headers={"Content-Type": content_type}), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    assert portals_named(ctl, domain) == 1


def test_the_sandbox_s_own_clients_still_drive_it(sandbox, ctl):
    own_origin = sandbox.root_url.rstrip("/")
    domain = f"own-{uuid.uuid4().hex[:8]}.bitrix24.com"
    # The chat page's fetch: same origin, JSON.
    page = {"Origin": own_origin, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
    portal = ok(ctl.post("/_sandbox/portals", content=json.dumps({"domain": domain}), headers=page))["portal"]
    # Its bodiless actions send no Content-Type at all.
    bodiless = {"Origin": own_origin, "Sec-Fetch-Site": "same-origin"}
    ok(ctl.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Anna"}, headers=bodiless))
    # Tests, benchmarks and the bot shell (httpx), and curl with -H 'Content-Type: application/json'.
    rule = ok(ctl.post("/_sandbox/faults", json={"path": "/v1/nothing", "latencyMs": 1}))["id"]
    ok(ctl.delete(f"/_sandbox/faults/{rule}"))
    ok(ctl.post("/_sandbox/settings", headers={"Content-Type": "application/json; charset=utf-8"}))
    # A URL typed into the address bar, or a bookmark: no page made the request.
    ok(ctl.post("/_sandbox/settings", json={}, headers={"Sec-Fetch-Site": "none"}))
    assert portals_named(ctl, domain) == 1


def test_reading_is_left_to_the_browser_s_own_rule(ctl):
    """Another site's page may make a browser send a GET, but cannot read the answer (no CORS headers)."""
    response = ctl.get("/_sandbox/portals", headers={"Origin": "https://attacker.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
