"""A redirect in front of the platform (a load balancer sending http to https, a moved API): never followed,
so the key and the session token never reach the host it names, and reported with where it points."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpcore
import pytest

from botcore.vibe import NoBudget, VibeClient, VibeProtocolError
from botcore.vibe.watch import WatchAuth, watch_events

APP_KEY = "vibe_app_" + "k" * 40
SESSION = "vibe_session_" + "s" * 40


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[HTTPServer, str]:
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def other_host() -> Iterator[tuple[str, list[dict]]]:
    """Another host, which records whatever reaches it."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"success": true, "data": {}}')

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server, url = serve(Handler)
    yield url, seen
    server.shutdown()


@pytest.fixture(params=[301, 302, 307, 308])
def redirecting(request, other_host) -> Iterator[tuple[str, str, list[dict], list[str]]]:
    """The platform's address answering every call with a redirect to the other host (quoting, in the query,
    the session token: a proxy may pass on what it was sent)."""
    target, seen = other_host
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(request.param)
            self.send_header("Location", f"{target}{self.path.split('?')[0]}?token={SESSION}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server, url = serve(Handler)
    yield f"{url}/v1", target, seen, asked
    server.shutdown()


def test_a_redirected_call_is_not_followed_and_says_where_it_points(redirecting):
    base_url, target, seen, asked = redirecting
    client = VibeClient(
        api_key=APP_KEY, session_token=SESSION, base_url=base_url, budget=NoBudget(), max_attempts=2,
        backoff_base=0.01,
    )  # fmt: skip
    with pytest.raises(VibeProtocolError) as failed:
        client.get_bot(7)
    text = str(failed.value)
    assert f"redirected to {target}/v1/bots/7" in text, text
    assert SESSION not in text and APP_KEY not in text
    assert len(asked) == 2 and seen == []  # retried where it was sent; nothing reached the other host
    with pytest.raises(VibeProtocolError, match="redirected to"):
        client.send_message(7, dialog_id="1", text="hi")
    assert len(asked) == 3 and seen == []


def test_a_redirected_watch_is_not_followed_and_says_where_it_points(redirecting):
    base_url, target, seen, _ = redirecting

    async def once():
        async with httpcore.AsyncConnectionPool() as pool:
            return await watch_events(
                pool, base_url=base_url, vibe_bot_id=7, auth=WatchAuth(APP_KEY, SESSION), offset=0
            )

    with pytest.raises(VibeProtocolError) as failed:
        asyncio.run(once())
    text = str(failed.value)
    assert f"redirected to {target}/v1/bots/7/events" in text, text
    assert SESSION not in text and seen == []


@pytest.mark.parametrize("padding", [120, 150, 170])
def test_a_redirect_quoting_the_token_in_a_long_path_shows_no_part_of_it(padding):
    """From a hostile-proxy probe: a Location quoting the session token in its path, long enough that the
    target's 200 characters ended inside the token, showed the token's first part: the scrub replaces the
    whole token only. A target cut short is cut at a path segment's end."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", f"https://elsewhere.example/{'x' * padding}/{SESSION}/{APP_KEY}/end")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server, url = serve(Handler)
    try:
        client = VibeClient(
            api_key=APP_KEY, session_token=SESSION, base_url=f"{url}/v1", budget=NoBudget(), max_attempts=1
        )
        with pytest.raises(VibeProtocolError) as failed:
            client.get_bot(7)
    finally:
        server.shutdown()
    text = str(failed.value)
    assert "redirected to https://elsewhere.example/xxx" in text, text
    assert "vibe_session_" not in text and "vibe_app_" not in text, text
