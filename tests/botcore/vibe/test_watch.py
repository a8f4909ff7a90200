"""The poller's watch against the live sandbox: whether anything waits, taking nothing, and the answer to hand
on when it is small enough; each failure as the VibeError the rest of the client raises, without the
caller's secrets; the environment's proxy; and no reference cycles left behind by thousands of calls."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import tracemalloc

import httpcore
import pytest

from botcore.vibe.errors import (
    VibeAuthError,
    VibeProtocolError,
    VibeRateLimitError,
    VibeServerError,
    VibeTransportError,
)
from botcore.vibe.parse import read_event_batch
from botcore.vibe.watch import (
    CARRY_MAX_BYTES,
    Waiting,
    WatchAuth,
    WatchClients,
    proxy_from_environment,
    watch_events,
)

EVENTS = "/v1/bots/{bot_id}/events"


def watch_auth(world, key_mode: str) -> WatchAuth:
    if key_mode == "app":
        return WatchAuth(api_key=world.app_key, session_token=world.session_token)
    return WatchAuth(api_key=world.personal_key)


def watch(
    base_url: str,
    bot_id: int,
    auth: WatchAuth,
    *,
    offset: int | None = None,
    hold: float = 0.0,
    limit: int = 1,
) -> Waiting | None:
    async def once() -> Waiting | None:
        clients = WatchClients(base_url=base_url, connect_timeout=2.0)
        try:
            return await watch_events(
                clients.for_bot(bot_id), base_url=base_url, vibe_bot_id=bot_id, auth=auth, offset=offset,
                limit=limit, hold=hold, connect_timeout=clients.connect_timeout,
            )  # fmt: skip
        finally:
            await clients.aclose()

    return asyncio.run(once())


def stored_offset(client, bot_id: int) -> int:
    return client.get_events(bot_id, limit=1).stored_offset


def test_a_watch_says_whether_anything_waits_and_acknowledges_nothing(world, client, bot, key_mode):
    auth = watch_auth(world, key_mode)
    batch = client.get_events(bot.id, limit=100)
    offset = batch.next_offset or stored_offset(client, bot.id)
    client.get_events(bot.id, offset=offset, limit=1)  # the join events acknowledged: nothing waits
    assert watch(world.base_url, bot.id, auth, offset=offset) is None

    world.control.user_says(world.admin_id, "hello", bot_id=bot.id)
    assert watch(world.base_url, bot.id, auth, offset=offset) is not None
    assert watch(world.base_url, bot.id, auth, offset=offset) is not None  # still there: nothing taken
    call = world.control.calls(botId=bot.id)[-1]
    assert stored_offset(client, bot.id) == offset

    assert call["query"] == {"limit": "1", "offset": str(offset), "timeout": "0"}  # at once, said so
    assert call["keyKind"] == ("app" if key_mode == "app" else "api")
    assert call["hadBearer"] is (key_mode == "app")


def test_a_held_watch_asks_the_platform_to_hold_and_answers_when_a_message_comes(
    world, client, bot, key_mode
):
    auth = watch_auth(world, key_mode)
    offset = client.get_events(bot.id, limit=100).next_offset
    client.get_events(bot.id, offset=offset, limit=1)

    async def held_then_message() -> Waiting | None:
        clients = WatchClients(base_url=world.base_url, connect_timeout=2.0)
        try:
            pool = clients.for_bot(bot.id)
            held = watch_events(
                pool, base_url=world.base_url, vibe_bot_id=bot.id, auth=auth, offset=offset, hold=20
            )
            watching = asyncio.create_task(held)
            await asyncio.sleep(0.3)
            assert not watching.done(), "the platform held the empty answer"
            await asyncio.to_thread(world.control.user_says, world.admin_id, "wake up", bot_id=bot.id)
            return await asyncio.wait_for(watching, timeout=15)
        finally:
            await clients.aclose()

    assert asyncio.run(held_then_message()) is not None
    last_call = world.control.calls(botId=bot.id)[-1]
    assert last_call["path"] == EVENTS.format(bot_id=bot.id) and last_call["query"]["timeout"] == "20"


def test_the_answer_is_the_batch_the_cycle_would_fetch_unless_too_large_to_hand_on(
    world, client, bot, key_mode
):
    auth = watch_auth(world, key_mode)
    offset = client.get_events(bot.id, limit=100).next_offset
    client.get_events(bot.id, offset=offset, limit=1)
    for n in range(2):
        world.control.user_says(world.admin_id, f"short {n}", bot_id=bot.id)
    waiting = watch(world.base_url, bot.id, auth, offset=offset, limit=100)
    assert waiting is not None and waiting.answer is not None
    fetched = client.get_events(bot.id, offset=offset, limit=100)
    assert read_event_batch(waiting.answer, bot_id=bot.id) == fetched  # the one reading, the same batch

    long_text = "x" * 20_000  # the platform's longest message: four of them pass CARRY_MAX_BYTES
    assert 4 * len(long_text) > CARRY_MAX_BYTES
    for _ in range(4):
        world.control.user_says(world.admin_id, long_text, bot_id=bot.id)
    waiting = watch(world.base_url, bot.id, auth, offset=offset, limit=100)
    assert waiting is not None and waiting.answer is None  # something waits; the cycle fetches it
    one = watch(world.base_url, bot.id, auth, offset=offset, limit=1)  # the first event alone is small
    assert one is not None and one.answer is not None and len(one.answer["events"]) == 1


@pytest.mark.parametrize("key_mode", ["app"])
def test_a_refused_credential_is_an_auth_error_that_names_no_secret(world, client, bot, key_mode):
    forged = WatchAuth(api_key=world.app_key, session_token="forged-" + world.session_token[7:])
    with pytest.raises(VibeAuthError) as refused:
        watch(world.base_url, bot.id, forged)
    text = f"{refused.value} {refused.value!r} {refused.value.hint}"
    assert forged.session_token not in text and world.app_key not in text
    assert refused.value.path == "/v1/bots/:id/events"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"errorRate": 1, "errorCode": "RATE_LIMITED"}, VibeRateLimitError),
        ({"errorRate": 1, "errorCode": "BITRIX_UNAVAILABLE"}, VibeServerError),
        ({"garbageRate": 1, "garbageKind": "html"}, VibeProtocolError),
        ({"garbageRate": 1, "garbageKind": "text"}, VibeProtocolError),
        ({"garbageRate": 1, "garbageKind": "json"}, VibeProtocolError),
        ({"garbageRate": 1, "garbageKind": "events-unreadable"}, VibeProtocolError),
        ({"garbageRate": 1, "garbageKind": "deep"}, VibeProtocolError),
    ],
    ids=["429", "502", "html", "text", "json", "events-unreadable", "deep"],
)
def test_a_failing_platform_is_the_error_the_rest_of_the_client_raises(
    world, client, bot, key_mode, rule, expected
):
    world.control.fault(method="GET", path=EVENTS.format(bot_id=bot.id), **rule)
    with pytest.raises(expected):
        watch(world.base_url, bot.id, watch_auth(world, key_mode))


def test_an_answer_that_does_not_end_is_read_no_further_than_the_limit(world, client, bot, key_mode):
    """A platform (or a proxy) that keeps sending: the watch held the whole stream in memory, up to what the
    sandbox gives up at (256 MiB), and a server that never stops would have held the poller for ever. The
    error keeps none of what was read: it held all 16 MiB through its traceback, for as long as the poller
    kept it."""
    world.control.fault(method="GET", path=EVENTS.format(bot_id=bot.id), garbageRate=1, garbageKind="endless")
    tracemalloc.start()
    try:
        with pytest.raises(VibeProtocolError, match="larger than 16 MiB") as failed:
            watch(world.base_url, bot.id, watch_auth(world, key_mode))
        held_after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert failed.value.is_transient and failed.value.status == 200
    assert held_after < 1024 * 1024, f"{held_after / 2**20:.1f} MiB held by the error"


def test_a_held_watch_the_platform_holds_past_the_margin_is_nothing_waiting_not_an_outage(
    world, client, bot, monkeypatch, caplog
):
    """From a trial against a platform of the tester's own, which held every events call 45 s whatever
    `timeout` asked: each watch gave up past its margin as an outage, the cycle backed off up to five
    minutes, and a message sent meanwhile waited 85 s. A held watch that times out reading is an empty
    answer (an event would have ended the hold); one not held (no-long-poll) is still a failure."""
    monkeypatch.setattr("botcore.vibe.watch._HOLD_MARGIN_SECONDS", 0.2)
    monkeypatch.setattr("botcore.vibe.watch._held_past_said_at", None)
    offset = client.get_events(bot.id, limit=100).next_offset
    client.get_events(bot.id, offset=offset, limit=1)  # nothing waits
    world.control.fault(method="GET", path=EVENTS.format(bot_id=bot.id), latencyMs=1500)
    auth = watch_auth(world, "app")
    with caplog.at_level("INFO", logger="botcore.vibe.watch"):
        assert watch(world.base_url, bot.id, auth, offset=offset, hold=0.3) is None
    assert any("held the events call past" in r.getMessage() for r in caplog.records)
    with pytest.raises(VibeTransportError):
        watch(world.base_url, bot.id, auth, offset=offset, hold=0)


def test_an_answer_that_trickles_in_ends_as_a_transport_error_within_the_watchs_time(
    world, client, bot, key_mode, monkeypatch
):
    """A byte every 100 ms never trips the read timeout, which bounds each wait and not the whole: the watch
    stayed open for the minute the answer took (a proxy trickling every answer so held every bot's watch)."""
    monkeypatch.setattr("botcore.vibe.watch._HOLD_MARGIN_SECONDS", 0.5)
    world.control.fault(method="GET", path=EVENTS.format(bot_id=bot.id), garbageRate=1, garbageKind="trickle")
    started = time.monotonic()
    with pytest.raises(VibeTransportError) as failed:
        watch(world.base_url, bot.id, watch_auth(world, key_mode))
    assert time.monotonic() - started < 6 and failed.value.sent


def test_no_answer_is_a_transport_error_that_says_the_call_never_left(world):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nobody listens once the probe is closed
    with pytest.raises(VibeTransportError) as failed:
        watch(f"http://127.0.0.1:{closed_port}/v1", 1, WatchAuth(api_key="vibe_api_secret"))
    assert failed.value.sent is False
    assert "vibe_api_secret" not in str(failed.value)


def test_a_watch_leaves_no_reference_cycles(world, client, bot, key_mode):
    """Its objects are freed by reference counting: a poller holding thousands of watches never waits on a
    full collection to free them (httpx's Response and its stream form a cycle per answer)."""
    auth = watch_auth(world, key_mode)
    world.control.user_says(world.admin_id, "something waits", bot_id=bot.id)

    async def many() -> None:
        clients = WatchClients(base_url=world.base_url, connect_timeout=2.0)
        for _ in range(20):
            assert await watch_events(
                clients.for_bot(bot.id), base_url=world.base_url, vibe_bot_id=bot.id, auth=auth, offset=None
            )
        await clients.aclose()

    asyncio.run(many())  # the event loop's own setup, imports and first connection settled first
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        asyncio.run(many())
        gc.collect()
        left = [type(o) for o in gc.garbage if type(o).__module__.split(".")[0] in ("httpx", "httpcore")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


def test_the_proxy_is_the_one_the_environment_names_for_the_platform(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_from_environment("https://vibecode.bitrix24.tech/v1") is None

    monkeypatch.setenv("HTTPS_PROXY", "http://egress:p%40ss@proxy.internal:3128")
    assert proxy_from_environment("https://vibecode.bitrix24.tech/v1") == (
        "http://proxy.internal:3128",
        ("egress", "p@ss"),
    )
    assert isinstance(
        WatchClients(base_url="https://vibecode.bitrix24.tech/v1", connect_timeout=1).for_bot(1),
        httpcore.AsyncHTTPProxy,
    )
    assert proxy_from_environment("http://127.0.0.1:8100/v1") is None  # no HTTP_PROXY for plain http

    monkeypatch.setenv("NO_PROXY", "bitrix24.tech")
    assert proxy_from_environment("https://vibecode.bitrix24.tech/v1") is None
