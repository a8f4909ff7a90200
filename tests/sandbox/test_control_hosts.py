"""The control API answers only requests for the sandbox's own host: a loopback name or address, or one its
configuration allows (runsandbox --allowed-host, SANDBOX_ALLOWED_HOSTS). A page of another site whose name
was made to resolve to 127.0.0.1 (DNS rebinding) is the same origin to the browser, so the cross-site
checks let it through: its requests still name its own host."""

from __future__ import annotations

import uuid

import pytest

from sandbox.hosts import allowed_hosts
from tests.sandbox.helpers import ok, refused


def portals_named(ctl, domain: str) -> int:
    return sum(p["domain"] == domain for p in ok(ctl.get("/_sandbox/portals"))["portals"])


@pytest.fixture
def allow_hosts(sandbox):
    """Set the sandbox's allowed hosts for one test; its own (none beyond loopback) again after."""
    before = sandbox.run_in_loop(lambda services: services.allowed_hosts)

    def allow(*hosts: str) -> None:
        names = allowed_hosts(hosts, environ={})  # as runsandbox reads --allowed-host
        sandbox.run_in_loop(lambda services: setattr(services, "allowed_hosts", names))

    yield allow
    sandbox.run_in_loop(lambda services: setattr(services, "allowed_hosts", before))


FOREIGN = [
    "attacker.example",
    "attacker.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "192.168.1.5:{port}",
    "localhost.attacker.example",
    "[2001:db8::1]:{port}",
    "127.0.0.1@attacker.example",
    "",
]


@pytest.mark.parametrize("host", FOREIGN)
def test_a_request_naming_another_host_is_refused_and_changes_nothing(sandbox, ctl, host):
    """From a security review: the control API took any Host, so a rebinding page could read the portals,
    users and sessions, and reset or drive the sandbox (its fetch is same-origin to the browser)."""
    named = {"Host": host.format(port=sandbox.port)}
    domain = f"rebound-{uuid.uuid4().hex[:8]}.bitrix24.com"
    same_origin = {"Origin": f"http://{named['Host']}", "Sec-Fetch-Site": "same-origin", **named}
    error = refused(ctl.post("/_sandbox/portals", json={"domain": domain}, headers=same_origin), 403,
                    "HOST_NOT_ALLOWED")  # fmt: skip
    assert "loopback" in error["message"] and "SANDBOX_ALLOWED_HOSTS" in error["message"]
    refused(ctl.get("/_sandbox/state", headers=named), 403, "HOST_NOT_ALLOWED")
    refused(ctl.get("/_sandbox/stats", headers=named), 403, "HOST_NOT_ALLOWED")
    assert portals_named(ctl, domain) == 0


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "localhost.", "chat.localhost:{port}", "127.0.0.2",
     "[::1]:{port}"],
)  # fmt: skip
def test_a_loopback_host_is_served(sandbox, ctl, host):
    ok(ctl.get("/_sandbox/portals", headers={"Host": host.format(port=sandbox.port)}))


def test_a_host_the_configuration_allows_is_served_and_the_platform_api_takes_any(sandbox, ctl, api,
                                                                                   allow_hosts):  # fmt: skip
    allow_hosts("sandbox", "Sandbox.Internal.")
    ok(ctl.get("/_sandbox/portals", headers={"Host": f"sandbox:{sandbox.port}"}))
    ok(ctl.get("/_sandbox/portals", headers={"Host": "sandbox.internal"}))
    refused(ctl.get("/_sandbox/portals", headers={"Host": "other.internal"}), 403, "HOST_NOT_ALLOWED")
    # The platform API has its keys: a container reaching the sandbox by its service name is answered.
    refused(api.get("/me", headers={"Host": "elsewhere.example"}), 401, "AUTH_REQUIRED")


def test_the_allowed_hosts_come_from_the_flag_and_the_environment():
    environ = {"SANDBOX_ALLOWED_HOSTS": " sandbox , ,Box.Example:8100"}
    assert allowed_hosts(["[fd00::5]:8100", "LAN.host."], environ=environ) == {
        "fd00::5", "lan.host", "sandbox", "box.example"
    }  # fmt: skip
    assert allowed_hosts([], environ={}) == frozenset()
