"""The gateway over real HTTP, in front of a tiny "echo" app on its own uvicorn thread.

It proves the gateway's two promises: the app never sees an `X-Vibe-*` header a client made up, and after
a portal user opens the app it sees the six identity headers of that user's live session.
"""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, request_response

from sandbox.demo import seed_demo
from sandbox.runner import SandboxThread, _server, free_port

APP_KEY = "vibe_app_" + "5eed" * 10
VIBE_HEADERS = {
    "x-vibe-authorization",
    "x-vibe-user-id",
    "x-vibe-portal-id",
    "x-vibe-user-name-encoded",
    "x-vibe-user-role",
    "x-vibe-request-id",
}


# --- the app behind the gateway -----------------------------------------------------------------------------
async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "rawPath": request.scope["raw_path"].decode("latin-1"),
            "query": request.scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw],
            "body": body.decode("utf-8", "replace"),
        }
    )


async def respond(request: Request) -> Response:
    response = Response(
        b"short and stout",
        status_code=418,
        media_type="text/plain",
        headers={"X-Custom": "kept", "Location": "/elsewhere?x=1"},
    )
    response.set_cookie("app_session", "abc", httponly=True)
    response.set_cookie("app_pref", "dark")
    return response


async def stream(request: Request) -> Response:
    async def chunks():
        for n in range(5):
            yield f"chunk-{n};".encode()
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="text/plain")


def build_echo_app() -> Starlette:
    app = Starlette(routes=[Route("/respond", respond), Route("/stream", stream)])
    app.router.default = request_response(echo)  # every other path and method
    return app


