"""Watching a bot's event queue from asyncio: whether anything waits at an offset, taking nothing.

The poller (botcore/poller.py) keeps one of these calls in flight per bot and hands the bot to its poll
cycle, which stores the events itself, only when the answer says something waits. The call never moves
the offset past what the cycle stored (it repeats the stored offset, which acknowledges nothing new), and
may ask the platform to hold an empty answer open (`timeout`, long-polling; a platform that ignores it
answers at once, and the caller then waits its cadence). Asked with the cycle's own `limit`, a non-empty
answer is the very batch the cycle's fetch would get, and is handed on with the bot (Waiting.answer) so
that the cycle need not ask again; an answer past CARRY_MAX_BYTES is not, and the cycle fetches it.
Failures are the VibeError family, classified by raise_for_response as for every other call; the
error's text never carries the caller's secrets.

The call goes out through httpcore, the transport under httpx, rather than httpx.AsyncClient: a poller
holds one watch per bot open, thousands at once, and httpx's client objects cost a third more CPU per
call, a quarter more objects per held call for the garbage collector to scan, and leave every answer in
a reference cycle (Response and its stream), so that only a full collection frees them; at 10,000 bots
those full collections paused the poller for a second every few seconds (README, polling benchmark).
The answer's status and headers go into an httpx.Response all the same, so raise_for_response stays the one
reading; its body is read up to answers.MAX_ANSWER_BYTES decoded. It accepts what every call to the platform
accepts (answers.ACCEPT_ENCODING), and a gzip or deflate body is decoded as it comes (answers.Inflate).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import httpcore
import httpx

from botcore.vibe.answers import ACCEPT_ENCODING, AnswerBody, raise_for_response
from botcore.vibe.endpoints.events import MAX_HOLD_SECONDS
from botcore.vibe.errors import VibeApiError, VibeTransportError, VibeUnsendableRequestError
from botcore.vibe.hooks import platform_responded
from botcore.vibe.http_clients import USER_AGENT, platform_tls
from botcore.vibe.local_refusals import header_problem, sending_refusal
from botcore.vibe.parse import events_of

log = logging.getLogger(__name__)

# A held answer may take the hold plus the platform's own time; past this margin the call has failed.
_HOLD_MARGIN_SECONDS = 10.0
# The largest answer handed on to the cycle as it came: it rides in the cycle's queued task, so a larger one
# (a long backlog of long messages) is left for the cycle to fetch. A dialog's few messages are ~1 KiB each.
CARRY_MAX_BYTES = 64 * 1024
_PATH = "/bots/:id/events"
# What raise_for_response names as the call behind an error: the route, never a bot's id or the query.
_REQUEST = httpx.Request("GET", "https://platform.invalid/v1/bots/:id/events")
# No answer came, and the request had not left (a retry cannot repeat anything), or it may have.
_NOT_SENT = (
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.PoolTimeout,
    httpcore.UnsupportedProtocol,
)
_SENT = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ConnectionNotAvailable,
)


@dataclass(frozen=True, slots=True)
class Waiting:
    """Something waits at the watched offset. `answer` is the platform's data as it came (events, nextOffset,
    hasMore, …), for botcore.vibe.parse.read_event_batch; None when it was too large to hand on."""

    answer: dict[str, Any] | None


@dataclass(frozen=True)
class WatchAuth:
    """The credential a bot's calls go out with: the app key and a session token, or a personal key."""

    api_key: str
    session_token: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"X-Api-Key": self.api_key}
        if self.session_token:
            headers["Authorization"] = f"Bearer {self.session_token}"
        return headers

    @functools.cached_property
    def unsendable(self) -> str | None:
        """Why no request can carry this credential (local_refusals.header_problem), found once per credential
        read; None when it can."""
        return header_problem(self.headers())

    def __repr__(self) -> str:  # never the secrets
        return f"WatchAuth(session={'yes' if self.session_token else 'no'})"


