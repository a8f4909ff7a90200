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

Hosts an operator does mean skills to reach on their own network are named in BOTCORE_OUTSIDE_HOSTS_ALLOWED,
other ports in BOTCORE_OUTSIDE_PORTS_ALLOWED.
"""

from __future__ import annotations

import contextvars
import ipaddress
import re
import socket
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
from django.utils.translation import gettext

from botcore import conf
from botcore.per_process import PerProcess

_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")
# A host as it goes on the wire: a name's letters, digits, hyphens (and underscores, which some names have),
# or an IPv6 address; httpx takes "exa mple.com" as the host "exa%20mple.com", which no resolver answers.
_WIRE_HOST = re.compile(r"[a-z0-9_.-]+|[0-9a-f.]*:[0-9a-z:.%]*", re.ASCII)
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class OutsideAddressError(httpx.ConnectError):
    """An address a skill may not call: not http(s), with credentials in it, or a host on a private network.

    A ConnectError, so a skill that answers "the service is not answering" to any httpx.HTTPError stays
    safe; one that catches this first can tell the person to have the admin fix the address. Its text names
    the address's kind, never the URL (which may hold a token in its query)."""


# The ports a webhook or an API is served on; any other (a database's, SSH's, SMTP's) only if an operator
# allows it (BOTCORE_OUTSIDE_PORTS_ALLOWED), on every host a skill may call.
WEB_PORTS = (80, 443)


def _allowed_hosts() -> frozenset[str]:
    return frozenset(_host_key(host) for host in conf.outside_hosts_allowed())


def allowed_ports() -> tuple[int, ...]:
    """80, 443 and the ports BOTCORE_OUTSIDE_PORTS_ALLOWED adds, in order."""
    return tuple(dict.fromkeys([*WEB_PORTS, *conf.outside_ports_allowed()]))


def _host_key(host: str) -> str:
    """`host` as compared with the hosts allowed: lower case, no brackets or final dot, and a name in its
    IDNA (punycode) form as httpx sends it, so "пример.рф" written by an operator is the
    "xn--e1afmkfd.xn--p1ai" a connection asks for (compared as written, an international name allowed was
    refused)."""
    key = host.strip().strip("[]").rstrip(".").lower()
    if not key or ":" in key or key.isascii():
        return key
    try:
        return httpx.URL("http://host/").copy_with(host=key).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):
        return key  # no valid international name: it matches no address httpx would call


