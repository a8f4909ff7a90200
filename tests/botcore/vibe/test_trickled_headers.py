"""An answer whose status line and headers trickle in (a proxy's, a byte at a time, each byte sooner than the
read timeout) ends at the caller's deadline as the body's trickle does: the deadline held only once the
headers were in, and h11 waits for 16 KiB of them (27 minutes at a byte per 100 ms) before it gives up."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from botcore.vibe import NoBudget, VibeClient, VibeTransportError

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
