"""A proxy in front of the platform that compresses answers, whatever the call accepted (the watch accepts
what every call to the platform does, answers.ACCEPT_ENCODING). The watch read the gzip bytes as JSON and
failed every time, silently (a debug line): each bot's every watch became a queued poll cycle."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpcore
import pytest

from botcore.vibe import VibeProtocolError
from botcore.vibe.answers import ACCEPT_ENCODING
from botcore.vibe.watch import Waiting, WatchAuth, watch_events

ANSWER = {
    "success": True,
    "data": {
        "events": [{"eventId": 5, "type": "ONIMBOTV2MESSAGEADD", "date": "2026-01-01T00:00:00+00:00"}],
        "nextOffset": 6,
        "hasMore": False,
    },
}
ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as the RFC says
    "raw-deflate": lambda body: zlib.compress(body, wbits=-zlib.MAX_WBITS),  # as some servers send it
}


@pytest.fixture
def compressing() -> Iterator[tuple[str, dict]]:
    """A platform whose every answer is compressed as `how["encoding"]` says, whatever the request asked."""
    how: dict = {"encoding": "gzip", "body": json.dumps(ANSWER).encode(), "asked": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            how["asked"].append(self.headers.get("Accept-Encoding"))
            encoding = how["encoding"]
            body = ENCODERS.get(encoding, lambda b: b)(how["body"])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "deflate" if encoding == "raw-deflate" else encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", how
    server.shutdown()


def watch(base_url: str) -> Waiting | None:
    async def once():
        async with httpcore.AsyncConnectionPool() as pool:
            return await watch_events(
                pool, base_url=base_url, vibe_bot_id=7, auth=WatchAuth("vibe_api_" + "k" * 40), offset=5
            )

    return asyncio.run(once())


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_an_answer_compressed_unasked_is_read_as_the_platforms(compressing, encoding):
    base_url, how = compressing
    how["encoding"] = encoding
    waiting = watch(base_url)
    assert waiting is not None and waiting.answer == ANSWER["data"]
    assert how["asked"] == [ACCEPT_ENCODING]  # as every call to the platform (the cycle's fetch too)


def test_an_answer_its_encoding_does_not_decode_is_a_protocol_error(compressing, monkeypatch):
    base_url, _ = compressing
    monkeypatch.setitem(ENCODERS, "gzip", lambda body: body)  # labelled gzip, sent plain
    with pytest.raises(VibeProtocolError, match="does not decode as its Content-Encoding"):
        watch(base_url)


def test_an_encoding_nothing_here_reads_is_read_as_it_came_as_httpx_does(compressing):
    base_url, how = compressing
    how["encoding"] = "br"  # no brotli here: plain JSON under a label nothing here decodes
    waiting = watch(base_url)
    assert waiting is not None and waiting.answer == ANSWER["data"]


def test_a_compressed_answer_past_the_limit_once_decoded_is_not_read_on(compressing):
    """A small gzip of many zeros (a decompression bomb, or just a large answer) is held to the answer's limit
    as it is decoded, not after."""
    base_url, how = compressing
    how["body"] = b'{"success": true, "data": {"events": [], "p": "' + b"0" * (20 * 2**20) + b'"}}'
    with pytest.raises(VibeProtocolError, match="larger than 16 MiB"):
        watch(base_url)
