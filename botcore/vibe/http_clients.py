"""The process's HTTP clients for the platform: one httpx.Client tuned for it, shared per process.

Keep-alive pool, bounded connections, explicit timeouts, no redirects (a redirect would carry our key to
wherever it points). Every VibeClient shares the process's client unless given its own.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from botcore import conf
from botcore.per_process import PerProcess
from botcore.vibe.answers import ACCEPT_ENCODING
from botcore.vibe.call_bounds import BoundedBackend, CallBounds, bounded

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
    transport._pool._network_backend = BoundedBackend()  # httpx takes no backend of its own choosing
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        # The encodings answers.Inflate decodes, pinned (httpx's own default grows with what is installed).
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
    )


@contextmanager
def call_deadline(deadline: float | None) -> Iterator[None]:
    """Every read and write on a connection in the block ends no later than `deadline` (call_bounds): the
    read timeout bounds each wait, not the whole, and a status line and headers trickling in a byte at a
    time (a proxy's) held a call with a 3 s deadline for as long as h11 takes headers (27 minutes)."""
    with bounded(None if deadline is None else CallBounds(deadline)):
        yield


def shared_http_client() -> httpx.Client:
    """This process's one httpx.Client, so every VibeClient reuses the same connections.

    Keyed by process id: a forked worker must not share its parent's sockets.
    """
    return _shared_client.get()
