"""The client address per-client limits count: the forwarded header is believed only from a trusted proxy, and
then its rightmost entry that is not itself a trusted proxy. From an outside probe: a client reaching the app
directly sent a new X-Forwarded-For each time and was never limited."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import RequestFactory

from tenants.client_address import find_client_address


@pytest.fixture
def behind_a_proxy(settings):
    settings.TENANTS_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TENANTS_TRUSTED_PROXIES = ["127.0.0.0/8", "::1", "10.1.0.0/16"]


def address(*, socket: str, forwarded: str | None = None) -> str:
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return find_client_address(RequestFactory().get("/", REMOTE_ADDR=socket, **headers))


def test_a_client_connecting_directly_is_counted_by_its_socket_whatever_it_forwards(behind_a_proxy):
    assert address(socket="198.51.100.20", forwarded="10.0.0.1") == "198.51.100.20"
    assert address(socket="198.51.100.20", forwarded="203.0.113.7, 10.1.0.3") == "198.51.100.20"


def test_from_a_trusted_proxy_the_rightmost_address_not_a_trusted_proxy_counts(behind_a_proxy):
    assert address(socket="127.0.0.1", forwarded="spoofed, 203.0.113.7") == "203.0.113.7"
    assert address(socket="10.1.0.2", forwarded="10.0.0.66, 203.0.113.7, 10.1.0.3") == "203.0.113.7"
    assert address(socket="::1", forwarded="2001:db8::5") == "2001:db8::5"


def test_a_chain_of_trusted_proxies_only_gives_its_leftmost(behind_a_proxy):
    assert address(socket="10.1.0.2", forwarded="10.1.0.9, 10.1.0.3") == "10.1.0.9"


def test_a_malformed_or_missing_forwarded_address_falls_back_to_the_socket(behind_a_proxy):
    assert address(socket="10.1.0.2", forwarded="not-an-address") == "10.1.0.2"
    assert address(socket="10.1.0.2", forwarded="203.0.113.7, garbage, 10.1.0.3") == "10.1.0.2"
    assert address(socket="10.1.0.2") == "10.1.0.2"


def test_without_a_header_named_the_socket_counts(settings):
    settings.TENANTS_CLIENT_IP_HEADER = ""
    assert address(socket="127.0.0.1", forwarded="203.0.113.7") == "127.0.0.1"


def test_by_default_only_a_proxy_on_this_machine_is_trusted(settings):
    settings.TENANTS_CLIENT_IP_HEADER = "X-Forwarded-For"  # TENANTS_TRUSTED_PROXIES as the settings make it
    assert address(socket="127.0.0.1", forwarded="203.0.113.7") == "203.0.113.7"
    assert address(socket="172.18.0.4", forwarded="203.0.113.7") == "172.18.0.4"


def test_a_trusted_proxy_entry_that_is_no_address_stops_start_up_naming_it(settings):
    settings.TENANTS_TRUSTED_PROXIES = ["10.1.0.0/16", "proxy.internal"]
    errors = [m for m in checks.run_checks(tags=[checks.Tags.security]) if m.id == "tenants.E002"]
    assert len(errors) == 1 and "proxy.internal" in errors[0].msg


def forwarded_address(*, socket: str, forwarded: str) -> str:
    return find_client_address(RequestFactory().get("/", REMOTE_ADDR=socket, HTTP_FORWARDED=forwarded))


def test_the_standard_forwarded_header_is_read_by_its_for_parameters(settings):
    """RFC 7239's Forwarded, which some proxies send instead of X-Forwarded-For: with it named, its `for=`
    values were read as whole addresses, none parsed, and every client counted as the proxy."""
    settings.TENANTS_CLIENT_IP_HEADER = "Forwarded"
    settings.TENANTS_TRUSTED_PROXIES = ["10.1.0.0/16"]
    assert forwarded_address(socket="10.1.0.2", forwarded="for=203.0.113.7") == "203.0.113.7"
    assert (
        forwarded_address(socket="10.1.0.2", forwarded='for="203.0.113.7:4711";proto=https') == "203.0.113.7"
    )
    chain = 'for=198.51.100.9, For="[2001:db8:cafe::17]:4711";by=10.1.0.3, for=10.1.0.3'
    assert forwarded_address(socket="10.1.0.2", forwarded=chain) == "2001:db8:cafe::17"
    # Obfuscated or unknown clients, or an element without for=, cannot be counted: the socket's address.
    assert forwarded_address(socket="10.1.0.2", forwarded="for=_hidden, for=10.1.0.3") == "10.1.0.2"
    assert forwarded_address(socket="10.1.0.2", forwarded="for=unknown") == "10.1.0.2"
    assert forwarded_address(socket="10.1.0.2", forwarded="proto=https;by=10.1.0.3") == "10.1.0.2"
    assert forwarded_address(socket="198.51.100.20", forwarded="for=203.0.113.7") == "198.51.100.20"
