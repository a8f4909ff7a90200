"""The process's HTTP clients for the platform: one httpx.Client tuned for it, shared per process.

Keep-alive pool, bounded connections, explicit timeouts, no redirects (a redirect would carry our key to
wherever it points). Every VibeClient shares the process's client unless given its own.
"""

from __future__ import annotations

import functools
import ssl

import httpx

from botcore import conf
from botcore.per_process import PerProcess

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
    return httpx.Client(
        verify=platform_tls(),
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
    )


def shared_http_client() -> httpx.Client:
    """This process's one httpx.Client, so every VibeClient reuses the same connections.

    Keyed by process id: a forked worker must not share its parent's sockets.
    """
    return _shared_client.get()
