"""Best-effort calls the budget has no room for: a reaction is held and sent once there is room, in order,
once, within a bound; a typing indicator is dropped."""

from __future__ import annotations

import logging
import time
import uuid

import httpx
import pytest
from prometheus_client import REGISTRY
from pyrate_limiter.buckets import InMemoryStateStore

from botcore.vibe import VibeClient
from botcore.vibe.hooks import on_held_call, remove_held_call_observer
from botcore.vibe.learned_budget import LearnedBudget
from botcore.vibe.learning import MemoryLearnedStore

CEILING = 9.0


def learned_budget() -> LearnedBudget:
    """A portal's budget whose limit was learned under the ceiling: a best-effort call goes only into an
    idle budget there (learned_budget._room_for_best_effort)."""
    budget = LearnedBudget(
        name=uuid.uuid4().hex[:24],
        portal="p1",
        ceiling=CEILING,
        burst=1,
        max_wait=10,
        make_store=lambda _: InMemoryStateStore(),
        learned=MemoryLearnedStore(),
    )
    budget.acquire()
    budget.record(limited=True)  # the platform's 429 cut the portals' rate
    assert budget.rates()[1] < CEILING
    return budget


@pytest.fixture
def platform() -> list[tuple[str, str]]:
    """What reached the platform: (method, path) of each call."""
    return []


@pytest.fixture
def client(platform) -> VibeClient:
    def answer(request: httpx.Request) -> httpx.Response:
        platform.append((request.method, request.url.path))
        return httpx.Response(200, json={"success": True, "data": {}})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return VibeClient(
        api_key="vibe_api_test", base_url="http://platform.test/v1", http=http, budget=learned_budget()
    )


def reply(client: VibeClient) -> None:
    """A reply just took the budget's slot (the one the echo's typing took, before its reaction)."""
    assert client._transport.budget.acquire()


REACTION = ("POST", "/v1/bots/7/messages/9/reactions")


def test_a_reaction_without_room_is_held_not_lost_and_sent_once_the_budget_has_room(client, platform):
    reply(client)
    assert client.add_reaction(7, 9, reaction="like") is True  # on its way
    assert platform == []  # it did not take the slot the reply after it waits for
    assert client.send_held_calls() == 1  # between two events: no room yet, kept
    assert platform == []
    assert client.send_held_calls(until=time.monotonic() + 5) == 0
    assert platform == [REACTION]
    assert client.send_held_calls(until=time.monotonic() + 5) == 0
    assert platform == [REACTION]  # sent once


def test_a_typing_indicator_without_room_is_dropped_and_said_at_debug(client, platform, caplog):
    reply(client)
    with caplog.at_level(logging.DEBUG, logger="botcore.vibe.transport"):
        client.show_typing(7, dialog_id="12")
    assert client.send_held_calls(until=time.monotonic() + 5) == 0
    assert platform == []
    assert "POST /bots/7/typing dropped" in caplog.text


def test_held_calls_go_in_order_so_a_reaction_taken_away_stays_away(client, platform):
    """With a reaction held, its removal is held behind it even if the budget had room for it alone."""
    reply(client)
    client.add_reaction(7, 9, reaction="like")
    time.sleep(client._transport.budget.room_in())  # room now, for a call that was not held
    client.remove_reaction(7, 9, reaction="like")
    assert platform == []
    client.send_held_calls(until=time.monotonic() + 5)
    assert platform == [REACTION, ("DELETE", "/v1/bots/7/messages/9/reactions")]


def test_a_held_call_still_without_room_at_its_bound_is_dropped_with_a_warning(client, platform, caplog):
    reply(client)
    client.add_reaction(7, 9, reaction="like")
    with caplog.at_level(logging.WARNING):
        assert client.send_held_calls(until=time.monotonic()) == 1
    assert "reactions dropped, never sent" in caplog.text
    assert client.send_held_calls(until=time.monotonic() + 5) == 0
    assert platform == []  # dropped: never sent later, in another cycle's time


def test_a_best_effort_call_with_room_goes_at_once(client, platform):
    time.sleep(client._transport.budget.room_in())
    assert client.add_reaction(7, 9, reaction="like") is True
    assert platform == [REACTION]
    assert client.send_held_calls() == 0


@pytest.fixture
def outcomes():
    """What the client told the held-call observers (botcore.vibe.hooks), in order."""
    heard: list[str] = []
    on_held_call(heard.append)
    yield heard
    remove_held_call_observer(heard.append)


def test_each_call_without_room_is_told_as_held_then_sent_late_or_dropped_and_ops_counts_the_dropped(
    client, platform, outcomes
):
    dropped_before = best_effort_calls("dropped")
    reply(client)
    client.add_reaction(7, 9, reaction="like")
    client.show_typing(7, dialog_id="12")
    assert client.send_held_calls(until=time.monotonic() + 5) == 0
    assert outcomes == ["held", "skipped", "sent_late"]
    reply(client)
    client.add_reaction(7, 9, reaction="heart")
    client.send_held_calls(until=time.monotonic())
    assert outcomes[3:] == ["held", "dropped"]
    # ops subscribed when it started (ops.receivers): the operators' alert on lost reactions reads this.
    assert best_effort_calls("dropped") - dropped_before == 1


def best_effort_calls(outcome: str) -> float:
    return REGISTRY.get_sample_value("vibeapp_best_effort_calls_total", {"outcome": outcome}) or 0.0
