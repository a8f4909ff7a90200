"""Calls a skill makes to another service at an address a portal's admin gave: to the internet, never inward.

A portal's admin chooses the address (a tracker's API, a webhook) and the call runs on the vendor's hosts,
often with the portal's token, and the skill tells what came back: unchecked, an admin of one portal can
probe the vendor's own network with it (a service on localhost, 10.x, a cloud's metadata address at
169.254.169.254). So:

- `check_outside_url` refuses an address that is no http(s) one, carries a user name or password, names
  a host that is an address on a private, loopback, link-local, reserved or multicast range (or localhost),
  or a port other than 80, 443 and those an operator allows; the `OutsideUrl` option kind
  (botcore.skills.options) runs it when the admin saves it;
- `outside_client()` is an httpx.Client that checks again at each connection, on the addresses the host's
  name resolves to at that moment (the look-up itself within the call's timeout) and connecting to those
  very addresses (a name may resolve to 127.0.0.1, or change after it was saved), each redirect's included;
  it reads no proxy from the environment. A malformed address, or redirect, is refused as any other.
  Its connections keep each call's deadline and byte count as the platform's client keeps its deadline
  (botcore.vibe.call_bounds: one stream for both).

The rules of which address is taken live in botcore.skills.outside_addresses; hosts an operator does mean
skills to reach on their own network are named in BOTCORE_OUTSIDE_HOSTS_ALLOWED, other ports in
BOTCORE_OUTSIDE_PORTS_ALLOWED.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from botcore.skills.outside_addresses import (
    OutsideAddressError,
    check_outside_url,
    malformed_address_error,
    resolve_outside,
)
from botcore.vibe.call_bounds import BoundedStream, CallBounds, bounded, seconds_left

# The most a call's answer may hold as it comes over the wire, its head included: a skill reads a tracker's
# JSON, not files, and an answer is held whole in the task worker's memory.
MAX_ANSWER_BYTES = 1024 * 1024


class _CheckedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, opened only to the checked addresses of the host asked for: the name is
    resolved once, here, and the connection goes to what was checked (no second look-up to rebind). TLS
    still verifies the certificate against the host's name (httpcore passes it as server_hostname)."""

    def __init__(self, *, seconds: float) -> None:
        """`seconds`: the bound of a connection opened outside a call's bounds (none is: the transport sets
        them for each request), so a name's look-up is never waited for without one."""
        self._sockets = httpcore.SyncBackend()
        self._seconds = seconds

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        left = seconds_left(self._seconds)
        for address in resolve_outside(host, port, timeout=_sooner(timeout, left)):
            try:
                stream = self._sockets.connect_tcp(address, port, timeout, local_address, socket_options)
                return BoundedStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error  # the name's next address, as the socket library tries them
        assert failure is not None  # resolve_outside gives at least one address
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise OutsideAddressError("a local socket is no outside address")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


def _sooner(timeout: float | None, left: float) -> float:
    return left if timeout is None else min(timeout, left)


class _BoundedBody(httpx.SyncByteStream):
    """An answer's body read under its own call's bounds, in whichever thread or context reads it."""

    def __init__(self, body: httpx.SyncByteStream, bounds: CallBounds) -> None:
        self._body = body
        self._bounds = bounds

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._body)
        while True:
            with bounded(self._bounds):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self._body.close()


class OutsideTransport(httpx.HTTPTransport):
    """httpx's transport over _CheckedNetworkBackend, checking each request's URL (every redirect's too).

    httpx 0.28 takes no network backend of its own (encode/httpx#3749 would add one), so the pool it builds
    is replaced by one like it on the checked backend; tests/botcore/skills/test_outbound.py starts a
    listener on loopback and counts that nothing reaches it, which an upgrade that drops the pool would fail.
    """

    def __init__(self, *, seconds: float) -> None:
        super().__init__(trust_env=False)
        self._seconds = seconds
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_CheckedNetworkBackend(seconds=seconds),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        check_outside_url(request.url)
        # Each request (a redirect's too) has `seconds` for its head and body, and MAX_ANSWER_BYTES.
        bounds = CallBounds(time.monotonic() + self._seconds, max_bytes=MAX_ANSWER_BYTES)
        # Uncompressed only: httpx unpacks an answer as it is read, and the limit counts what came over the
        # wire (1 MiB of gzip unpacks to about 1 GiB).
        request.headers["Accept-Encoding"] = "identity"
        with bounded(bounds):
            response = super().handle_request(request)
        if response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            response.close()
            raise httpx.DecodingError(
                "the answer came compressed, which the call did not ask for", request=request
            )
        if response.has_redirect_location:
            try:
                httpx.URL(response.headers["Location"])
            except (httpx.InvalidURL, UnicodeError):
                response.close()  # httpx's own refusal of it is a RemoteProtocolError
                raise malformed_address_error() from None
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _BoundedBody(response.stream, bounds)
        return response


class _OutsideClient(httpx.Client):
    """An httpx.Client whose malformed address, or redirect, is OutsideAddressError as any refused one: httpx
    raises httpx.InvalidURL (no httpx.HTTPError, so past a skill's `except httpx.HTTPError`) for one it cannot
    build a request to, a redirect's ("Location: http:127.0.0.1") included, and idna's own UnicodeError for a
    name that is no valid international one."""

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        try:
            return super().build_request(*args, **kwargs)
        except (httpx.InvalidURL, UnicodeError):
            raise malformed_address_error() from None

    def send(self, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        try:
            return super().send(request, *args, **kwargs)
        except (httpx.InvalidURL, UnicodeError):
            raise malformed_address_error() from None


def outside_client(*, timeout: float, follow_redirects: bool = False) -> httpx.Client:
    """An httpx.Client for a skill's calls to an address its portal's admin gave (use it in a `with`).

    Each connection goes only to a public address (OutsideAddressError, before anything is sent, otherwise),
    redirects included when followed; environment proxies are not used (a proxy would reach inward for it).
    `timeout` bounds each connection attempt, its name's look-up included (httpx.ConnectTimeout), and the
    whole of each request's sending and answer, whatever pace the server keeps (httpx.ReadTimeout past it);
    an answer past MAX_ANSWER_BYTES is httpx.ReadError, and one compressed (an uncompressed one is asked
    for) httpx.DecodingError.
    Keep `timeout` to a few seconds: the call holds a task worker (docs/skills.md §8). An answer keeps its
    bounds in whichever thread reads it. A malformed address or redirect is OutsideAddressError too."""
    return _OutsideClient(
        transport=OutsideTransport(seconds=timeout),
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
    )


__all__ = [
    "MAX_ANSWER_BYTES", "OutsideAddressError", "OutsideTransport", "check_outside_url", "outside_client",
]  # fmt: skip
