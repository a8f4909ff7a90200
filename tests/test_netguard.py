"""The network guard: a test reaching beyond loopback is stopped and failed; loopback stays open."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.netguard import NetworkGuardError, is_local_address


def test_a_connection_beyond_loopback_is_refused_and_recorded(network_guard):
    # 192.0.2.0/24 is reserved for documentation: never anyone's real host.
    with pytest.raises(NetworkGuardError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    assert network_guard.attempts == ["192.0.2.1:80"]
    network_guard.attempts.clear()  # this test wanted the attempt; any other test fails on it


def test_a_client_that_catches_the_refusal_still_leaves_it_recorded(network_guard):
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://192.0.2.1/", timeout=1)
    assert network_guard.attempts == ["192.0.2.1:80"]
    network_guard.attempts.clear()


@pytest.mark.parametrize(
    ("address", "local"),
    [
        (("127.0.0.1", 80), True),
        (("127.8.9.10", 80), True),
        (("::1", 80, 0, 0), True),
        (("localhost", 80), True),
        (("0.0.0.0", 80), True),
        ("/tmp/some.sock", True),
        (("192.0.2.1", 80), False),
        (("2001:db8::1", 80, 0, 0), False),
        (("example.com", 443), False),
    ],
)
def test_only_loopback_counts_as_local(address, local):
    assert is_local_address(address) is local


def test_loopback_connections_go_through(network_guard):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
    assert network_guard.attempts == []
