"""An answer whose status line and headers trickle in (a proxy's, a byte at a time, each byte sooner than the
read timeout) ends at the caller's deadline as the body's trickle does: the deadline held only once the
headers were in, and h11 waits for 16 KiB of them (27 minutes at a byte per 100 ms) before it gives up. So
does a request taken in slowly (botcore.vibe.call_bounds bounds the writes too)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from botcore.vibe import NoBudget, VibeClient, VibeTransportError
from botcore.vibe.http_clients import make_http_client
from botcore.vibe.transport import RetryClass, Transport

TRICKLED_BYTES = 80  # 8 s at a byte per 100 ms: a test of the old code fails rather than hangs


@pytest.fixture
def trickling_headers() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: ")
            for _ in range(TRICKLED_BYTES):
                if stop.is_set():
                    return
                try:
                    conn.sendall(b"a")
                except OSError:
                    return
                time.sleep(0.1)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    listener.close()


def test_headers_trickling_in_end_at_the_callers_deadline(trickling_headers):
    client = VibeClient(
        api_key="vibe_app_" + "k" * 40, base_url=trickling_headers, budget=NoBudget(), max_attempts=1,
        deadline=time.monotonic() + 1.5,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(VibeTransportError):
        client.get_bot(7)
    assert time.monotonic() - started < 4


SENT_BYTES = 32 * 1024 * 1024  # past what loopback's socket buffers take at once
TAKEN_PER_TENTH = 256 * 1024  # 13 s to take all of it


@pytest.fixture
def slow_reader() -> Iterator[tuple[str, list[int]]]:
    """A server taking a request in at TAKEN_PER_TENTH a tenth of a second, and never answering."""
    listener = socket.create_server(("127.0.0.1", 0))
    taken = [0]
    stop = threading.Event()

    def take(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(TAKEN_PER_TENTH)
                except OSError:
                    return
                if not data:
                    return
                taken[0] += len(data)
                time.sleep(0.1)

    def accept() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        take(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", taken
    stop.set()
    listener.close()


def test_a_request_taken_in_slowly_ends_at_the_callers_deadline(slow_reader):
    """The deadline bounded the answer's reads, not the request's writes: a server (or a proxy) taking each
    piece just within the write timeout held the call for as long as the body took. Told by what ended first:
    the body takes 13 s to go, and the call ends with most of it unsent."""
    url, taken = slow_reader
    transport = Transport(
        base_url=url, api_key="vibe_api_" + "k" * 40, session_token=None, http=make_http_client(),
        budget=NoBudget(), max_attempts=1, deadline=time.monotonic() + 1.5,
    )  # fmt: skip
    with pytest.raises(VibeTransportError, match="deadline"):
        transport.request("POST", "/bots", retry=RetryClass.UNSAFE, body={"pad": "x" * SENT_BYTES})
    # Written whole, all but what the sockets' buffers hold (some MiB) was taken in before the call ended.
    assert taken[0] < SENT_BYTES // 2, "the call ended at its deadline, with the request still going out"
