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
    return sandbox_server
