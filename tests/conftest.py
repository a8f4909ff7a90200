"""Shared fixtures: the sandbox on loopback, and a guard that keeps tests off every other network."""
from __future__ import annotations

import pytest

from sandbox.runner import SandboxThread


@pytest.fixture(scope="session")
def sandbox_server():
    server = SandboxThread(gateway=False).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """A running sandbox, emptied before each test."""
    sandbox_server.reset()
    # The platform's default is 10 requests/s per key (tests of the limit set it back); most tests make
    # bursts of calls that are not about rate limiting and would otherwise be paced by it.
    sandbox_server.run_in_loop(lambda services: setattr(services.platform, "default_rate_limit", 1000.0))
    return sandbox_server
