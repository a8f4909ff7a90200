"""Who is asking, for per-client limits: the address our own proxy saw, never a value a client can choose.

Behind a proxy every request comes from the proxy's address, so TENANTS_CLIENT_IP_HEADER names the header
the proxy appends the client's address to (e.g. X-Forwarded-For). The header is believed only when the
connection itself comes from one of TENANTS_TRUSTED_PROXIES: a client reaching the app directly wrote the
header itself, and a new address in each request escaped every limit (an outside probe made 40 wrong admin
sign-ins, no 429). Read from the right, each entry a trusted proxy wrote is skipped; the first one that is not
a trusted proxy is the client (all of them trusted: the leftmost). The standard `Forwarded` header (RFC 7239)
is read by each element's `for=` (quoted, with a port, an IPv6 address in brackets). A missing or malformed
value, or a client the proxy hid (`for=unknown`, `for=_hidden`), falls back to the socket's address: garbage
never reaches the limiter.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

_UNKNOWN = "0.0.0.0"

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _forwarded_for(element: str) -> str | None:
    """The address of one element of RFC 7239's Forwarded (`for=...;proto=...`), or None: no `for=`, or an
    obfuscated or unknown node."""
    for pair in element.split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() != "for":
            continue
        node = value.strip().strip('"')
        if node.startswith("["):  # [IPv6]:port
            return _valid(node[1 : node.find("]")]) if "]" in node else None
        if node.count(":") == 1:  # IPv4:port
            node = node.partition(":")[0]
        return _valid(node)
    return None


@lru_cache(maxsize=8)
def parse_trusted_proxies(entries: tuple[str, ...]) -> tuple[_Network, ...]:
    """The networks of TENANTS_TRUSTED_PROXIES (an address is a network of one); ValueError names a bad one.
    Cached: the setting is read at call time, and parsed once per value."""
    networks: list[_Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as error:
            raise ValueError(f"{entry!r} is not an address or a network (CIDR)") from error
    return tuple(networks)


def _is_trusted(address: str, proxies: tuple[_Network, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in proxies)


def find_client_address(request: HttpRequest) -> str:
    socket_address = _valid(request.META.get("REMOTE_ADDR", "")) or _UNKNOWN
    header = settings.TENANTS_CLIENT_IP_HEADER
    forwarded = request.headers.get(header, "") if header else ""
    if not forwarded or socket_address == _UNKNOWN:
        return socket_address
    proxies = parse_trusted_proxies(tuple(settings.TENANTS_TRUSTED_PROXIES))
    if not _is_trusted(socket_address, proxies):
        return socket_address
    read = _forwarded_for if header.lower() == "forwarded" else _valid
    found = socket_address
    for entry in reversed(forwarded.split(",")):
        address = read(entry)
        if address is None:
            return socket_address
        found = address
        if not _is_trusted(address, proxies):
            break
    return found
