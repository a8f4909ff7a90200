"""The process's HTTP clients for the platform: one httpx.Client tuned for it, shared per process.

Keep-alive pool, bounded connections, explicit timeouts, no redirects (a redirect would carry our key to
wherever it points). Every VibeClient shares the process's client unless given its own.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from botcore import conf
from botcore.per_process import PerProcess
from botcore.vibe.answers import ACCEPT_ENCODING

USER_AGENT = "vibeapp-botcore/0.1 (+httpx)"


_shared_client: PerProcess[httpx.Client] = PerProcess(
    lambda: make_http_client(
        connect_timeout=conf.vibe_connect_timeout(), read_timeout=conf.vibe_read_timeout()
    )
)


@functools.cache
def platform_tls() -> ssl.SSLContext:
    """The TLS context every call to the platform goes out with: httpx's own defaults, built once per
    interpreter. Building one reads the whole CA bundle (~30-100 ms of CPU); built before the task
    queue forks its workers (vibeapp's qcluster command), it is one for them all, not one each. A
    context holds no connection, so a forked process may use the one it inherited."""
    return httpx.create_ssl_context()


def make_http_client(*, connect_timeout: float = 5.0, read_timeout: float = 30.0) -> httpx.Client:
    """An httpx.Client tuned for the platform: keep-alive pool, bounded connections, explicit timeouts."""
    transport = httpx.HTTPTransport(
        verify=platform_tls(),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0),
    )
    transport._pool._network_backend = _DeadlineBackend()  # httpx takes no backend of its own choosing
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        # The encodings answers.Inflate decodes, pinned (httpx's own default grows with what is installed).
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
    )


# The deadline (a time.monotonic()) of the call this thread is making, if its caller has one (call_deadline).
_call_deadline: ContextVar[float | None] = ContextVar("vibe_call_deadline", default=None)


@contextmanager
def call_deadline(deadline: float | None) -> Iterator[None]:
    """Every read of a socket in the block waits no later than `deadline`. The read timeout bounds each
    wait, not the whole: a status line and headers trickling in a byte at a time (a proxy's) held a call
    with a 3 s deadline for as long as h11 takes headers (16 KiB: 27 minutes at a byte per 100 ms)."""
    token = _call_deadline.set(deadline)
    try:
        yield
    finally:
        _call_deadline.reset(token)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads end at the current call's deadline (httpcore.ReadTimeout past it)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline = _call_deadline.get()
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ReadTimeout("the caller's deadline passed while the answer came in")
            timeout = left if timeout is None else min(timeout, left)
        try:
            return self._stream.read(max_bytes, timeout)
        except httpcore.ReadTimeout:
            if deadline is not None and time.monotonic() >= deadline:
                raise httpcore.ReadTimeout("the caller's deadline passed while the answer came in") from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
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
        return _DeadlineStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def shared_http_client() -> httpx.Client:
    """This process's one httpx.Client, so every VibeClient reuses the same connections.

    Keyed by process id: a forked worker must not share its parent's sockets.
    """
    return _shared_client.get()
