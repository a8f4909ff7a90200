"""Throughput of the sandbox's GET /v1/bots/{id}/events, against trivial JSON answers of the same stack.

Run: `.venv/bin/python benchmarks/sandbox_throughput.py [--duration 4] [--rounds 2] [--connections 64]`

The sandbox runs in its own process exactly as `manage.py runsandbox` runs it (uvicorn, uvloop,
httptools, Starlette), seeded with 1,000 bots under 10 personal keys, a tenth of them with
unacknowledged events, and a per-key rate limit raised out of the way (the limiter still runs on every
call, so its cost counts). A separate process drives it with a minimal asyncio HTTP/1.1 keep-alive
client (no parsing beyond the status line and Content-Length), so the load generator is not what is
measured; the summary shows both processes' CPU use. Two baselines share the server process and stack:
a one-route Starlette app answering a fixed JSON envelope on its own port (the ceiling: the server
doing nothing), and the sandbox's own JSON 404 (which tries every route first and raises). Each phase
warms up, then counts complete responses for `--duration` seconds; phases alternate for `--rounds`
rounds and the best of each kind is kept, because other work on a shared machine only slows a phase.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field

BOTS = 1000
KEYS = 10  # at most 100 bots per key and portal (CONTRACT part A §10)
EVENTFUL_EVERY = 10  # every tenth bot has unacknowledged events waiting
EVENTS_EACH = 5
TARGET_RPS = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the sandbox process -------------------------------------------------------------------------------
def seed(services) -> list[tuple[int, str]]:
    """1,000 bots over 10 keys on one portal, some with pending events; [(bot id, key)]."""
    from sandbox import activity

    platform = services.platform
    platform.default_rate_limit = 1e9
    portal = platform.create_portal(domain="bench.bitrix24.com")
    writer = platform.create_user(portal, name="Load Writer")
    bots = []
    for k in range(KEYS):
        owner = platform.create_user(portal, name=f"Owner {k}", is_admin=True)
        key = platform.issue_personal_key(owner)
        for b in range(BOTS // KEYS):
            code = f"bench_{k}_{b}"
            bot = platform.add_bot(owner_key=key.value, portal_id=portal.id, code=code, name="Bench")
            bots.append((bot.id, key.value))
    for bot_id, _ in bots[::EVENTFUL_EVERY]:
        bot = platform.bots[bot_id]
        chat = activity.open_private_chat(platform, user=writer, bot=bot)
        for n in range(EVENTS_EACH - 1):
            activity.send_user_message(platform, user=writer, chat=chat, text=f"load message {n}")
    return bots


def minimal_server(port: int):
    """A one-route Starlette app on the sandbox's uvicorn settings: the stack's ceiling."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def ping(request) -> JSONResponse:
        return JSONResponse({"success": True, "data": {"events": [], "nextOffset": 0, "hasMore": False}})

    app = Starlette(routes=[Route("/v1/ping", ping)])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
    )
    return uvicorn.Server(config)


def run_sandbox(port: int, minimal_port: int, conn) -> None:
    import uvloop

    from sandbox.runner import build_servers, serve
    from sandbox.server import make_services

    services = make_services()
    conn.send(seed(services))
    servers = build_servers(services, host="127.0.0.1", port=port)
    uvloop.run(serve([*servers, minimal_server(minimal_port)]))


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the sandbox did not start listening")


# --- the load generator process ------------------------------------------------------------------------
@dataclass
class Plan:
    """One phase of load: what to send, over how many connections, for how long."""

    server_pid: int
    port: int
    requests: list[bytes]
    connections: int
    warmup: float
    duration: float


@dataclass
class Tally:
    done: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    counting: bool = False


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


