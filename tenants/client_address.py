"""Who is asking, for per-client limits: the address our own proxy saw, never a value a client can choose.

Behind a proxy every request comes from the proxy's address, so TENANTS_CLIENT_IP_HEADER names the header
the proxy appends the client's address to (e.g. X-Forwarded-For); its rightmost entry is the one our proxy
wrote. A missing or malformed value falls back to the socket's address: garbage never reaches the limiter.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

_UNKNOWN = "0.0.0.0"


def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def find_client_address(request: HttpRequest) -> str:
    header = settings.TENANTS_CLIENT_IP_HEADER
    if header:
        forwarded = request.headers.get(header, "")
        if forwarded:
            found = _valid(forwarded.split(",")[-1])
            if found:
                return found
    return _valid(request.META.get("REMOTE_ADDR", "")) or _UNKNOWN