class WatchClients:
    """The poller's connection pools: one keep-alive connection per bot whose watch is open, in small pools.

    httpcore's pool looks at every connection it holds each time a request ends, so one pool of a
    thousand held long-polls costs O(n) per answer (90 % of a 1,000-bot poller's CPU; still 36 % with
    pools of 32); pools of BOTS_PER_POOL keep it small. They share the process's one TLS context.
    Like httpx's clients (and so like every other call of the backend), they go through the proxy the
    environment names for `base_url` (HTTPS_PROXY, ALL_PROXY, NO_PROXY).
    """

    BOTS_PER_POOL = 8

    def __init__(self, *, base_url: str, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self._tls: ssl.SSLContext = platform_tls()
        self._proxy = proxy_from_environment(base_url)
        self._pools: dict[int, httpcore.AsyncConnectionPool] = {}

    def for_bot(self, bot_id: int) -> httpcore.AsyncConnectionPool:
        pool = bot_id // self.BOTS_PER_POOL
        client = self._pools.get(pool)
        if client is None:
            limits: dict[str, Any] = {
                "ssl_context": self._tls,
                "max_connections": self.BOTS_PER_POOL * 2,
                "max_keepalive_connections": self.BOTS_PER_POOL,
                "keepalive_expiry": 60.0,
            }
            if self._proxy is None:
                client = httpcore.AsyncConnectionPool(**limits)
            else:
                url, auth = self._proxy
                client = httpcore.AsyncHTTPProxy(proxy_url=url, proxy_auth=auth, **limits)
            self._pools[pool] = client
        return client

    async def aclose(self) -> None:
        for client in self._pools.values():
            await client.aclose()
        self._pools.clear()


def proxy_from_environment(url: str) -> tuple[str, tuple[str, str] | None] | None:
    """The HTTP proxy the environment names for `url` (its address, and the credentials its address
    carries), or None: read as httpx reads it (lower- or upper-case *_PROXY, NO_PROXY)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    address = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    auth = (unquote(address.username), unquote(address.password or "")) if address.username else None
    host = address.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    return f"{address.scheme}://{netloc}{f':{address.port}' if address.port else ''}", auth


async def watch_events(
    http: httpcore.AsyncConnectionPool,
    *,
    base_url: str,
    vibe_bot_id: int,
    auth: WatchAuth,
    offset: int | None,
    limit: int = 1,
    hold: float = 0.0,
    connect_timeout: float = 5.0,
) -> Waiting | None:
    """GET /v1/bots/:botId/events?limit=… at `offset`: Waiting when at least one item (or more) waits, else
    None.

    `hold` > 0 asks the platform to hold an empty answer that many seconds (at most MAX_HOLD_SECONDS); 0 asks
    for an answer at once.
    Raises VibeTransportError (no answer), the VibeApiError the answer means, or VibeUnsendableRequestError
    (nothing sent: the credential holds what no header may carry).
    """
    problem = auth.unsendable
    if problem is not None:  # httpcore refused it with a TypeError, h11 as a passing ProtocolError
        raise VibeUnsendableRequestError(problem, method="GET", path=_PATH)
    params: dict[str, Any] = {"limit": int(limit)}
    if offset is not None:
        params["offset"] = max(0, int(offset))
    hold = min(max(hold, 0.0), MAX_HOLD_SECONDS)
    params["timeout"] = f"{hold:g}"  # named when 0 too: a platform may hold a poll without it (held-polls)
    url = f"{base_url.rstrip('/')}/bots/{int(vibe_bot_id)}/events?{urlencode(params)}"
    headers = [
        ("Host", urlsplit(url).netloc),
        ("User-Agent", USER_AGENT),
        ("Accept", "application/json"),
        ("Accept-Encoding", ACCEPT_ENCODING),  # as every call to the platform (answers.ACCEPT_ENCODING)
        *auth.headers().items(),
    ]
    wait = hold + _HOLD_MARGIN_SECONDS
    timeouts = {"connect": connect_timeout, "read": wait, "write": wait, "pool": wait}
    try:
        # The read timeout bounds each wait for bytes, not the whole answer: one trickling in a byte at a time
        # (a proxy's) held the bot's watch for as long as it took. The whole call gets its time twice over.
        async with asyncio.timeout(connect_timeout + 2 * wait):
            async with http.stream("GET", url, headers=headers, extensions={"timeout": timeouts}) as answer:
                response = httpx.Response(answer.status, headers=answer.headers, request=_REQUEST)
                body = AnswerBody(response)  # never more than MAX_ANSWER_BYTES of it
                async for chunk in answer.aiter_stream():
                    body.add_raw(chunk)  # decoded as it comes where a proxy compressed it (answers.Inflate)
    except TimeoutError:
        raise VibeTransportError(
            "the answer did not end in time (it came in too slowly)", method="GET", path=_PATH, sent=True
        ) from None
    except httpcore.ReadTimeout:
        if not hold:
            raise VibeTransportError("ReadTimeout", method="GET", path=_PATH, sent=True) from None
        # Held past the hold asked and the margin: a platform that holds longer than asked (the reference
        # says "long-polling" and no more), since an event would have ended the hold. Read as an empty held
        # answer, the bot is watched again at once; read as an outage, its cycle backed off for minutes.
        _note_held_past(hold)
        return None
    except httpcore.LocalProtocolError:  # h11 refused what we were to send, before a byte went
        raise sending_refusal("GET", _PATH) from None
    except _NOT_SENT as exc:
        raise VibeTransportError(type(exc).__name__, method="GET", path=_PATH, sent=False) from None
    except _SENT as exc:
        raise VibeTransportError(type(exc).__name__, method="GET", path=_PATH, sent=True) from None
    except VibeApiError as error:  # too large to read, or its encoding does not decode
        platform_responded(error.answered_status)
        _scrub(error, auth)
        raise
    content = body.content()
    try:
        data = raise_for_response(response, content)
    except VibeApiError as error:
        platform_responded(error.answered_status)  # a refusal passed on inside a 502 BITRIX_ERROR is a 4xx
        _scrub(error, auth)
        raise
    platform_responded(answer.status)
    # An answer without a list of events is the cycle's to record (it meets the same and backs off), never
    # "nothing waits": a platform that keeps answering so would starve the bot without a word.
    if not events_of(data, bot_id=vibe_bot_id) and data.get("hasMore") is not True:
        return None
    return Waiting(answer=data if len(content) <= CARRY_MAX_BYTES else None)


# When the platform was last said to hold past what it was asked (time.monotonic()); said again after this.
_HELD_PAST_SAID_EVERY_SECONDS = 600.0
_held_past_said_at: float | None = None


def _note_held_past(hold: float) -> None:
    """Say now and then (not for every bot's every watch) that the platform holds the events call longer
    than it is asked to."""
    global _held_past_said_at
    now = time.monotonic()
    if _held_past_said_at is None or now - _held_past_said_at >= _HELD_PAST_SAID_EVERY_SECONDS:
        _held_past_said_at = now
        log.info(
            "the platform held the events call past the %g s asked and a %g s margin: read as nothing"
            " waiting, the bot watched again",
            hold, _HOLD_MARGIN_SECONDS,
        )  # fmt: skip


def _scrub(error: VibeApiError, auth: WatchAuth) -> None:
    """The platform's own text could quote what we sent; the key and the token never pass through."""
    error.redact((auth.api_key, auth.session_token))
