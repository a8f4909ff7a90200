"""The VibeCode gateway in front of an app (CONTRACT A §6, B §5.2): sign-in, then a header-injecting proxy.

On the real platform a portal user opens the app inside Bitrix24; the platform mints a session token and
a one-time `__init` token, the gateway redeems `__init` into an HttpOnly cookie `_vibe_gw` and from then
on forwards every request to the app with the caller's identity in `X-Vibe-*` headers. Here:

- `GET /_gateway/login` lists the portals and their users; picking one plays "this user opens the app".
- `GET /_gateway/open?userId=…[&next=/path][&placement=…][&via=init]` mints a session for the fronted
  app (the one whose key the gateway was given, else the first app), and answers 302 to
  `next?placement=DEFAULT&member_id=<portal memberId>` with the cookie set. With `via=init` it sets no
  cookie and adds `&__init=<one-time token>` instead, the real platform's shape: the gateway redeems it on
  arrival (any `GET …?__init=`), sets the cookie and redirects to the same URL without `__init`.
- `GET /_gateway/logout` forgets the gateway session.
- Everything else is proxied (gateway_proxy.py). Client-sent `X-Vibe-*` headers are always removed;
  with a live gateway session the six identity headers are injected.

The cookie's gateway session slides: it lasts IDLE_SECONDS after the last request, on the platform's clock.
It keeps the session token it was opened with even past that token's expiry, so the app meets
TOKEN_EXPIRED from /v1/me as it would on the platform; a platform reset ends every gateway session.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match, Route, request_response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from sandbox.gateway_proxy import proxy
from sandbox.gateway_state import IDLE_SECONDS, Gateway, GatewayRefusal, GatewaySession
from sandbox.numbers import is_decimal
from sandbox.pages import error_page, render_page
from sandbox.records import Portal, User
from sandbox.state import Platform

COOKIE_NAME = "_vibe_gw"
DEFAULT_PLACEMENT = "DEFAULT"
MAX_NEXT_LENGTH = 2048
# /_gateway/* never reaches the app, in any method.
OWN_PAGE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


# --- cookies and URLs ------------------------------------------------------------------------------------
def set_session_cookie(response: Response, gateway_session: GatewaySession) -> None:
    response.set_cookie(
        COOKIE_NAME, gateway_session.id, max_age=int(IDLE_SECONDS), path="/", httponly=True, samesite="lax"
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")


def check_next(raw: str | None) -> str:
    """A path on the app to land on; anything that could leave the app's origin is refused."""
    target = raw or "/"
    if (
        len(target) > MAX_NEXT_LENGTH
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in target)
    ):
        raise GatewayRefusal("Not a path on the app", "next must be a path on the app, like /portal/.", 400)
    return target


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def without_param(request: Request, name: str) -> str:
    """The request's own path and query (as the browser sent them) minus every `name` parameter."""
    kept = [
        pair
        for pair in request.scope.get("query_string", b"").decode("latin-1").split("&")
        if pair and pair.split("=", 1)[0] != name
    ]
    return request.url.path + ("?" + "&".join(kept) if kept else "")


# --- pages ---------------------------------------------------------------------------------------------
def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway


def refusal_page(
    request: Request, refusal: GatewayRefusal, *, links: list[tuple[str, str]] | None = None
) -> Response:
    """The page saying why, with `links` on (the gateway's sign-in by default)."""
    return error_page(
        request,
        title=refusal.title,
        message=refusal.message,
        status=refusal.status,
        links=links if links is not None else [("Choose a user", "/_gateway/login")],
    )


def login_entries(platform: Platform, next_path: str) -> list[tuple[Portal, list[tuple[User, str]]]]:
    entries = []
    for portal in sorted(platform.portals.values(), key=lambda p: (p.name.lower(), p.domain)):
        users = sorted((u for u in platform.users.values() if u.portal_id == portal.id), key=lambda u: u.id)
        links = [
            (u, "/_gateway/open?" + urlencode({"userId": u.id, "next": next_path, "via": "init"}))
            for u in users
        ]
        entries.append((portal, links))
    return entries


async def login_page(request: Request) -> Response:
    """GET /_gateway/login: pick a portal user to open the app as."""
    gateway = gateway_of(request)
    try:
        next_path = check_next(request.query_params.get("next"))
    except GatewayRefusal as refusal:
        return refusal_page(request, refusal)
    try:
        app, app_problem = gateway.fronted_app(), None
    except GatewayRefusal as refusal:
        app, app_problem = None, refusal.message
    current = gateway.find_session(request.cookies.get(COOKIE_NAME))
    context = {
        "app": app,
        "app_problem": app_problem,
        "app_url": str(gateway.app_url),
        "entries": login_entries(gateway.platform, next_path),
        "current_user": gateway.platform.users.get(current.session.user_id) if current else None,
        "next_path": next_path,
    }
    return render_page(request, "gateway_login.html", context)