class AppThread:
    """The echo app served on loopback by uvicorn on its own thread and event loop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = _server(build_echo_app(), "127.0.0.1", self.port)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the echo app did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# --- fixtures -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def echo_app():
    app = AppThread().start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def gateway_server(echo_app):
    server = SandboxThread(gateway=True, app_url=echo_app.url).start()
    yield server
    server.stop()


@pytest.fixture
def gw(gateway_server):
    gateway_server.reset()
    gateway_server.run_in_loop(lambda services: setattr(services.platform, "default_rate_limit", 1000.0))
    return gateway_server


@pytest.fixture
def demo(gw):
    def seed(services):
        demo = seed_demo(services.platform, app_key=APP_KEY)
        services.platform.create_user(demo.portal, name="Жанна Д'Арк", language="ru")
        return demo

    return gw.run_in_loop(seed)


@pytest.fixture
def browser(gw):
    with httpx.Client(base_url=gw.gateway_url, timeout=10, follow_redirects=False) as client:
        yield client


def open_as(browser: httpx.Client, user_id: int, **params) -> httpx.Response:
    return browser.get("/_gateway/open", params={"userId": user_id, **params})


def echoed(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    data = response.json()
    data["vibe"] = {k: v for k, v in data["headers"] if k.startswith("x-vibe-")}
    return data


FORGED = {
    "X-Vibe-User-Id": "1",
    "x-vibe-authorization": "Bearer vibe_session_forged",
    "X-VIBE-USER-ROLE": "ADMIN",
    "X-Vibe-Portal-Id": "someone-elses-portal",
    "X-Vibe-Something-New": "anything",
}


# --- without a session --------------------------------------------------------------------------------------
def test_without_the_cookie_no_x_vibe_header_reaches_the_app(browser, demo):
    data = echoed(browser.get("/portal/", headers=FORGED))
    assert data["vibe"] == {}
    assert data["path"] == "/portal/"


def test_an_unknown_cookie_injects_nothing_and_is_cleared(browser, demo):
    browser.cookies.set("_vibe_gw", "made-up")
    response = browser.get("/")
    assert echoed(response)["vibe"] == {}
    assert '_vibe_gw=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]


# --- opening the app ----------------------------------------------------------------------------------------
def test_open_sets_an_http_only_cookie_and_lands_with_placement_params(browser, demo):
    response = open_as(browser, demo.users[0].id, next="/portal/?tab=skills")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.path == "/portal/" and not location.netloc
    assert parse_qs(location.query) == {
        "tab": ["skills"],
        "placement": ["DEFAULT"],
        "member_id": [demo.portal.member_id],
    }
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("_vibe_gw=") and "HttpOnly" in cookie and "Path=/" in cookie


def test_after_open_the_app_sees_who_the_user_is(browser, demo):
    boris = demo.users[1]
    open_as(browser, boris.id)
    vibe = echoed(browser.get("/portal/"))["vibe"]
    assert set(vibe) == VIBE_HEADERS
    assert vibe["x-vibe-authorization"].startswith("Bearer vibe_session_")
    assert vibe["x-vibe-user-id"] == str(boris.id)
    assert vibe["x-vibe-portal-id"] == demo.portal.id
    assert unquote(vibe["x-vibe-user-name-encoded"]) == "Boris Ivanov"
    assert vibe["x-vibe-user-role"] == "MEMBER"
    assert vibe["x-vibe-request-id"].startswith("req_")


def test_an_admin_is_role_admin_and_a_cyrillic_name_arrives_url_encoded(browser, demo, gw):
    open_as(browser, demo.users[0].id)
    assert echoed(browser.get("/"))["vibe"]["x-vibe-user-role"] == "ADMIN"
    zhanna = gw.run_in_loop(
        lambda s: next(u for u in s.platform.users.values() if u.name.startswith("Жанна"))
    )
    open_as(browser, zhanna.id)
    vibe = echoed(browser.get("/"))["vibe"]
    assert vibe["x-vibe-user-name-encoded"].isascii()
    assert unquote(vibe["x-vibe-user-name-encoded"]) == "Жанна Д'Арк"


def test_forged_headers_are_replaced_by_the_sessions_own(browser, demo):
    carol = demo.users[2]
    open_as(browser, carol.id)
    data = echoed(browser.get("/", headers=FORGED))
    assert data["vibe"]["x-vibe-user-id"] == str(carol.id)
    assert data["vibe"]["x-vibe-user-role"] == "MEMBER"
    assert data["vibe"]["x-vibe-portal-id"] == demo.portal.id
    assert "forged" not in data["vibe"]["x-vibe-authorization"]
    assert "x-vibe-something-new" not in data["vibe"]
    assert sum(1 for k, _ in data["headers"] if k == "x-vibe-user-id") == 1


def test_the_injected_token_is_a_session_of_the_app_for_that_user(browser, demo, gw):
    open_as(browser, demo.users[1].id)
    token = echoed(browser.get("/"))["vibe"]["x-vibe-authorization"]
    me = httpx.get(f"{gw.base_url}/me", headers={"X-Api-Key": APP_KEY, "Authorization": token}, timeout=10)
    assert me.status_code == 200, me.text
    data = me.json()["data"]
    assert data["currentUser"]["bitrixUserId"] == demo.users[1].id
    assert data["portal"]["id"] == demo.portal.id and data["app"]["name"] == "Vibe demo app"


def test_each_request_gets_its_own_request_id(browser, demo):
    open_as(browser, demo.users[0].id)
    ids = {echoed(browser.get("/"))["vibe"]["x-vibe-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_the_gateway_cookie_stays_with_the_gateway_and_the_apps_cookies_go_through(browser, demo):
    open_as(browser, demo.users[0].id)
    browser.cookies.set("app_session", "xyz")
    cookies = [v for k, v in echoed(browser.get("/"))["headers"] if k == "cookie"]
    assert cookies == ["app_session=xyz"]


def test_an_expired_platform_session_is_still_sent_so_the_app_meets_token_expired(browser, demo, gw):
    open_as(browser, demo.users[0].id)
    gw.run_in_loop(
        lambda s: [setattr(x, "expires_at", s.platform.now()) for x in s.platform.sessions.values()]
    )
    token = echoed(browser.get("/"))["vibe"]["x-vibe-authorization"]
    me = httpx.get(f"{gw.base_url}/me", headers={"X-Api-Key": APP_KEY, "Authorization": token}, timeout=10)
    assert me.status_code == 401 and me.json()["error"]["code"] == "TOKEN_EXPIRED"


# --- the one-time __init token (the real platform's shape) --------------------------------------------------
def test_init_token_sets_the_cookie_and_lands_on_the_clean_url(browser, demo):
    first = open_as(browser, demo.users[1].id, next="/portal/", via="init")
    assert first.status_code == 302 and "set-cookie" not in first.headers
    landing = first.headers["location"]
    assert "__init=" in landing
    redeemed = browser.get(landing)
    assert redeemed.status_code == 302 and redeemed.headers["set-cookie"].startswith("_vibe_gw=")
    clean = urlsplit(redeemed.headers["location"])
    assert clean.path == "/portal/" and parse_qs(clean.query) == {
        "placement": ["DEFAULT"],
        "member_id": [demo.portal.member_id],
    }
    data = echoed(browser.get(redeemed.headers["location"]))
    assert data["vibe"]["x-vibe-user-id"] == str(demo.users[1].id) and "__init" not in data["query"]


def test_an_init_token_works_once(browser, demo):
    landing = open_as(browser, demo.users[1].id, via="init").headers["location"]
    assert browser.get(landing).status_code == 302
    browser.cookies.clear()
    again = browser.get(landing)
    assert again.status_code == 401 and "set-cookie" not in again.headers


def test_an_init_token_expires_after_five_minutes(browser, demo, gw):
    landing = open_as(browser, demo.users[1].id, via="init").headers["location"]
    gw.run_in_loop(lambda s: setattr(s.platform, "clock_offset", s.platform.clock_offset + 301))
    assert browser.get(landing).status_code == 401


# --- the gateway session's life -----------------------------------------------------------------------------
def advance(gw, seconds: float) -> None:
    gw.run_in_loop(lambda s: setattr(s.platform, "clock_offset", s.platform.clock_offset + seconds))


def test_the_gateway_session_slides_with_use_and_ends_after_ten_idle_minutes(browser, demo, gw):
    open_as(browser, demo.users[0].id)
    for _ in range(3):
        advance(gw, 500)
        assert echoed(browser.get("/"))["vibe"], "the session should still be alive after 500 s idle"
    advance(gw, 601)
    assert echoed(browser.get("/"))["vibe"] == {}


def test_logout_forgets_the_session(browser, demo):
    open_as(browser, demo.users[0].id)
    response = browser.get("/_gateway/logout")
    assert response.status_code == 302 and response.headers["location"] == "/_gateway/login"
    assert echoed(browser.get("/"))["vibe"] == {}


def test_a_platform_reset_ends_every_gateway_session(browser, demo, gw):
    open_as(browser, demo.users[0].id)
    gw.reset()
    assert echoed(browser.get("/"))["vibe"] == {}


# --- pass-through -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_method_path_query_and_body_reach_the_app_unchanged(browser, demo, method):
    body = "привет, app ✓".encode()
    response = browser.request(
        method,
        "/api/a%2Fb/items?q=%C3%A9&x=1&x=2",
        content=body,
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    data = echoed(response)
    assert data["method"] == method and data["rawPath"] == "/api/a%2Fb/items"
    assert data["query"] == "q=%C3%A9&x=1&x=2" and data["body"] == body.decode()
    assert ["content-type", "text/plain; charset=utf-8"] in data["headers"]


def test_the_browsers_host_is_kept_and_forwarding_headers_are_added(browser, demo, gw):
    data = echoed(browser.get("/", headers={"X-Forwarded-For": "6.6.6.6"}))
    headers = dict(data["headers"])
    assert headers["host"] == f"127.0.0.1:{gw.gateway_port}"
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"


def test_the_apps_answer_comes_back_unchanged(browser, demo):
    response = browser.get("/respond")
    assert response.status_code == 418 and response.content == b"short and stout"
    assert response.headers["x-custom"] == "kept" and response.headers["location"] == "/elsewhere?x=1"
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2 and cookies[0].startswith("app_session=abc") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith("app_pref=dark")
    assert len(response.headers.get_list("date")) == 1 and len(response.headers.get_list("server")) == 1


def test_with_a_session_the_apps_cookies_come_back_beside_the_sliding_gateway_cookie(browser, demo):
    open_as(browser, demo.users[0].id)
    names = [c.split("=", 1)[0] for c in browser.get("/respond").headers.get_list("set-cookie")]
    assert names == ["app_session", "app_pref", "_vibe_gw"]


def test_a_streamed_answer_arrives_whole(browser, demo):
    with browser.stream("GET", "/stream") as response:
        assert response.status_code == 200
        assert b"".join(response.iter_bytes()) == b"chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;"


def test_a_head_request_goes_through(browser, demo):
    response = browser.head("/anything")
    assert response.status_code == 200 and response.content == b""


# --- the gateway's own pages --------------------------------------------------------------------------------
def test_the_login_page_lists_the_portals_and_their_users(browser, demo):
    page = browser.get("/_gateway/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Demo portal" in page.text and "demo.bitrix24.com" in page.text and "Vibe demo app" in page.text
    for user in demo.users:
        assert user.name in page.text and f"userId={user.id}" in page.text


def test_the_login_page_says_who_is_signed_in(browser, demo):
    open_as(browser, demo.users[2].id)
    assert "Signed in as <strong>Carol Member</strong>" in browser.get("/_gateway/login").text


def test_a_login_link_opens_the_app_through_init(browser, demo):
    page = browser.get("/_gateway/login").text
    href = page.split('href="/_gateway/open?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    with httpx.Client(base_url=browser.base_url, follow_redirects=True, timeout=10) as person:
        landed = echoed(person.get("/_gateway/open?" + href))
    assert landed["vibe"]["x-vibe-user-id"] == str(demo.users[0].id)


@pytest.mark.parametrize(
    "params, status",
    [
        ({}, 400),
        ({"userId": "abc"}, 400),
        ({"userId": "99999"}, 404),
        ({"userId": "1", "next": "https://evil.example.com/"}, 400),
        ({"userId": "1", "next": "//evil.example.com/"}, 400),
        ({"userId": "1", "next": "/\\evil.example.com/"}, 400),
    ],
)
def test_open_refuses_bad_requests_with_a_page(browser, demo, params, status):
    response = browser.get("/_gateway/open", params=params)
    assert response.status_code == status and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


def test_open_without_any_app_says_so(browser, gw):
    def seed(services):
        portal = services.platform.create_portal(name="Bare")
        return services.platform.create_user(portal, name="Nobody Special").id

    response = open_as(browser, gw.run_in_loop(seed))
    assert response.status_code == 404 and "no app" in response.text


def test_an_unknown_gateway_page_is_404(browser, demo):
    assert browser.get("/_gateway/nothing").status_code == 404


@pytest.mark.parametrize("path", ["/_gateway/login", "/_gateway/open", "/_gateway/logout"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_a_gateway_page_asked_with_a_method_it_does_not_take_is_405_naming_get(browser, demo, path, method):
    """A page the gateway has, in a method it does not take: 405 with Allow (RFC 9110 15.5.6), not the
    catch-all's "The gateway has no such page." (404), which told a client the page did not exist."""
    response = browser.request(method, path)
    assert response.status_code == 405
    assert set(response.headers.get("allow", "").split(", ")) == {"GET", "HEAD"}


# --- other gateways -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_an_app_that_is_down_is_a_502_page():
    server = SandboxThread(gateway=True, app_url=f"http://127.0.0.1:{free_port()}").start()
    try:
        response = httpx.get(f"{server.gateway_url}/portal/", timeout=10)
        assert response.status_code == 502 and "not answering" in response.text
    finally:
        server.stop()


@pytest.mark.slow
def test_a_gateway_given_a_key_fronts_that_app_and_no_other(echo_app):
    server = SandboxThread(gateway=True, app_url=echo_app.url, app_key=APP_KEY).start()
    try:

        def seed(services):
            services.platform.create_app(name="Some earlier app")
            return seed_demo(services.platform, app_key=APP_KEY)

        demo = server.run_in_loop(seed)
        with httpx.Client(base_url=server.gateway_url, timeout=10) as person:
            open_as(person, demo.users[0].id)
            token = echoed(person.get("/"))["vibe"]["x-vibe-authorization"]
        me = httpx.get(
            f"{server.base_url}/me", headers={"X-Api-Key": APP_KEY, "Authorization": token}, timeout=10
        )
        assert me.status_code == 200 and me.json()["data"]["app"]["name"] == "Vibe demo app"
    finally:
        server.stop()
