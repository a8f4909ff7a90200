"""A client that sends part of a request and then nothing does not keep the web process from answering:
as many such connections as it has threads held every thread until they hung up, /healthz included."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.vibeapp.gunicorn_server import production_web_env, served_by_gunicorn

pytestmark = pytest.mark.slow


def test_connections_that_stop_mid_request_do_not_hold_every_thread(tmp_path):
    out_path = tmp_path / "out.log"
    env = production_web_env(tmp_path, VIBE_WEB_THREADS="2", VIBE_WEB_READ_PAUSE_SECONDS="2")
    with out_path.open("w") as out, served_by_gunicorn(env, stdout=out, stderr=out) as base:
        host, port = env["VIBE_WEB_BIND"].split(":")
        stalled = [socket.create_connection((host, int(port)), timeout=60) for _ in range(4)]
        try:
            for conn in stalled:  # a request's first lines, never its end
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            # Before, this waited for as long as the stalled connections stayed open (60 s here).
            assert httpx.get(f"{base}/healthz", timeout=60).status_code == 200
            # Each stalled connection was ended by the web process, not left waiting.
            assert [conn.recv(100) for conn in stalled] == [b""] * len(stalled)
        finally:
            for conn in stalled:
                conn.close()
    written = out_path.read_text()
    # The client's doing, each a WARNING: not gunicorn's ERROR with a traceback, one for each connection.
    assert written.count("WARNING] request ended: its client stopped sending") == len(stalled)
    assert "Traceback" not in written
    assert "ERROR" not in written
