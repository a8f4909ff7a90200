"""With VIBE_LOG_FORMAT=json the web process writes only JSON lines: gunicorn's own start and stop and its
access lines too (they were text beside the app's JSON, which a log shipper reading JSON could not parse).
An access line names the gateway's request id, as the app's lines for that request do; in text as in JSON,
no token a client sent (in the path, the request id header, a refused request line) is written."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.vibeapp.gunicorn_server import production_web_env, served_by_gunicorn

pytestmark = pytest.mark.slow


def test_every_line_of_the_web_process_is_json(tmp_path):
    out_path, err_path = tmp_path / "out.log", tmp_path / "err.log"
    env = production_web_env(tmp_path, VIBE_LOG_FORMAT="json")
    with (
        out_path.open("w") as out,
        err_path.open("w") as err,
        served_by_gunicorn(env, stdout=out, stderr=err) as base,
    ):
        assert httpx.get(f"{base}/?next=/secret-query", timeout=5).status_code == 200
        # The gateway's request id: the app's own lines for the request carry it, and so must the access line.
        assert httpx.get(f"{base}/", headers={"X-Vibe-Request-Id": "req-7f3a"}, timeout=5).status_code == 200
    lines = [line for path in (out_path, err_path) for line in path.read_text().splitlines() if line.strip()]
    assert [line for line in lines if not line.startswith("{")] == []
    records = [json.loads(line) for line in lines]
    loggers = {record.get("logger") for record in records}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers
    access = [r["message"] for r in records if r.get("logger") == "gunicorn.access"]
    assert any('"GET / ' in message for message in access)
    assert any('"GET / ' in message and "request_id=req-7f3a" in message for message in access)
    assert not any("secret-query" in line for line in lines)  # the access format never logs a query string


def _raw_request(base: str, head: bytes) -> None:
    """Send a request head as given (httpx would refuse or encode what a client may still send)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head)
        conn.recv(100)  # gunicorn's answer (a 400 for a request line it refuses): the line is written by then


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_web_process_writes_no_secret_nor_forged_request_id_a_client_sent(tmp_path, log_format):
    # The access line quotes the request id header and the path as a client sent them, and gunicorn's own
    # line quotes a request line it refuses: text mode (the default) wrote each unredacted, and either mode
    # wrote any request id, so a client could forge a line's fields ("req_1 status=500") or another's id.
    out_path, err_path = tmp_path / "out.log", tmp_path / "err.log"
    env = production_web_env(tmp_path, VIBE_LOG_FORMAT=log_format)
    session, bearer = "vibe_session_" + "S3ss10nT0ken" * 3, "Zm9yZ2VkQmVhcmVyVG9rZW4x"
    with (
        out_path.open("w") as out,
        err_path.open("w") as err,
        served_by_gunicorn(env, stdout=out, stderr=err) as base,
    ):
        for request_id in (f"Bearer {bearer}", session):
            answer = httpx.get(f"{base}/healthz", headers={"X-Vibe-Request-Id": request_id}, timeout=5)
            assert answer.status_code == 200
        assert httpx.get(f"{base}/{session}/", timeout=5).status_code == 404
        refused_line = b"GET /oauth/callback/?code=C0deS3cret42&state=\x1b HTTP/1.1\r\n"
        _raw_request(base, refused_line + b"Host: 127.0.0.1\r\n\r\n")
    written = out_path.read_text() + err_path.read_text()
    assert "Invalid HTTP request line" in written  # gunicorn's line for the refused request is there
    for secret in (session.removeprefix("vibe_session_"), bearer, "C0deS3cret42"):
        assert secret not in written
    assert "request_id=Bearer" not in written
