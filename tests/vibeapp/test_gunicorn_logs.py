"""With VIBE_LOG_FORMAT=json the web process writes only JSON lines: gunicorn's own start and stop and its
access lines too (they were text beside the app's JSON, which a log shipper reading JSON could not parse).
An access line names the gateway's request id, as the app's lines for that request do."""

from __future__ import annotations

import json

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
