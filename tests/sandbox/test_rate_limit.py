"""The per-key request rate (CONTRACT part A §3): 429 RATE_LIMIT with retryAfter and Retry-After."""

from __future__ import annotations

import time

import pytest

from sandbox.state import DEFAULT_RATE_LIMIT, Platform
from tests.sandbox.helpers import client_for, error_of, register_bot, seed_personal


class FrozenClock:
    """The limiter's clock, standing still until a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(sandbox):
    """The platform's real default (the shared fixture raises it for tests not about the limit)."""
    sandbox.run_in_loop(lambda s: setattr(s.platform, "default_rate_limit", DEFAULT_RATE_LIMIT))
    return sandbox


@pytest.fixture
def clock(sandbox) -> FrozenClock:
    clock = FrozenClock()
    sandbox.run_in_loop(lambda s: setattr(s.limiter, "clock", clock))
    return clock


def test_a_fresh_platform_allows_10_requests_per_second_per_key():
    assert Platform().default_rate_limit == 10


def test_a_burst_of_10_passes_and_the_11th_is_429_with_retry_after(limited, tenant, clock):
    with client_for(limited, tenant) as client:
        statuses = [client.get("/bots").status_code for _ in range(10)]
        refused = client.get("/bots")
    assert statuses == [200] * 10
    assert refused.status_code == 429
    assert error_of(refused) == "RATE_LIMIT"
    retry_after = refused.json()["error"]["retryAfter"]
    assert isinstance(retry_after, int) and retry_after >= 1
    assert refused.headers["Retry-After"] == str(retry_after)


def test_after_waiting_retry_after_the_key_works_again(limited, tenant, clock):
    with client_for(limited, tenant) as client:
        for _ in range(10):
            client.get("/bots")
        retry_after = client.get("/bots").json()["error"]["retryAfter"]
        clock.now += retry_after
        assert client.get("/bots").status_code == 200


def test_the_limit_is_a_rate_not_a_quota(limited, tenant, clock):
    with client_for(limited, tenant) as client:
        for _ in range(10):
            client.get("/bots")
        clock.now += 0.1  # one request's worth at 10/s
        assert client.get("/bots").status_code == 200
        assert client.get("/bots").status_code == 429


@pytest.mark.slow
def test_a_real_burst_is_refused_and_then_served_after_retry_after(limited, tenant):
    with client_for(limited, tenant) as client:
        responses = [client.get("/bots") for _ in range(30)]
        refused = [r for r in responses if r.status_code == 429]
        assert refused, "30 back-to-back calls never met a 10/s limit"
        time.sleep(int(refused[-1].headers["Retry-After"]))
        assert client.get("/bots").status_code == 200


def test_each_key_has_its_own_budget(limited, tenant, clock):
    other = seed_personal(limited, portal_id=tenant.portal_id)
    with client_for(limited, tenant) as client, client_for(limited, other) as other_client:
        for _ in range(11):
            client.get("/bots")
        assert client.get("/bots").status_code == 429
        assert other_client.get("/bots").status_code == 200


def test_a_per_key_rate_overrides_the_default_at_run_time(limited, tenant, clock):
    with client_for(limited, tenant) as client:
        limited.run_in_loop(lambda s: setattr(s.platform.keys[tenant.key], "rate_limit", 2.0))
        assert [client.get("/bots").status_code for _ in range(3)] == [200, 200, 429]
        limited.run_in_loop(lambda s: setattr(s.platform.keys[tenant.key], "rate_limit", None))
        assert [client.get("/bots").status_code for _ in range(10)] == [200] * 10


def test_a_slow_rate_asks_for_a_longer_wait(limited, tenant, clock):
    limited.run_in_loop(lambda s: setattr(s.platform.keys[tenant.key], "rate_limit", 0.2))
    with client_for(limited, tenant) as client:
        assert client.get("/bots").status_code == 200
        refused = client.get("/bots")
    assert refused.json()["error"]["retryAfter"] == 5 == int(refused.headers["Retry-After"])


def test_a_changed_default_applies_from_the_next_call(limited, tenant, clock):
    limited.run_in_loop(lambda s: setattr(s.platform, "default_rate_limit", 3.0))
    with client_for(limited, tenant) as client:
        assert [client.get("/bots").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_events_endpoint_is_limited_too(sandbox, tenant, clock):
    with client_for(sandbox, tenant) as client:
        bot_id = register_bot(client)
        sandbox.run_in_loop(lambda s: setattr(s.platform, "default_rate_limit", 1.0))
        assert client.get(f"/bots/{bot_id}/events").status_code == 200
        refused = client.get(f"/bots/{bot_id}/events")
    assert refused.status_code == 429 and error_of(refused) == "RATE_LIMIT"