async def open_app(request: Request) -> Response:
    """GET /_gateway/open?userId=…: this portal user opens the app (see the module docstring)."""
    gateway = gateway_of(request)
    query = request.query_params
    try:
        raw_user_id = (query.get("userId") or "").strip()
        if not is_decimal(raw_user_id) or len(raw_user_id) > 18:
            raise GatewayRefusal("Choose a user", "userId must be the id of a portal user.", 400)
        user = gateway.platform.users.get(int(raw_user_id))
        if user is None:
            raise GatewayRefusal("No such user", f"The sandbox has no user {raw_user_id}.", 404)
        next_path = check_next(query.get("next"))
        session = gateway.mint_session(user)
    except GatewayRefusal as refusal:
        return refusal_page(request, refusal)
    placement = {
        "placement": query.get("placement") or DEFAULT_PLACEMENT,
        "member_id": gateway.platform.portals[user.portal_id].member_id,
    }
    if query.get("placement_options"):
        placement["placement_options"] = query["placement_options"]
    landing = with_query(next_path, placement)
    if query.get("via") == "init":
        ticket = gateway.issue_ticket(session)
        return RedirectResponse(with_query(landing, {"__init": ticket.token}), status_code=302)
    response = RedirectResponse(landing, status_code=302)
    set_session_cookie(response, gateway.open_session(session))
    return response


async def logout(request: Request) -> Response:
    """GET /_gateway/logout: forget this browser's gateway session."""
    gateway_of(request).forget_session(request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/_gateway/login", status_code=302)
    clear_session_cookie(response)
    return response


async def redeem_init(request: Request) -> Response:
    """GET …?__init=<token>: set the cookie from a one-time token and go on to the clean URL."""
    gateway = gateway_of(request)
    opened = gateway.redeem_ticket(request.query_params.get("__init", ""))
    if opened is None:
        expired = GatewayRefusal(
            "This link has expired",
            "The one-time sign-in link was used already or is too old: open the app again.",
            401,
        )
        return refusal_page(request, expired)
    response = RedirectResponse(without_param(request, "__init"), status_code=302)
    set_session_cookie(response, opened)
    return response


async def gateway_not_found(request: Request) -> Response:
    """/_gateway/* where the gateway has no page: 404; one of its pages in a method it does not take (this
    route takes them all, so that none reaches the app): 405 naming those it does (RFC 9110 15.5.6)."""
    allowed = {
        method
        for route in request.app.router.routes
        if isinstance(route, Route) and route.endpoint is not gateway_not_found
        if route.matches(request.scope)[0] is not Match.NONE
        for method in route.methods or ()
    }
    if not allowed:
        return refusal_page(request, GatewayRefusal("Not found", "The gateway has no such page.", 404))
    refused = GatewayRefusal("Method not allowed", f"This page takes {' and '.join(sorted(allowed))}.", 405)
    response = refusal_page(request, refused)
    response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


async def forward(request: Request) -> Response:
    """Every request that is not the gateway's own: redeem __init, or proxy it to the app."""
    gateway = gateway_of(request)
    if request.method == "GET" and "__init" in request.query_params:
        return await redeem_init(request)
    cookie = request.cookies.get(COOKIE_NAME)
    current = gateway.find_session(cookie)
    response = await proxy(request, gateway, current)
    if current is not None:
        set_session_cookie(response, current)  # slide the cookie with the session
    elif cookie:
        clear_session_cookie(response)
    return response


def build_gateway(services: Any, app_url: str, app_key: str | None = None) -> Starlette:
    """The gateway as an ASGI app, served on its own port in front of `app_url`."""
    app = Starlette(
        routes=[
            Route("/_gateway/login", login_page, methods=["GET"]),
            Route("/_gateway/open", open_app, methods=["GET"]),
            Route("/_gateway/logout", logout, methods=["GET"]),
            Route("/_gateway/{rest:path}", gateway_not_found, methods=OWN_PAGE_METHODS),
        ]
    )
    forward_http = request_response(forward)

    async def to_the_app(scope: Scope, receive: Receive, send: Send) -> None:
        """Whatever matched no route, in any method (a Route would limit the methods), goes to the app."""
        if scope["type"] != "http":  # the gateway forwards HTTP only; a WebSocket is closed politely
            await WebSocketClose()(scope, receive, send)
            return
        await forward_http(scope, receive, send)

    app.router.default = to_the_app
    app.state.gateway = Gateway(services, app_url, app_key)
    return app
