"""Builds the sandbox's ASGI app: the platform API, identity (me, OAuth), the control API and chat page."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox import chatpage, control, identity, portalpage, stats
from sandbox.api import bots, chats, commands, events, files, interface, messages, users
from sandbox.auth import find_key
from sandbox.calls import CallLog
from sandbox.errors import ERRORS
from sandbox.faults import Faults, router_answer
from sandbox.http import InjectedResponse, envelope_error, spoken_refusal
from sandbox.ratelimit import RateLimiter
from sandbox.state import Platform, StateError


@dataclass
class Services:
    """What every handler may reach through `request.app.state.services`."""

    platform: Platform
    faults: Faults
    limiter: RateLimiter
    calls: CallLog
    # The dialects the sandbox was started with: a reset returns to them, not to none.
    startup_dialects: frozenset[str] = field(default_factory=frozenset)
    # The server is stopping: a poll answers at once, as under `no-long-poll`.
    closing: bool = False
    # Host names the control API answers beyond loopback's (sandbox.hosts); configuration, kept by a reset.
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def reset(self) -> None:
        """Forget everything: a new, empty platform, no faults, default limits, no recorded calls."""
        self.platform = Platform()
        self.platform.dialects = self.startup_dialects
        self.faults = Faults()
        self.limiter = RateLimiter(self.platform)
        self.calls.clear()

    def close_long_polls(self) -> None:
        """The server stops: every held long-poll answers now (empty, as its timeout would), and no new one
        is held, so a stop waits for none of them and cuts none mid-wait."""
        self.closing = True
        for bot in self.platform.bots.values():
            bot.wake_long_polls()


def make_services(
    platform: Platform | None = None,
    *,
    dialects: frozenset[str] | None = None,
    allowed_hosts: frozenset[str] = frozenset(),
) -> Services:
    """Services around `platform` (or a new one); `dialects`, when given, replace whatever it spoke;
    `allowed_hosts`: the names the control API answers beyond loopback's (sandbox.hosts.allowed_hosts)."""
    platform = platform or Platform()
    if dialects is not None:
        platform.dialects = dialects
    return Services(
        platform=platform,
        faults=Faults(),
        limiter=RateLimiter(platform),
        calls=CallLog(),
        startup_dialects=platform.dialects,
        allowed_hosts=allowed_hosts,
    )


async def _http_error(request: Request, exc: HTTPException) -> Response:
    platform = request.app.state.services.platform
    if exc.status_code == 404 and request.url.path.startswith("/v1/"):
        # A fault on every path ("*": an outage) answers the API's unknown paths too, as a platform that is
        # down does: a health check's GET of the API root must see the outage it rehearses, not a 404.
        try:
            await request.app.state.services.faults.before(request)
        except InjectedResponse as injected:
            return injected.response
        except StateError as error:
            return envelope_error(error)
        if not platform.speaks("path-before-key"):
            # The key before the route, as a gateway in front of every /v1 path asks for it: the reference's
            # AUTH_REQUIRED is a system error, "Missing X-Api-Key header", whatever the path.
            try:
                find_key(platform, request.headers.get("x-api-key"))
            except StateError as refused:
                return envelope_error(spoken_refusal(platform, refused))
    if (
        exc.status_code in (404, 405)
        and request.url.path.startswith("/v1/")
        and platform.speaks("router-errors")
    ):
        # A platform whose framework answers what it has no route for itself (Spring Boot's error JSON).
        return router_answer(exc.status_code, request.url.path, allow=_methods_at(request))
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "INVALID_REQUEST")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_methods_at(request))
    return JSONResponse(
        {"success": False, "error": {"code": code, "message": ERRORS[code][1]}},
        status_code=exc.status_code,
        headers=headers,
    )


def _methods_at(request: Request) -> list[str]:
    """Every method some route takes at the request's path, for a 405's Allow (RFC 9110 15.5.6: a 405 MUST
    name them). Starlette's own names only the first route matching the path, and the API declares a route
    per method: PUT /v1/bots would have been told POST alone, not GET."""
    methods: set[str] = set()
    # Matched from the app's root: a mount the request went into (the chat page's static files) has moved
    # the scope's root_path onto itself.
    scope = {
        **request.scope,
        "root_path": request.scope.get("app_root_path", request.scope.get("root_path", "")),
    }
    for route in request.app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            methods.update(("GET", "HEAD"))  # what StaticFiles serves; its own 405 names nothing
        else:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"success": False, "error": {"code": "INTERNAL_ERROR", "message": ERRORS["INTERNAL_ERROR"][1]}},
        status_code=500,
    )


class _GzipAnswers:
    """The `gzip-answers` dialect: the platform's answers (/v1/) gzipped where the call accepts gzip, as a
    compressing proxy in front of it does (nginx's `gzip on` for JSON, past its 20-byte gzip_min_length);
    an answer already encoded (a fault's), the control API and the pages as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=20)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith("/v1/")
            and scope["app"].state.services.platform.speaks("gzip-answers")
        ):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def build_app(services: Services | None = None, *, gateway_port: int | None = None) -> Starlette:
    """`gateway_port`: where the gateway in front of the app listens, which the /portal page frames."""
    services = services or make_services()
    # Order matters where paths overlap: /v1/bots/revision is registered before /v1/bots/{bot_id}.
    routes = [
        *bots.routes,
        *events.routes,
        *messages.routes,
        *chats.routes,
        *commands.routes,
        *interface.routes,
        *files.routes,
        *users.routes,
        *identity.routes,
        *control.routes,
        *stats.routes,
        *chatpage.routes,
        *portalpage.routes,
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    # The reference's paths are exact: `/v1/bots/` is no endpoint, a 404 in the envelope like any other,
    # not Starlette's bare 307 to the path without the slash.
    app.router.redirect_slashes = False
    app.add_middleware(_GzipAnswers)
    app.state.services = services
    app.state.gateway_port = gateway_port
    return app
