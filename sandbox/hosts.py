"""Which hosts the control API answers: a loopback name or address, or one the sandbox was told to allow.

The control API has no authentication (sandbox.control). A page of another site whose name its owner made
resolve to 127.0.0.1 (DNS rebinding) is the same origin as the sandbox to the browser, so the cross-site
checks (control.base.refuse_other_sites) let its requests through, reads included; but each still names the
page's own host in its Host header. So a request for any other host than loopback's, or one allowed by
`runsandbox --allowed-host` or SANDBOX_ALLOWED_HOSTS (comma-separated: a name other machines or containers
reach the sandbox by), is refused. The platform API (/v1) is not: it has its keys.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable

from starlette.requests import Request

from sandbox.http import ApiError

ALLOWED_HOSTS_ENV = "SANDBOX_ALLOWED_HOSTS"


def host_name(header: str) -> str:
    """The name or address a Host header names, without its port, lower case, without a final dot."""
    header = header.strip()
    if header.startswith("["):  # [::1]:8100
        name = header[1:].partition("]")[0]
    elif header.count(":") == 1:
        name = header.partition(":")[0]
    else:
        name = header
    return name.lower().rstrip(".")


def is_loopback(name: str) -> bool:
    """localhost and its subdomains (RFC 6761: never resolved to anything else), and 127.0.0.0/8 and ::1."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(names: Iterable[str] = (), *, environ: dict[str, str] | None = None) -> frozenset[str]:
    """The names the sandbox answers beyond loopback's: `names` (--allowed-host) and SANDBOX_ALLOWED_HOSTS."""
    from_env = (environ if environ is not None else os.environ).get(ALLOWED_HOSTS_ENV, "")
    given = [*names, *from_env.split(",")]
    return frozenset(host_name(name) for name in given if name.strip())


def refuse_foreign_host(request: Request) -> None:
    """Refuse a control request whose Host is neither loopback nor allowed (HOST_NOT_ALLOWED, 403). A request
    with no Host at all (HTTP/1.0) comes from no browser, and is answered."""
    header = request.headers.get("host")
    if header is None:
        return
    name = host_name(header)
    if name and (is_loopback(name) or name in request.app.state.services.allowed_hosts):
        return
    raise ApiError("HOST_NOT_ALLOWED")
