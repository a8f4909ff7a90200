"""Which addresses a skill may call (botcore.skills.outbound calls them): http(s), without credentials, on a
host on the internet (or one an operator allowed) and on port 80 or 443 (or one an operator allowed); and what
a host's name resolves to now, each address checked, the look-up bounded in time.

Hosts an operator does mean skills to reach on their own network are named in BOTCORE_OUTSIDE_HOSTS_ALLOWED,
other ports in BOTCORE_OUTSIDE_PORTS_ALLOWED.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
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

log = logging.getLogger(__name__)


class OutsideAddressError(httpx.ConnectError):
    """An address a skill may not call: not http(s), with credentials in it, a host on a private network or
    a port not allowed.

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
# past that many the next waits its turn within its own call's timeout, never a thread more (a skill looping
# over names that hang would otherwise grow threads without bound); one that got none is refused saying so.
RESOLVER_THREADS = 8
_resolvers: PerProcess[ThreadPoolExecutor] = PerProcess(
    lambda: ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="outside-resolve")
)


def _look_up(host: str, port: int, timeout: float) -> list[Any]:
    """getaddrinfo's answers for `host`, or httpcore.ConnectTimeout past `timeout` seconds."""
    lookup = _resolvers.get().submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return lookup.result(timeout)
    except FutureTimeoutError:
        if lookup.cancel():  # not started yet, so it never will be: no thread came free in time
            held = (
                f"the name was not looked up: all {RESOLVER_THREADS} name look-up threads are held by"
                " look-ups whose resolver does not answer (they end when the system's resolver gives up)"
            )
            log.warning("outside call refused: %s", held)
            raise httpcore.ConnectTimeout(held) from None
        raise httpcore.ConnectTimeout("the name did not resolve within the call's timeout") from None


def resolve_outside(host: str, port: int, *, timeout: float) -> list[str]:
    """The addresses to connect to for `host`: itself if it is an address, else what it resolves to within
    `timeout` seconds (required: the look-up's thread is waited for no longer), each checked. Raises
    OutsideAddressError if any is inward (a name answering both a public address and 127.0.0.1 is refused
    whole), httpcore.ConnectError if it does not resolve, httpcore.ConnectTimeout if no answer came in
    time."""
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
