"""A service on loopback for tests of a skill's outside calls: it counts the requests that reached it, so a
refused call is proved to have sent nothing; and a resolver that answers names of the test's own."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PORTS = range(18950, 19000)  # this checkout's own range


class Listener:
    """An HTTP server on 127.0.0.1 counting requests; it answers 201 (with `body`, a byte every `drip_seconds`
    where set: a server holding the call open), or redirects to `redirect_to`."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.redirect_to = ""
        self.body = b'{"key": "INTERNAL-1"}'
        self.drip_seconds = 0.0
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
            raise RuntimeError("no free port in 18950-18999")
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    started = Listener()
    yield started
    started.close()


@pytest.fixture
def second_listener():
    started = Listener()
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
