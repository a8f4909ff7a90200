"""Runs the sandbox: as the `runsandbox` command's foreground server, or on a thread inside a test run."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TypeVar

import uvicorn

from sandbox.dialects import parse_dialects
from sandbox.server import Services, build_app, make_services

T = TypeVar("T")
log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Server(uvicorn.Server):
    """A uvicorn server that runs `before_shutdown` as its shutdown starts (before connections are asked to
    close and running requests get their grace period)."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets=None) -> None:
        if self.before_shutdown is not None:
            self.before_shutdown()
        await super().shutdown(sockets=sockets)


def _server(
    app, host: str, port: int, before_shutdown: Callable[[], None] | None = None, **overrides
) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        timeout_keep_alive=75,
        # On SIGTERM, answers in progress get this long (held long-polls are answered first, see
        # Services.close_long_polls), so the stop (and the state save) never waits for a slow one.
        timeout_graceful_shutdown=2,
        backlog=4096,
        **overrides,
    )
    return _Server(config, before_shutdown)


def build_servers(
    services: Services,
    *,
    host: str,
    port: int,
    gateway_port: int | None = None,
    app_url: str | None = None,
    app_key: str | None = None,
) -> list[uvicorn.Server]:
    servers = [
        _server(
            build_app(services, gateway_port=gateway_port),
            host,
            port,
            before_shutdown=services.close_long_polls,
        )
    ]
    if gateway_port:
        from sandbox.gateway import build_gateway

        gateway = build_gateway(services, app_url=app_url or "http://127.0.0.1:8000", app_key=app_key)
        # The gateway passes the app's own Date and Server headers through, so uvicorn must not add a second
        # pair; and it is the edge, so a client's X-Forwarded-For must not become its idea of the client.
        servers.append(
            _server(gateway, host, gateway_port, server_header=False, date_header=False, proxy_headers=False)
        )
    return servers


async def serve(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(server.serve() for server in servers))


class SandboxThread:
    """The sandbox on a background thread with its own event loop, reachable over real HTTP on loopback.

    `dialects` (names, or "a,b") are spoken from the start and after every reset.
    `run_in_loop(fn)` runs `fn(services)` on the sandbox's loop (its state is single-threaded) and returns
    the result: tests use it to seed or inspect state directly where the control API is not the point.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        gateway: bool = False,
        app_url: str | None = None,
        app_key: str | None = None,
        dialects: str | Iterable[str] = (),
    ) -> None:
        self.host = host
        self.port = free_port(host)
        self.gateway_port = free_port(host) if gateway else None
        self.services = make_services(dialects=parse_dialects(dialects))
        self._servers = build_servers(
            self.services,
            host=host,
            port=self.port,
            gateway_port=self.gateway_port,
            app_url=app_url,
            app_key=app_key,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox", daemon=True)

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def gateway_url(self) -> str | None:
        return f"http://{self.host}:{self.gateway_port}" if self.gateway_port else None

    def _run(self) -> None:
        import uvloop

        self._loop = uvloop.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(serve(self._servers))

    def start(self) -> SandboxThread:
        self._thread.start()
        for _ in range(500):
            if all(server.started for server in self._servers):
                return self
            if not self._thread.is_alive():
                break
            time.sleep(0.01)
        raise RuntimeError("the sandbox did not start")

    def run_in_loop(self, fn: Callable[[Services], T]) -> T:
        assert self._loop is not None
        future: Future[T] = Future()

        def call() -> None:
            try:
                future.set_result(fn(self.services))
            except BaseException as exc:  # noqa: BLE001 (handed back to the calling thread)
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(call)
        return future.result(timeout=10)

    def reset(self) -> None:
        self.run_in_loop(lambda services: services.reset())

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        self._thread.join(timeout=10)
