"""The sandbox's /portal page plays the portal's Bitrix24 page: it frames the app through the gateway, from
the sandbox's own origin, and allows itself to frame nothing else."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.runner import SandboxThread, free_port


@pytest.fixture(scope="module")
def portal_server():
    server = SandboxThread(gateway=True, app_url=f"http://127.0.0.1:{free_port()}").start()
    yield server
    server.stop()


@pytest.fixture
def control(portal_server):
    portal_server.reset()
    with httpx.Client(base_url=portal_server.root_url, timeout=10) as client:
        yield client


def add_user(control: httpx.Client) -> dict:
    portal = control.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}).json()
    portal_id = portal["data"]["portal"]["id"]
    return control.post(
        f"/_sandbox/portals/{portal_id}/users", json={"name": "Alice Admin", "isAdmin": True}
    ).json()["data"]["user"]


def test_the_portal_page_frames_the_app_through_the_gateway(portal_server, control):
    user = add_user(control)
    page = control.get("/portal", params={"userId": user["id"], "next": "/portal/"})
    assert page.status_code == 200
    src = page.text.split('<iframe src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    parts = urlsplit(src)
    assert f"{parts.scheme}://{parts.netloc}" == portal_server.gateway_url and parts.path == "/_gateway/open"
    assert parse_qs(parts.query) == {"userId": [str(user["id"])], "next": ["/portal/"], "via": ["init"]}
    assert "Acme" in page.text and "Alice Admin" in page.text


def test_the_portal_page_may_frame_the_gateway_alone_and_is_framed_by_nobody(portal_server, control):
    page = control.get("/portal", params={"userId": add_user(control)["id"]})
    rules = {
        name: values
        for name, *values in (d.split() for d in page.headers["Content-Security-Policy"].split(";"))
    }
    assert rules["frame-src"] == [portal_server.gateway_url]
    assert rules["default-src"] == ["'none'"] and rules["frame-ancestors"] == ["'none'"]
    assert "script-src" not in rules  # no script at all: default-src 'none'


def test_without_a_user_the_page_lists_whom_to_open_the_app_as(control):
    user = add_user(control)
    page = control.get("/portal")
    assert page.status_code == 200 and "<iframe" not in page.text
    assert f"/portal?userId={user['id']}" in page.text


@pytest.mark.parametrize(
    ("query", "status"), [({"userId": "x"}, 400), ({"userId": "999"}, 404), ({"next": "//evil"}, 400)]
)
def test_a_wrong_user_or_path_is_refused(control, query, status):
    assert control.get("/portal", params=query).status_code == status


def test_without_a_gateway_the_page_says_there_is_nothing_to_frame(sandbox):
    with httpx.Client(base_url=sandbox.root_url, timeout=10) as control:
        page = control.get("/portal", params={"userId": add_user(control)["id"]})
    assert page.status_code == 200 and 'data-testid="no-gateway"' in page.text and "<iframe" not in page.text
    assert "frame-src" not in page.headers["Content-Security-Policy"]
