"""Watching a bot's event queue from asyncio: whether anything waits at an offset, taking nothing.

The poller (botcore/poller.py) keeps one of these calls in flight per bot and hands the bot to its poll
cycle, which fetches and stores the events itself, only when the answer says something waits. So the
call asks for one event (`limit=1`: the answer stays small however long the queue), never moves the
offset past what the cycle stored (it repeats the stored offset, which acknowledges nothing new), and
may ask the platform to hold an empty answer open (`timeout`, long-polling; a platform that ignores it
answers at once, and the caller then waits its cadence). Failures are the VibeError family, classified
by raise_for_response as for every other call; the error's text never carries the caller's secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from botcore.vibe.answers import raise_for_response
from botcore.vibe.endpoints.events import MAX_HOLD_SECONDS
from botcore.vibe.errors import VibeApiError, VibeTransportError
from botcore.vibe.hooks import platform_responded
from botcore.vibe.http_clients import USER_AGENT

# A held answer may take the hold plus the platform's own time; past this margin the call has failed.
_HOLD_MARGIN_SECONDS = 10.0
_PATH = "/bots/:id/events"


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

    def __repr__(self) -> str:  # never the secrets
        return f"WatchAuth(session={'yes' if self.session_token else 'no'})"


class WatchClients:
    """The poller's HTTP clients: one keep-alive connection per bot whose watch is open, in small pools.

    httpcore's pool looks at every connection it holds each time a request ends, so one pool of a
    thousand held long-polls costs O(n) per answer (90 % of a 1,000-bot poller's CPU; still 36 % with
    pools of 32); pools of BOTS_PER_POOL keep it small. They share one TLS context (~30 ms to build).
    """

    BOTS_PER_POOL = 8

    def __init__(self, *, connect_timeout: float) -> None:
        self._timeout = httpx.Timeout(MAX_HOLD_SECONDS + _HOLD_MARGIN_SECONDS, connect=connect_timeout)
        self._tls = httpx.create_ssl_context()  # httpx's own defaults, built once
        self._pools: dict[int, httpx.AsyncClient] = {}

    def for_bot(self, bot_id: int) -> httpx.AsyncClient:
        pool = bot_id // self.BOTS_PER_POOL
        client = self._pools.get(pool)
        if client is None:
            client = self._pools[pool] = httpx.AsyncClient(
                timeout=self._timeout,
                limits=httpx.Limits(
                    max_connections=self.BOTS_PER_POOL * 2,
                    max_keepalive_connections=self.BOTS_PER_POOL,
                    keepalive_expiry=60.0,
                ),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                follow_redirects=False,
                verify=self._tls,
            )
        return client

    async def aclose(self) -> None:
        for client in self._pools.values():
            await client.aclose()
        self._pools.clear()


async def events_waiting(
    http: httpx.AsyncClient,
    *,
    base_url: str,
    vibe_bot_id: int,
    auth: WatchAuth,
    offset: int | None,
    hold: float = 0.0,
) -> bool:
    """GET /v1/bots/:botId/events?limit=1 at `offset`: True when at least one item (or more) waits.

    `hold` > 0 asks the platform to hold an empty answer that many seconds (at most MAX_HOLD_SECONDS).
    Raises VibeTransportError (no answer) or the VibeApiError the answer means.
    """
    params: dict[str, Any] = {"limit": 1}
    if offset is not None:
        params["offset"] = max(0, int(offset))
    hold = min(max(hold, 0.0), MAX_HOLD_SECONDS)
    if hold:
        params["timeout"] = f"{hold:g}"
    url = f"{base_url.rstrip('/')}/bots/{int(vibe_bot_id)}/events"
    timeout = httpx.Timeout(hold + _HOLD_MARGIN_SECONDS, connect=http.timeout.connect)
    try:
        response = await http.get(url, params=params, headers=auth.headers(), timeout=timeout)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise VibeTransportError(type(exc).__name__, method="GET", path=_PATH, sent=False) from None
    except httpx.TransportError as exc:
        raise VibeTransportError(type(exc).__name__, method="GET", path=_PATH, sent=True) from None
    platform_responded(response.status_code)
    try:
        data = raise_for_response(response)
    except VibeApiError as error:
        _scrub(error, auth)
        raise
    if not isinstance(data, dict):
        return False
    events = data.get("events")
    return bool(isinstance(events, list) and events) or data.get("hasMore") is True


def _scrub(error: VibeApiError, auth: WatchAuth) -> None:
    """The platform's own text could quote what we sent; the key and the token never pass through."""
    for secret in (auth.api_key, auth.session_token):
        if secret:
            error.message = error.message.replace(secret, "<redacted>")
            if error.hint:
                error.hint = error.hint.replace(secret, "<redacted>")
    error.args = (error.message,)
