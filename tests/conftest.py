"""Shared fixtures: the sandbox on loopback, and a guard that keeps tests off every other network."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from sandbox.runner import SandboxThread

# Fixed for the whole run so rows written by one test's fixtures stay readable in the next.
TEST_FERNET_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _test_fernet_keys(settings):
    """Tests never touch the developer's local key under var/."""
    settings.TENANTS_FERNET_KEYS = [TEST_FERNET_KEY]


@pytest.fixture
def fake_identity(settings):
    """Point tenants at a scriptable identity backend instead of the platform."""
    from tests.fakes import FakeIdentityBackend

    FakeIdentityBackend.reset()
    settings.TENANTS_IDENTITY_BACKEND = "tests.fakes.FakeIdentityBackend"
    return FakeIdentityBackend


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