class KeepAliveClient(asyncio.Protocol):
    """One connection sending the next request as soon as the previous response is complete."""

    def __init__(self, requests: list[bytes], start: int, tally: Tally, closed: asyncio.Future) -> None:
        self.requests = requests
        self.index = start
        self.tally = tally
        self.closed = closed
        self.buffer = b""
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.send_next()

    def send_next(self) -> None:
        self.index = (self.index + 1) % len(self.requests)
        self.sent_at = time.perf_counter()
        self.transport.write(self.requests[self.index])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (head_end := self.buffer.find(b"\r\n\r\n")) >= 0:
            end = head_end + 4 + content_length(self.buffer[:head_end])
            if len(self.buffer) < end:
                return
            status = int(self.buffer[9:12])  # "HTTP/1.1 200 ..."
            self.buffer = self.buffer[end:]
            if self.tally.counting:
                self.tally.done += 1
                self.tally.statuses[status] = self.tally.statuses.get(status, 0) + 1
                self.tally.latencies.append(time.perf_counter() - self.sent_at)
            self.send_next()

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(plan: Plan) -> dict:
    loop = asyncio.get_running_loop()
    tally = Tally()
    closers = []
    for n in range(plan.connections):
        closed = loop.create_future()
        start = n * 7  # connections start at different bots

        def client(start=start, closed=closed) -> KeepAliveClient:
            return KeepAliveClient(plan.requests, start, tally, closed)

        await loop.create_connection(client, "127.0.0.1", plan.port)
        closers.append(closed)
    await asyncio.sleep(plan.warmup)
    tally.counting = True
    started, own_cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(plan.server_pid)
    await asyncio.sleep(plan.duration)
    tally.counting = False
    elapsed = time.perf_counter() - started
    own_cpu, server_cpu = time.process_time() - own_cpu, cpu_seconds(plan.server_pid) - server_cpu
    latencies = sorted(tally.latencies) or [0.0]
    return {
        "rps": tally.done / elapsed,
        "requests": tally.done,
        "statuses": tally.statuses,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "closed_connections": sum(1 for c in closers if c.done()),
        "loader_cpu": own_cpu / elapsed,
        "server_cpu": server_cpu / elapsed,
    }


def run_load(plan: Plan, out) -> None:
    import uvloop

    out.put(uvloop.run(drive(plan)))


def measure(plan: Plan) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    loader = ctx.Process(target=run_load, args=(plan, out))
    loader.start()
    result = out.get(timeout=plan.warmup + plan.duration + 60)
    loader.join()
    return result


def request_bytes(path: str, key: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\nAccept: */*\r\n\r\n".encode()


def report(name: str, result: dict) -> None:
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(result["statuses"].items()))
    print(
        f"  {name:<34} {result['rps']:>9,.0f} req/s   p50 {result['p50_ms']:6.2f} ms   "
        f"p99 {result['p99_ms']:6.2f} ms   ({result['requests']:,} responses; {statuses})"
    )
    cpu = f"CPU busy: server {result['server_cpu']:.0%}, load generator {result['loader_cpu']:.0%}"
    print(f"  {'':<34} {cpu}; connections closed by the server: {result['closed_connections']}")


def best_of(rounds: int, plans: dict[str, Plan]) -> dict[str, dict]:
    """Alternate the phases `rounds` times; keep each phase's best run."""
    runs: dict[str, list[dict]] = {name: [] for name in plans}
    for _ in range(max(1, rounds)):
        for name, plan in plans.items():
            runs[name].append(measure(plan))
    return {name: max(results, key=lambda r: r["rps"]) for name, results in runs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds counted per phase")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before counting starts")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections of the load")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    port, minimal_port = free_port(), free_port()
    receive, send = ctx.Pipe(duplex=False)
    server = ctx.Process(target=run_sandbox, args=(port, minimal_port, send), daemon=True)
    server.start()
    try:
        bots = receive.recv()
        wait_for_port(port)
        wait_for_port(minimal_port)
        load = {
            "server_pid": server.pid,
            "connections": args.connections,
            "warmup": args.warmup,
            "duration": args.duration,
        }
        key = bots[0][1]
        polls = [request_bytes(f"/v1/bots/{bot_id}/events", bot_key) for bot_id, bot_key in bots]
        results = best_of(
            args.rounds,
            {
                "minimal": Plan(port=minimal_port, requests=[request_bytes("/v1/ping", key)], **load),
                "404": Plan(port=port, requests=[request_bytes("/v1/no-such-endpoint", key)], **load),
                "events": Plan(port=port, requests=polls, **load),
            },
        )
    finally:
        server.terminate()
        server.join(timeout=10)

    events = results["events"]
    print(
        f"Sandbox throughput: {len(bots)} bots ({len(bots[::EVENTFUL_EVERY])} with {EVENTS_EACH} pending "
        f"events each), {args.connections} keep-alive connections, best of {max(1, args.rounds)} x "
        f"{args.duration:g} s per phase, one server process"
    )
    report("baseline: one-route Starlette JSON", results["minimal"])
    report("baseline: the sandbox's JSON 404", results["404"])
    report("GET /v1/bots/{id}/events", events)
    for name, label in (("minimal", "one-route JSON"), ("404", "JSON 404")):
        print(f"  events / {label}: {events['rps'] / results[name]['rps']:.2f}")
    ok = events["rps"] >= TARGET_RPS and set(events["statuses"]) == {200}
    print(f"  target >= {TARGET_RPS:,} req/s with only 200s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
