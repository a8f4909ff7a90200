"""The gateway's forwarding: requests go to the app with X-Vibe-* identity headers, answers come back as is.

Request side: hop-by-hop headers are dropped (RFC 9110 §7.6.1, including any the Connection header
names), every client-sent `X-Vibe-*` header is removed whatever its case, the gateway's own `_vibe_gw`
cookie is taken out of `Cookie` (it is the gateway's secret, not the app's), `Host` is kept as the
browser sent it (so the app builds links and checks CSRF origins against the address the person uses),
`X-Forwarded-For/-Proto/-Host` are set, and the body is streamed. With a live gateway session the six
identity headers are added. Response side: status, headers (every Set-Cookie, Location untouched) and
body pass through, streamed, minus hop-by-hop headers. An app that cannot be reached is a 502 page.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sandbox.pages import error_page

if TYPE_CHECKING:
    from sandbox.gateway_state import Gateway, GatewaySession

log = logging.getLogger(__name__)

VIBE_HEADER_PREFIX = b"x-vibe-"
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Request headers the gateway sets itself, so a client's own values never reach the app.
GATEWAY_SET = frozenset(
    {b"host", b"content-length", b"expect", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
)


def make_http_client() -> httpx.AsyncClient:
    """The client to the app: no redirects followed, no cookies kept, no proxy from the environment."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        timeout=httpx.Timeout(connect=5.0, read=300.0, write=60.0, pool=30.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )


def connection_named(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Headers a Connection header declares hop-by-hop for this one connection."""
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return named


def without_gateway_cookie(value: bytes) -> bytes:
    parts = [part.strip() for part in value.split(b";")]
    kept = [part for part in parts if part and part.split(b"=", 1)[0] != b"_vibe_gw"]
    return b"; ".join(kept)


def identity_headers(gateway: Gateway, current: GatewaySession) -> list[tuple[bytes, bytes]]:
    """What the platform's gateway tells the app about the caller (CONTRACT part A §6)."""
    session = current.session
    user = gateway.platform.users[session.user_id]
    return [
        (b"x-vibe-authorization", f"Bearer {session.token}".encode("ascii")),
        (b"x-vibe-user-id", str(user.id).encode("ascii")),
        (b"x-vibe-portal-id", session.portal_id.encode("ascii")),
        (b"x-vibe-user-name-encoded", quote(user.name, safe="").encode("ascii")),
        (b"x-vibe-user-role", b"ADMIN" if user.is_admin else b"MEMBER"),
        (b"x-vibe-request-id", f"req_{secrets.token_hex(12)}".encode("ascii")),
    ]


def forwarded_headers(
    request: Request, gateway: Gateway, current: GatewaySession | None
) -> list[tuple[bytes, bytes]]:
    raw = list(request.headers.raw)
    drop = HOP_BY_HOP | GATEWAY_SET | connection_named(raw)
    headers: list[tuple[bytes, bytes]] = []
    for name, value in raw:
        lowered = name.lower()
        if lowered in drop or lowered.startswith(VIBE_HEADER_PREFIX):
            continue
        if lowered == b"cookie":
            value = without_gateway_cookie(value)
            if not value:
                continue
        headers.append((lowered, value))
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    client_ip = request.client.host if request.client else "unknown"
    headers += [
        (b"host", host.encode("latin-1")),
        (b"x-forwarded-for", client_ip.encode("latin-1")),
        (b"x-forwarded-proto", request.url.scheme.encode("latin-1")),
        (b"x-forwarded-host", host.encode("latin-1")),
    ]
    if request.headers.get("content-length"):
        headers.append((b"content-length", request.headers["content-length"].encode("latin-1")))
    if current is not None:
        headers += identity_headers(gateway, current)
    return headers


def has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length.strip() != "0") or "transfer-encoding" in request.headers


def upstream_url(gateway: Gateway, request: Request) -> httpx.URL:
    raw_path = request.scope.get("raw_path") or request.url.path.encode("ascii")
    query = request.scope.get("query_string", b"")
    base = gateway.app_url.raw_path.rstrip(b"/")
    return gateway.app_url.copy_with(raw_path=base + raw_path + (b"?" + query if query else b""))


async def proxy(request: Request, gateway: Gateway, current: GatewaySession | None) -> Response:
    """Forward `request` to the app and stream its answer back."""
    upstream_request = httpx.Request(
        request.method,
        upstream_url(gateway, request),
        headers=forwarded_headers(request, gateway, current),
        content=request.stream() if has_body(request) else None,
    )
    try:
        upstream = await gateway.http.send(upstream_request, stream=True)
    except httpx.HTTPError as error:
        log.warning("gateway: the app at %s did not answer (%s)", gateway.app_url, error.__class__.__name__)
        return error_page(
            request,
            title="The app is not answering",
            message=f"The gateway could not reach the app at {gateway.app_url}. Is it running?",
            status=502,
        )

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    response = StreamingResponse(
        body(), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
    )
    drop = HOP_BY_HOP | connection_named(upstream.headers.raw)
    response.raw_headers = [
        (name.lower(), value) for name, value in upstream.headers.raw if name.lower() not in drop
    ]
    return response
