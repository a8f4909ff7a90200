"""What every call to the platform accepts compressed (answers.ACCEPT_ENCODING), and a compressed answer
bounded as it is decoded, against the sandbox: its `gzip-answers` dialect compresses as a proxy in front of
the platform would, and it records what each call accepted."""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

from botcore.vibe.answers import ACCEPT_ENCODING, MAX_ANSWER_BYTES
from botcore.vibe.errors import VibeProtocolError
from botcore.vibe.parse import read_event_batch
from sandbox.faults import GZIP_BOMB_BYTES
from tests.botcore.vibe.test_watch import watch, watch_auth

EVENTS = "/v1/bots/{bot_id}/events"


@pytest.mark.parametrize("key_mode", ["personal"])
def test_the_sandbox_compresses_only_what_a_call_accepts_compressed(world, client, bot, key_mode):
    world.control.dialects("gzip-answers")
    url = f"{world.base_url}/bots/{bot.id}/events"
    headers = {"X-Api-Key": world.personal_key}
    with httpx.Client(timeout=5) as raw:
        asked = raw.get(url, params={"limit": 100}, headers={**headers, "Accept-Encoding": "gzip"})
        plain = raw.get(url, params={"limit": 100}, headers={**headers, "Accept-Encoding": "identity"})
    assert (asked.status_code, asked.headers["content-encoding"]) == (200, "gzip")
    assert asked.json()["success"] is True  # httpx decoded it
    assert "content-encoding" not in plain.headers and plain.json()["success"] is True


@pytest.mark.parametrize("key_mode", ["personal"])
def test_the_watch_and_the_cycle_s_fetch_accept_the_same_encodings(world, client, bot, key_mode):
    """The cycle's fetch (httpx) accepted gzip and deflate, and the poller's watch nothing: two answers to one
    question, so a platform that compresses sent the same batch two ways. Counted on the sandbox's record of
    what each call accepted; both batches read whole from the compressed answers."""
    world.control.dialects("gzip-answers")
    offset = client.get_events(bot.id, limit=100).next_offset
    client.get_events(bot.id, offset=offset, limit=1)  # the join events acknowledged
    for n in range(30):
        world.control.user_says(world.admin_id, f"message {n}", bot_id=bot.id)
    waiting = watch(world.base_url, bot.id, watch_auth(world, key_mode), offset=offset, limit=100)
    fetched = client.get_events(bot.id, offset=offset, limit=100)
    assert [event.message.text for event in fetched.events[-30:]] == [f"message {n}" for n in range(30)]
    assert waiting is not None and waiting.answer is not None
    assert read_event_batch(waiting.answer, bot_id=bot.id) == fetched
    events_calls = [c for c in world.control.calls(botId=bot.id) if c["path"] == EVENTS.format(bot_id=bot.id)]
    assert len(events_calls) == 4
    assert {call["acceptEncoding"] for call in events_calls} == {ACCEPT_ENCODING}


@pytest.mark.parametrize("key_mode", ["personal"])
def test_a_compressed_answer_is_bounded_as_it_is_decoded_not_after(world, client, bot, key_mode):
    """A small gzip answer that unpacks a thousandfold (64 KiB to 64 MiB) is refused past MAX_ANSWER_BYTES
    decoded. httpx's own decoder unpacked each chunk read whole before the bound saw it: 64 MiB held at once
    for an answer refused at 16. Measured as the most memory Python held during the call."""
    assert GZIP_BOMB_BYTES > 2 * MAX_ANSWER_BYTES
    world.control.fault(path=EVENTS, garbageRate=1.0, garbageKind="gzip-bomb")
    once = world.client(key_mode, max_attempts=1)  # one answer measured, not a retry's beside it
    try:
        with pytest.raises(VibeProtocolError, match="larger than 16 MiB"):
            once.get_events(bot.id, limit=100)  # the sandbox builds its bomb once, outside the measure
        tracemalloc.start()
        try:
            with pytest.raises(VibeProtocolError, match="larger than 16 MiB"):
                once.get_events(bot.id, limit=100)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        once.close()
    assert peak < MAX_ANSWER_BYTES + 8 * 2**20, f"{peak / 2**20:.0f} MiB held at once"
