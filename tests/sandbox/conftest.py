"""Fixtures the sandbox tests share; a module needing a different one defines its own of that name."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.helpers import Tenant, client_for, register_bot, seed_personal


@pytest.fixture
def tenant(sandbox) -> Tenant:
    return seed_personal(sandbox)


@pytest.fixture
def client(sandbox, tenant):
    with client_for(sandbox, tenant) as client:
        yield client


@pytest.fixture
def bot_id(client):
    return register_bot(client)


@pytest.fixture
def ctl(sandbox):
    with httpx.Client(base_url=sandbox.root_url, timeout=10) as client:
        yield client


@pytest.fixture
def api(sandbox):
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        yield client