def _ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` writes out, or None for a name. The socket library also reads IPv4 in its old
    short forms ("127.1", "2130706433", "0x7f000001"), so they count as the address they connect to."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 scope id is not part of the address
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


# IPv6 forms holding an IPv4 address in their last 32 bits, which a host or gateway on the way may turn into
# it, and which Python counts global: NAT64's well-known prefix (RFC 6052: a gateway turns 64:ff9b::a9fe:a9fe
# into 169.254.169.254), the deprecated IPv4-compatible form (::a.b.c.d, which a host with IPv6-in-IPv4
# tunnels sends to a.b.c.d) and SIIT's IPv4-translated form (::ffff:0:a.b.c.d, RFC 6145).
_IPV4_INSIDE = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)
# IPv6 ranges of a local network that Python (3.11 to 3.13) counts global: NAT64's local-use prefix (RFC 8215,
# a translator of the operator's own, the IPv4 address inside placed by its prefix length) and the
# deprecated site-local range.
_IPV6_LOCAL = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("fec0::/10"))


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the internet: not private, loopback, link-local, shared (100.64/10), reserved,
    unspecified, multicast, site-local or a local NAT64 prefix; an IPv4 address written as IPv6 is judged as
    itself: mapped (::ffff:127.0.0.1), 6to4 (2002:7f00:1::), through NAT64 (64:ff9b::7f00:1), compatible
    (::127.0.0.1) or translated (::ffff:0:127.0.0.1), each of which a host or gateway on the way may turn
    into the IPv4 address inside it."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _IPV6_LOCAL):
            return False
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            address = address.sixtofour
        elif any(address in network for network in _IPV4_INSIDE):
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)  # :: and ::1 are 0.0.0.0/8's
    return address.is_global and not address.is_multicast


def _refuse_inward(host: str) -> None:
    """OutsideAddressError for a host that is localhost or an inward address literal, unless allowed."""
    key = _host_key(host)
    if key in _allowed_hosts():
        return
    ip = _ip_of(key)
    if key in _LOCAL_NAMES or key.endswith(".localhost") or (ip is not None and not is_public_address(ip)):
        raise OutsideAddressError(
            gettext("must be an address on the internet, not on a private network or this host")
        )


def malformed_address_error() -> OutsideAddressError:
    """The refusal of an address that is no http(s) one or no address at all (a redirect's too)."""
    return OutsideAddressError(gettext("must be an http:// or https:// address"))


def check_outside_url(url: str | httpx.URL) -> None:
    """Raise OutsideAddressError unless `url` is an http(s) address without credentials whose host is no
    inward address and whose port is one allowed (a name is resolved only when called: outside_client checks
    what it resolves to)."""
    try:
        parsed = httpx.URL(url)
        # Its name decoded: httpx keeps an ASCII "xn--" host as written, and a label that is no valid IDNA
        # raises idna's own error (a UnicodeError) here, no httpx one.
        host = parsed.host
    except (httpx.InvalidURL, UnicodeError):
        raise malformed_address_error() from None
    if parsed.scheme not in ("http", "https") or not host:
        raise malformed_address_error()
    if not _WIRE_HOST.fullmatch(parsed.raw_host.decode("ascii", "replace").lower()):
        raise malformed_address_error()
    if parsed.userinfo:
        raise OutsideAddressError(gettext("must not carry a user name or password"))
    _refuse_inward(host)
    ports = allowed_ports()
    if (parsed.port or (443 if parsed.scheme == "https" else 80)) not in ports:
        raise OutsideAddressError(
            gettext("must use one of the ports %(ports)s") % {"ports": ", ".join(str(port) for port in ports)}
        )


# Look-ups run in these threads, so a call waits for one no longer than its timeout: socket.getaddrinfo takes
# none, and a resolver that does not answer held the call past it (the system's resolver gives up after its
# own timeouts and retries, tens of seconds). A few at once: a look-up still hanging holds its thread, and
# past that many the next waits its turn within its own call's timeout, never a thread more.
RESOLVER_THREADS = 8
_resolvers: PerProcess[ThreadPoolExecutor] = PerProcess(
    lambda: ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="outside-resolve")
)


def _look_up(host: str, port: int, timeout: float | None) -> list[Any]:
    """getaddrinfo's answers for `host`, or httpcore.ConnectTimeout past `timeout` seconds."""
    lookup = _resolvers.get().submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return lookup.result(timeout)
    except FutureTimeoutError:
        lookup.cancel()  # not started yet: it never will be
        raise httpcore.ConnectTimeout("the name did not resolve within the call's timeout") from None


def resolve_outside(host: str, port: int, *, timeout: float | None = None) -> list[str]:
    """The addresses to connect to for `host`: itself if it is an address, else what it resolves to within
    `timeout` seconds, each checked. Raises OutsideAddressError if any is inward (a name answering both a
    public address and 127.0.0.1 is refused whole), httpcore.ConnectError if it does not resolve,
    httpcore.ConnectTimeout if no answer came in time."""
    _refuse_inward(host)
    allowed = _host_key(host) in _allowed_hosts()
    if _ip_of(host) is not None:
        return [host]
    try:
        answers = _look_up(host, port, timeout)
    except (socket.gaierror, UnicodeError) as error:
        raise httpcore.ConnectError(f"the name did not resolve ({error.__class__.__name__})") from None
    addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
    for address in addresses:
        ip = _ip_of(address)
        if not allowed and (ip is None or not is_public_address(ip)):
            raise OutsideAddressError(
                gettext("the address's name leads to a private network or this host, not the internet")
            )
    return addresses


# The most a call's answer may hold as it comes over the wire, its head included: a skill reads a tracker's
# JSON, not files, and an answer is held whole in the task worker's memory.
MAX_ANSWER_BYTES = 1024 * 1024


@dataclass
class _CallBounds:
    """What the call under way may still take: until when (time.monotonic) and how many bytes."""

    deadline: float
    bytes_left: int


# The bounds of the request or answer being read in this context, read by its connection's stream: the
# transport sets them for the request, and the answer's body (_BoundedBody) for each of its reads, so an
# answer read in another thread, or after another call made meanwhile, keeps its own (its context var set by
# the call alone, an answer read elsewhere had none, and one read after another call had that call's).
_call_bounds: contextvars.ContextVar[_CallBounds | None] = contextvars.ContextVar(
    "botcore_outside_call_bounds", default=None
)


class _BoundedStream(httpcore.NetworkStream):
    """A connection's stream whose reads and writes end at the call's deadline and whose reads stop past its
    bytes: httpx's timeout bounds each read alone, so a server sending a byte just within it held the call,
    and its task worker, as long as it liked, and an answer of any size was read into memory."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def _timeout(self, timeout: float | None, *, reading: bool) -> float | None:
        bounds = _call_bounds.get()
        if bounds is None:
            return timeout
        left = bounds.deadline - time.monotonic()
        if left <= 0:
            error = httpcore.ReadTimeout if reading else httpcore.WriteTimeout
            raise error("the call took longer than its timeout")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._stream.read(max_bytes, self._timeout(timeout, reading=True))
        bounds = _call_bounds.get()
        if bounds is not None:
            bounds.bytes_left -= len(data)
            if bounds.bytes_left < 0:
                raise httpcore.ReadError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._timeout(timeout, reading=False))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._timeout(timeout, reading=True))
        return _BoundedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CheckedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, opened only to the checked addresses of the host asked for: the name is
    resolved once, here, and the connection goes to what was checked (no second look-up to rebind). TLS
    still verifies the certificate against the host's name (httpcore passes it as server_hostname)."""

    def __init__(self) -> None:
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        bounds = _call_bounds.get()
        left = None if bounds is None else max(0.0, bounds.deadline - time.monotonic())
        for address in resolve_outside(host, port, timeout=_sooner(timeout, left)):
            try:
                stream = self._sockets.connect_tcp(address, port, timeout, local_address, socket_options)
                return _BoundedStream(stream)
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


def _sooner(timeout: float | None, left: float | None) -> float | None:
    return left if timeout is None else timeout if left is None else min(timeout, left)


class _BoundedBody(httpx.SyncByteStream):
    """An answer's body read under its own call's bounds, in whichever thread or context reads it."""

    def __init__(self, body: httpx.SyncByteStream, bounds: _CallBounds) -> None:
        self._body = body
        self._bounds = bounds

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._body)
        while True:
            token = _call_bounds.set(self._bounds)
            try:
                chunk = next(chunks, None)
            finally:
                _call_bounds.reset(token)
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
            network_backend=_CheckedNetworkBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        check_outside_url(request.url)
        # Each request (a redirect's too) has `seconds` for its head and body, and MAX_ANSWER_BYTES.
        bounds = _CallBounds(time.monotonic() + self._seconds, MAX_ANSWER_BYTES)
        # Uncompressed only: httpx unpacks an answer as it is read, and the limit counts what came over the
        # wire (1 MiB of gzip unpacks to about 1 GiB).
        request.headers["Accept-Encoding"] = "identity"
        token = _call_bounds.set(bounds)
        try:
            response = super().handle_request(request)
        finally:
            _call_bounds.reset(token)
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
    whole of each request's sending and answer, whatever
    pace the server keeps (httpx.ReadTimeout past it); an answer past MAX_ANSWER_BYTES is httpx.ReadError,
    and one compressed (an uncompressed one is asked for) httpx.DecodingError.
    Keep `timeout` to a few seconds: the call holds a task worker (docs/skills.md §8). An answer keeps its
    bounds in whichever thread reads it. A malformed address or redirect is OutsideAddressError too."""
    return _OutsideClient(
        transport=OutsideTransport(seconds=timeout),
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
    )
