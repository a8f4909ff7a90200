"""The guard behind the `network_guard` fixture: a socket may connect to loopback (and local sockets) only."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkGuardError(OSError):
    """A test tried to open a connection to a host that is not loopback."""


def is_local_address(address: Any) -> bool:
    """Loopback, the unspecified address (which connects to this host) or a local socket path."""
    if not isinstance(address, tuple):  # AF_UNIX paths and abstract names
        return True
    host = str(address[0]).split("%", 1)[0]  # an IPv6 scope id ("fe80::1%eth0") is not part of the address
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name that only a resolver could answer for: not ours to ask
    return ip.is_loopback or ip.is_unspecified


class NetworkGuard:
    """Wraps socket.socket's connect and connect_ex for the whole test process; records every refusal."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._originals: dict[str, Callable[..., Any]] = {}

    def install(self) -> None:
        for name in ("connect", "connect_ex"):
            original = getattr(socket.socket, name)
            self._originals[name] = original
            setattr(socket.socket, name, self._guarded(original))

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            setattr(socket.socket, name, original)
        self._originals.clear()

    def _guarded(self, original: Callable[..., Any]) -> Callable[..., Any]:
        guard = self

        def connect(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_local_address(address):
                where = f"{address[0]}:{address[1]}"
                guard.attempts.append(where)
                raise NetworkGuardError(f"tests stay on loopback; this one reached for {where}")
            return original(sock, address)

        return connect
