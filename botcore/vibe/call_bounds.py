"""How long, and how much, one HTTP call may take on its connection: the one stream that bounds it.

httpx's timeouts bound each wait on a socket, not the whole: a server (or a proxy) sending a byte just within
the read timeout held a call, and the worker making it, for as long as it liked, its status line and headers
included (h11 waits for 16 KiB of them: 27 minutes at a byte per 100 ms). So every connection of the
platform's client (http_clients) and of a skill's calls to an outside service (botcore.skills.outbound)
is a BoundedStream, whose reads, writes and TLS handshake end at the deadline of the call under way, and
whose reads stop past the call's bytes where it counts them.

The bounds of the call under way live in a context variable (`bounded`), set by whoever drives the call: the
platform's transport around its send and its reading of the answer, the outside transport per request and
per chunk of its answer's body (an answer may be read in another thread or after another call).

Bytes are counted on the wire only where a call counts them so (an outside call, which takes no compressed
answer: `max_bytes`); the platform's answers may come gzipped, and their bound counts them decoded, a step
at a time, where they are read (answers.AnswerBody), which a stream that sees the compressed bytes cannot.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore

DEADLINE_PASSED = "the call's deadline passed"
# The most of a request written between two looks at the deadline.
_WRITE_PIECE = 64 * 1024


@dataclass
class CallBounds:
    """What the call under way may still take: until `deadline` (time.monotonic()), and, where `max_bytes`
    is given, that many bytes read off the wire (its answer's head and body)."""

    deadline: float
    max_bytes: int | None = None
    bytes_read: int = 0


_call_bounds: ContextVar[CallBounds | None] = ContextVar("botcore_call_bounds", default=None)


@contextmanager
def bounded(bounds: CallBounds | None) -> Iterator[None]:
    """Every read and write of a BoundedStream in the block stays within `bounds` (None: only httpx's
    own timeouts)."""
    token = _call_bounds.set(bounds)
    try:
        yield
    finally:
        _call_bounds.reset(token)


class BoundedStream(httpcore.NetworkStream):
    """A connection whose reads, writes and TLS handshake end at the current call's deadline (ReadTimeout,
    WriteTimeout, ConnectTimeout past it) and whose reads stop past its bytes (ReadError)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounds = _call_bounds.get()
        try:
            data = self._stream.read(max_bytes, _within(bounds, timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout:
            _said_late(bounds, httpcore.ReadTimeout)
            raise
        if bounds is not None and bounds.max_bytes is not None:
            bounds.bytes_read += len(data)
            if bounds.bytes_read > bounds.max_bytes:
                raise httpcore.ReadError(f"the answer is larger than {bounds.max_bytes} bytes")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A piece at a time, the deadline checked before each: httpcore sends a body handed to it whole in a
        # loop whose every send is bounded by the timeout, not the loop, so a server taking each piece just
        # within it held the call for as long as the body took (and copied the rest of it at each send).
        bounds = _call_bounds.get()
        for start in range(0, len(buffer), _WRITE_PIECE):
            try:
                self._stream.write(
                    buffer[start : start + _WRITE_PIECE], _within(bounds, timeout, httpcore.WriteTimeout)
                )
            except httpcore.WriteTimeout:
                _said_late(bounds, httpcore.WriteTimeout)
                raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _within(_call_bounds.get(), timeout, httpcore.ConnectTimeout)
        return BoundedStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _said_late(bounds: CallBounds | None, late: type[Exception]) -> None:
    """A wait that timed out at the deadline is said to be the deadline's (`late`), not httpx's timeout's."""
    if bounds is not None and time.monotonic() >= bounds.deadline:
        raise late(DEADLINE_PASSED) from None


def _within(bounds: CallBounds | None, timeout: float | None, late: type[Exception]) -> float | None:
    """`timeout` cut to what is left before the deadline; past it, `late` (nothing more is waited for)."""
    if bounds is None:
        return timeout
    left = bounds.deadline - time.monotonic()
    if left <= 0:
        raise late(DEADLINE_PASSED)
    return left if timeout is None else min(timeout, left)


def seconds_left(default: float) -> float:
    """What is left of the current call's time, or `default` outside a call's bounds."""
    bounds = _call_bounds.get()
    return default if bounds is None else max(0.0, bounds.deadline - time.monotonic())


class BoundedBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each a BoundedStream."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return BoundedStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return BoundedStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
