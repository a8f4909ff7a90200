"""Run-time fault injection: added latency, error rates, forced error codes, dropped connections.

A rule names a method and a route path template (as registered, e.g. "/v1/bots/{bot_id}/events", or the
literal path, or "*") and what goes wrong there. A garbage answer is a 200 that is not what the platform says:
an HTML error page from a proxy ("html"), bytes that are not JSON at all ("text"), the platform's JSON
envelope around data of the wrong shape ("json"), or an events answer whose `events` no reading can take (a
string) beside a nextOffset past anything waiting ("events-unreadable"), or JSON that does not end ("endless":
a string streamed for ENDLESS_BYTES, a broken server or proxy that keeps sending), or what a proxy in the way
makes of an answer: a Content-Encoding the body does not match ("wrong-encoding": says gzip, is plain), 64 KiB
of gzip that unpacks to 64 MiB ("gzip-bomb"), JSON nested deeper than any parser follows ("deep"), or an
envelope that trickles in a byte per TRICKLE_PAUSE ("trickle": never slow enough for a read timeout, and done
only after a minute), or a wrong server's (or a proxy's) page of HUGE_PAGE_BYTES, within what a client reads
("huge-page": read whole, every attempt, and judged no answer of the platform's), or a proxy's refusal of a
request too large for it, before the platform saw it: 413
Request Entity Too Large with the proxy's HTML page ("proxy-413"), 431 Request Header Fields Too Large with no
body at all ("proxy-431"); or a router's own answer for a path ("router-404") or a method ("router-405") it
has no handler for: Spring Boot's error JSON, not the platform's envelope; or 204 No Content, no body at all
("no-content": with after_action, a send that posted and names no message). Every endpoint calls
`Faults.before(request)` first, so a forced code is answered in the platform's envelope with that code's
status, before any auth check: that is how REGISTRATION_FAILED, BITRIX_ERROR or INTERNAL_ERROR are reached at
all. A dropped connection sends the start of a response and then closes the socket, so a client sees a
transport error, never a reply. A rule with `after_action` strikes once
the endpoint has done its work instead (its latency, drop, garbage or error replace the answer): the platform
acted and the client never heard, which is what makes a write's outcome unknown to it.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import logging
import random
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from sandbox.http import ApiError, InjectedResponse
from sandbox.state import StateError

log = logging.getLogger(__name__)

# Codes whose real answers carry a retryAfter (CONTRACT part B §2): an injected one does too.
_RETRY_AFTER_CODES = {"RATE_LIMIT", "QUEUE_TIMEOUT"}

GARBAGE_KINDS = (
    "html", "text", "json", "events-unreadable", "endless", "wrong-encoding", "deep", "trickle", "proxy-413",
    "proxy-431", "gzip-bomb", "router-404", "router-405", "no-content", "huge-page",
)  # fmt: skip
# What a "gzip-bomb" answer unpacks to: an events envelope of this many bytes, sent as some 64 KiB of gzip.
GZIP_BOMB_BYTES = 64 * 1024 * 1024
# What an "endless" answer streams before it gives up: more than any client should hold, and finite, so a
# client that reads on regardless meets the end of it (and a test of one fails rather than hangs).
ENDLESS_BYTES = 256 * 1024 * 1024
_ENDLESS_CHUNK = b"x" * (64 * 1024)
# What a "huge-page" answer is: an HTML page this large, some MiB under the 16 MiB a client reads of an
# answer, so the client reads all of it on every attempt.
HUGE_PAGE_BYTES = 12 * 1024 * 1024
# JSON arrays nested this deep: past the depth Python's json (and most parsers) follows.
DEEP_NESTING = 100_000
# A trickling answer's bytes come this far apart; TRICKLE_BYTES of them make a valid envelope.
TRICKLE_PAUSE = 0.1
TRICKLE_BYTES = 600
# Past any event a test makes wait: acknowledging it would drop them all.
_FAR_OFFSET = 1_000_000


@functools.cache
def _gzip_bomb() -> bytes:
    """An events envelope of GZIP_BOMB_BYTES, mostly one string of zeros, gzipped (built once, ~0.3 s)."""
    head = b'{"success": true, "data": {"events": [], "nextOffset": 0, "hasMore": false, "p": "'
    tail = b'"}}'
    return gzip.compress(head + b"0" * (GZIP_BOMB_BYTES - len(head) - len(tail)) + tail, compresslevel=9)


def garbage_response(kind: str, path: str = "/") -> Response:
    """What a garbage rule of `kind` answers a call to `path` (a router's own answer names the path)."""
    if kind in ("router-404", "router-405"):
        return _router_response(kind, path)
    if kind == "no-content":  # a REST framework's answer to a write it has nothing to say of: no message id
        return Response(status_code=204)
    if kind == "text":
        return Response(b'\x00\xff{"success": tr', status_code=200, media_type="application/json")
    if kind == "json":
        return JSONResponse({"success": True, "data": ["not", "what", "was", "asked"]}, status_code=200)
    if kind == "events-unreadable":
        data = {"events": "1..3", "nextOffset": _FAR_OFFSET, "hasMore": False}
        return JSONResponse({"success": True, "data": data}, status_code=200)
    if kind == "endless":
        return StreamingResponse(_endless_body(), status_code=200, media_type="application/json")
    if kind == "wrong-encoding":
        body = b'{"success": true, "data": {"events": [], "nextOffset": 0, "hasMore": false}}'
        headers = {"Content-Encoding": "gzip"}  # a proxy's word that the plain body does not bear out
        return Response(body, status_code=200, media_type="application/json", headers=headers)
    if kind == "gzip-bomb":
        headers = {"Content-Encoding": "gzip"}
        return Response(_gzip_bomb(), status_code=200, media_type="application/json", headers=headers)
    if kind == "deep":
        body = b'{"success": true, "data": ' + b"[" * DEEP_NESTING + b"]" * DEEP_NESTING + b"}"
        return Response(body, status_code=200, media_type="application/json")
    if kind == "trickle":
        return StreamingResponse(_trickle_body(), status_code=200, media_type="application/json")
    if kind == "huge-page":
        return StreamingResponse(_huge_page_body(), status_code=200, media_type="text/html")
    if kind == "proxy-413":  # nginx's own page for a body past its client_max_body_size
        page = (
            "<html><head><title>413 Request Entity Too Large</title></head><body><h1>413</h1></body></html>"
        )
        return HTMLResponse(page, status_code=413)
    if kind == "proxy-431":  # a proxy refusing headers past its buffers says so with the status alone
        return Response(b"", status_code=431)
    return HTMLResponse("<html><body>502 Bad Gateway</body></html>", status_code=200)


def _router_response(kind: str, path: str) -> Response:
    return router_answer(404 if kind == "router-404" else 405, path, allow=("GET", "HEAD"))


def router_answer(status: int, path: str, *, allow: tuple[str, ...] | list[str] = ()) -> Response:
    """A web framework's own answer for a path (404) or method (405) it has no handler for, outside the
    platform's envelope: Spring Boot's error JSON (an Express app says the same in HTML), a 405 with the Allow
    header naming what the path takes. The `router-*` faults, and the `router-errors` dialect's every such
    answer."""
    error = "Not Found" if status == 404 else "Method Not Allowed"
    body = {"timestamp": "2026-01-01T00:00:00.000+00:00", "status": status, "error": error, "path": path}
    headers = {"Allow": ", ".join(allow)} if status == 405 else {}
    return JSONResponse(body, status_code=status, headers=headers)


async def _endless_body():
    yield b'{"success": true, "data": {"events": [], "padding": "'
    for _ in range(ENDLESS_BYTES // len(_ENDLESS_CHUNK)):
        yield _ENDLESS_CHUNK


async def _huge_page_body():
    # Streamed, a chunk shared by every yield: the page costs the sandbox (in the client's process, under
    # a test's tracemalloc) next to nothing, and the client all of it.
    head, tail = b"<html><body><pre>", b"</pre></body></html>"
    yield head
    for _ in range((HUGE_PAGE_BYTES - len(head) - len(tail)) // len(_ENDLESS_CHUNK)):
        yield _ENDLESS_CHUNK
    yield tail


async def _trickle_body():
    start = b'{"success": true, "data": {"events": [], "hasMore": false, "padding": "'
    end = b'"}}'
    body = start + b"x" * (TRICKLE_BYTES - len(start) - len(end)) + end
    for at in range(len(body)):
        yield body[at : at + 1]
        await asyncio.sleep(TRICKLE_PAUSE)


class ConnectionDropped(BaseException):
    """Raised past every `except Exception` so the server closes the connection mid-response.

    A BaseException on purpose: the endpoint wrapper and Starlette turn any Exception into a complete
    500 answer, which is exactly what a dropped connection must not be.
    """


class _HideDroppedConnections(logging.Filter):
    """uvicorn logs any exception that leaves the app with a traceback; an injected drop is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_HIDE_DROPS = _HideDroppedConnections()


@dataclass
class FaultRule:
    method: str = "*"
    path: str = "*"  # a route path template, a literal path, or "*"
    latency_ms: float = 0.0
    error_rate: float = 0.0  # 1.0 forces `error_code` on every matching call
    error_code: str = "BITRIX_UNAVAILABLE"
    drop_rate: float = 0.0
    garbage_rate: float = 0.0  # share of matching calls answered 200 with garbage of `garbage_kind`
    garbage_kind: str = "html"
    after_action: bool = False  # strike after the endpoint acted (its answer lost), not before

    def __post_init__(self) -> None:
        rates = (self.error_rate, self.drop_rate, self.garbage_rate)
        if not all(0.0 <= float(rate) <= 1.0 for rate in rates):
            raise StateError("INVALID_REQUEST", "errorRate, dropRate and garbageRate must be between 0 and 1")
        if float(self.latency_ms) < 0 or float(self.latency_ms) > 600_000:
            raise StateError("INVALID_REQUEST", "latencyMs must be between 0 and 600000")
        if not self.error_code or not str(self.error_code).replace("_", "").isalnum():
            raise StateError("INVALID_REQUEST", "errorCode must be an error code such as BITRIX_UNAVAILABLE")
        if self.garbage_kind not in GARBAGE_KINDS:
            raise StateError("INVALID_REQUEST", f"garbageKind must be one of {', '.join(GARBAGE_KINDS)}")
        self.after_action = bool(self.after_action)
        self.method = (self.method or "*").upper()
        self.path = self.path or "*"

    def matches(self, method: str, template: str, path: str) -> bool:
        if self.method != "*" and self.method != method:
            return False
        return self.path == "*" or self.path == template or self.path == path

    def as_json(self) -> dict:
        return {
            "method": self.method,
            "path": self.path,
            "latencyMs": self.latency_ms,
            "errorRate": self.error_rate,
            "errorCode": self.error_code,
            "dropRate": self.drop_rate,
            "garbageRate": self.garbage_rate,
            "garbageKind": self.garbage_kind,
            "afterAction": self.after_action,
        }


class Faults:
    """The active fault rules; `rng` may be a seeded `random.Random` for reproducible tests."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        self._rules: dict[int, FaultRule] = {}
        self._next_id = 1
        logging.getLogger("uvicorn.error").addFilter(_HIDE_DROPS)

    def add(self, rule: FaultRule) -> int:
        rule_id = self._next_id
        self._next_id += 1
        self._rules[rule_id] = rule
        return rule_id

    def remove(self, rule_id: int) -> bool:
        return self._rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        self._rules.clear()

    def rules(self) -> list[FaultRule]:
        return list(self._rules.values())

    def seed(self, value: int) -> None:
        self.rng = random.Random(value)

    async def before(self, request: Request) -> None:
        """Apply the rules matching this request that strike before it is handled, in the order added."""
        await self._strike(request, after_action=False)

    async def after(self, request: Request) -> None:
        """Apply the matching rules that strike once the request was handled (the platform acted)."""
        await self._strike(request, after_action=True)

    async def _strike(self, request: Request, *, after_action: bool) -> None:
        if not self._rules:
            return
        method = request.method
        path = request.url.path
        template = route_template(request)
        for rule in list(self._rules.values()):
            if rule.after_action != after_action or not rule.matches(method, template, path):
                continue
            if rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule.drop_rate and self.rng.random() < rule.drop_rate:
                await drop_connection(request)
            if rule.garbage_rate and self.rng.random() < rule.garbage_rate:
                # What a broken proxy in front of the platform answers: a 200 that is not the platform's.
                raise InjectedResponse(garbage_response(rule.garbage_kind, path))
            if rule.error_rate and self.rng.random() < rule.error_rate:
                says_wait = rule.error_code in _RETRY_AFTER_CODES
                in_ms = says_wait and request.app.state.services.platform.speaks("retry-after-ms")
                raise ApiError(
                    rule.error_code,
                    hint="Injected by a sandbox fault rule",
                    retry_after=1 if says_wait else None,
                    retry_after_ms=1000 if in_ms else None,
                )


def route_template(request: Request) -> str:
    """The path template of the route this request matched (its endpoint identifies it)."""
    endpoint = request.scope.get("endpoint")
    path = request.url.path
    if endpoint is None:
        return path
    for route in getattr(request.app, "routes", ()):
        if getattr(route, "endpoint", None) is endpoint and route.path_regex.match(path):
            return route.path
    return path


async def drop_connection(request: Request) -> None:
    """Promise a body, send a little of it, and make the server close the socket.

    The response start is sent first because an exception before it would make the server answer a
    complete 500 instead; with the body promised by Content-Length and cut short, the client can only
    see a broken connection. The server itself carries on serving other connections.
    """
    send = request._send  # Starlette keeps the ASGI send on the request; nothing public exposes it
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"success":', "more_body": True})
    raise ConnectionDropped()
