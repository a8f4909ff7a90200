"""A service on loopback for tests of a skill's outside calls: it counts the requests that reached it, so a
refused call is proved to have sent nothing; and a resolver that answers names of the test's own."""

import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# This checkout's own range; TEST_LOOPBACK_PORTS ("18300-18399") gives another (checkouts run side by side).
_FIRST, _LAST = (int(part) for part in os.environ.get("TEST_LOOPBACK_PORTS", "18950-18999").split("-"))
PORTS = range(_FIRST, _LAST + 1)


class Listener:
    """An HTTP server on 127.0.0.1 counting requests; it answers 201 (with `body`, a byte every `drip_seconds`
    where set: a server holding the call open), or redirects to `redirect_to`."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.redirect_to = ""
        self.body = b'{"key": "INTERNAL-1"}'
        self.drip_seconds = 0.0
        self.dripped = 0  # bytes of a dripped body sent so far
        self.headers: dict[str, str] = {}  # more of the answer's headers
        self.request_headers: list[dict[str, str]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                listener.requests.append(self.path)
                listener.request_headers.append({name.lower(): value for name, value in self.headers.items()})
                if listener.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", listener.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = listener.body
                self.send_response(201)
                self.send_header("Content-Length", str(len(body)))
                for name, value in listener.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not listener.drip_seconds:
                    self.wfile.write(body)
                    return
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    listener.dripped += 1
                    time.sleep(listener.drip_seconds)

            def log_message(self, *args: object) -> None:
                pass

        for port in PORTS:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:
            raise RuntimeError(f"no free port in {_FIRST}-{_LAST}")
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/issues"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener(settings):
    """A Listener whose port an operator allowed (BOTCORE_OUTSIDE_PORTS_ALLOWED): whether a call reaches it
    is its host's to decide."""
    started = Listener()
    allowed = getattr(settings, "BOTCORE_OUTSIDE_PORTS_ALLOWED", [])
    settings.BOTCORE_OUTSIDE_PORTS_ALLOWED = [*allowed, started.port]
    yield started
    started.close()


@pytest.fixture
def second_listener(settings, listener):
    started = Listener()
    settings.BOTCORE_OUTSIDE_PORTS_ALLOWED = [*settings.BOTCORE_OUTSIDE_PORTS_ALLOWED, started.port]
    yield started
    started.close()


@pytest.fixture
def resolver(monkeypatch):
    """Names of our own, resolved to the addresses given (a DNS answer an attacker controls); any other
    name or address resolves as it would."""
    names: dict[str, list[str]] = {}
    original = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port),
                )
                for address in names[host]
            ]
        return original(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names
