"""How much the VibeClient costs per call: its calls/s against the sandbox beside a bare httpx loop.

    .venv/bin/python benchmarks/client_overhead.py [--calls 3000] [--rounds 5] [--events 20] \
        [--in-process] [--profile]

Both loops make the same calls in the same order (a mix of reads and writes a poller and its skills
make: poll events, list commands, send a message with a keyboard, register a command, show typing).
Each poll reads the same `--events` user messages (set up once and never acknowledged: the polls send no
offset), so the client's reading of events into typed objects is part of what is measured
over one keep-alive httpx.Client each, configured alike, with an app key *and* a session token, and
both decode every JSON answer. The client runs its whole stack: typed arguments, UTF-8 JSON encoding,
tenacity's retry wrapper, error mapping, typed results; only the request budget is turned off
(NoBudget), because pacing to 9 requests/s would measure the budget, not the client; and the sandbox's
per-key rate limit is raised out of the way for the same reason.

The sandbox runs as a subprocess by default (`manage.py runsandbox`), so it does not compete with the
measured loops for this process's GIL; `--in-process` runs it on a thread here instead (SandboxThread).
Rounds alternate bare and client loops (and which goes first). It prints what it ran (commit, Python,
the parsing library, cores, load average, the machine's speed), then per loop the median and the best
round, the ratio of the client's time per call over the bare loop's (on medians and on best rounds), and
each loop's CPU time per call in this process: on a busy machine the CPU figures are the steadier ones. The
mix avoids calls whose cost in the sandbox grows with the number of messages sent (bot objects count them),
which would penalise whichever loop runs later. The goal is a ratio within 1.2.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")

from benchmarks.machine import commit, describe_machine  # noqa: E402
from benchmarks.sandbox_process import wait_for_sandbox  # noqa: E402
from botcore.vibe import Keyboard, NoBudget, VibeClient  # noqa: E402
from botcore.vibe.http_clients import make_http_client  # noqa: E402
from sandbox.runner import free_port  # noqa: E402

TEXT = "Отчёт готов ✅ — see the [b]summary[/b]"


def start_sandbox(in_process: bool) -> tuple[str, Callable[[], None]]:
    """The sandbox's root URL and a function that stops it."""
    if in_process:
        from sandbox.runner import SandboxThread

        thread = SandboxThread().start()
        return thread.root_url, thread.stop
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runsandbox", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        wait_for_sandbox(process, root)
    except SystemExit:
        process.kill()
        raise

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return root, stop


def set_up(root: str, events: int) -> dict:
    """A portal, a user, an app key with a session, a bot, and an open dialog; the limit out of the way."""
    control = httpx.Client(base_url=f"{root}/_sandbox", timeout=10)

    def post(path: str, body: dict) -> dict:
        response = control.post(path, json=body)
        response.raise_for_status()
        return response.json()["data"]

    portal = post("/portals", {"domain": "bench.bitrix24.com"})["portal"]
    user = post(f"/portals/{portal['id']}/users", {"name": "Bench User"})["user"]
    app_key = post("/apps", {"name": "Bench"})["key"]
    token = post("/sessions", {"appKey": app_key, "userId": user["id"]})["token"]
    post("/rate-limit", {"perSecond": 1_000_000})
    client = VibeClient(api_key=app_key, session_token=token, base_url=f"{root}/v1", budget=NoBudget())
    bot = client.register_bot(code="bench", name="Bench")
    post("/act/open", {"userId": user["id"], "botId": bot.id})
    for number in range(events):
        post("/act/messages", {"userId": user["id"], "botId": bot.id, "text": f"{TEXT} #{number}"})
    client.close()
    control.close()
    return {"key": app_key, "token": token, "bot_id": bot.id, "dialog_id": str(user["id"])}


def http_client() -> httpx.Client:
    return make_http_client(connect_timeout=5, read_timeout=30)


def client_loop(base_url: str, world: dict, calls: int) -> Callable[[], None]:
    client = VibeClient(
        api_key=world["key"],
        session_token=world["token"],
        base_url=base_url,
        http=http_client(),
        budget=NoBudget(),
    )
    bot_id, dialog_id = world["bot_id"], world["dialog_id"]
    keyboard = Keyboard().button("Again", send="again", color="primary")

    def run() -> None:
        for i in range(calls):
            step = i % 5
            if step == 0:
                client.get_events(bot_id, limit=100)
            elif step == 1:
                client.list_commands(bot_id)
            elif step == 2:
                client.send_message(bot_id, dialog_id=dialog_id, text=TEXT, keyboard=keyboard)
            elif step == 3:
                client.register_command(bot_id, command="ping", title="Ping")
            else:
                client.show_typing(bot_id, dialog_id=dialog_id, status="IMBOT_AGENT_ACTION_THINKING")

    return run


def bare_loop(base_url: str, world: dict, calls: int) -> Callable[[], None]:
    http = http_client()
    headers = {"X-Api-Key": world["key"], "Authorization": f"Bearer {world['token']}"}
    body_headers = {**headers, "Content-Type": "application/json; charset=utf-8"}
    bot_url = f"{base_url}/bots/{world['bot_id']}"
    keyboard = [{"TEXT": "Again", "ACTION": "SEND", "ACTION_VALUE": "again", "BG_COLOR_TOKEN": "primary"}]

    def post(method: str, url: str, body: dict) -> dict:
        content = json.dumps(body, ensure_ascii=False).encode()
        response = http.request(method, url, content=content, headers=body_headers)
        payload = response.json()
        assert payload["success"], payload
        return payload["data"]

    def get(url: str, params: dict | None = None) -> dict:
        payload = http.get(url, params=params, headers=headers).json()
        assert payload["success"], payload
        return payload["data"]

    def run() -> None:
        for i in range(calls):
            step = i % 5
            if step == 0:
                get(f"{bot_url}/events", {"limit": 100})
            elif step == 1:
                get(f"{bot_url}/commands")
            elif step == 2:
                message = {"dialogId": world["dialog_id"], "fields": {"message": TEXT, "keyboard": keyboard}}
                post("POST", f"{bot_url}/messages", message)
            elif step == 3:
                post("POST", f"{bot_url}/commands", {"command": "ping", "title": "Ping"})
            else:
                typing = {"dialogId": world["dialog_id"], "statusMessageCode": "IMBOT_AGENT_ACTION_THINKING"}
                post("POST", f"{bot_url}/typing", typing)

    return run


CPU_TIMES: dict[str, list[float]] = {"bare": [], "client": []}


def timed(run: Callable[[], None], loop: str) -> float:
    """Wall seconds of one round; its CPU seconds in this process go to CPU_TIMES[loop]."""
    started, cpu_started = time.perf_counter(), time.process_time()
    run()
    CPU_TIMES[loop].append(time.process_time() - cpu_started)
    return time.perf_counter() - started


def describe() -> str:
    wire = ROOT / "botcore" / "vibe" / "wire.py"  # where the parsing library is used, if it is
    parsing = f"pydantic {metadata.version('pydantic')}" if wire.exists() else "hand-written mappings"
    return f"client_overhead at {commit()}; parsing: {parsing}\n{describe_machine()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per loop per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=20, help="user messages every poll reads")
    parser.add_argument(
        "--in-process", action="store_true", help="run the sandbox on a thread of this process"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile one client round (top 25 by own time)"
    )
    args = parser.parse_args()

    print(describe())
    root, stop = start_sandbox(args.in_process)
    try:
        world = set_up(root, args.events)
        base_url = f"{root}/v1"
        bare = bare_loop(base_url, world, args.calls)
        client = client_loop(base_url, world, args.calls)
        bare_loop(base_url, world, 200)()  # warm up the server, the connections and both code paths
        client_loop(base_url, world, 200)()
        bare_times, client_times = [], []
        for round_number in range(args.rounds):
            # Alternate which loop goes first, so a server that slows as its state grows favours neither.
            if round_number % 2:
                client_times.append(timed(client, "client"))
                bare_times.append(timed(bare, "bare"))
            else:
                bare_times.append(timed(bare, "bare"))
                client_times.append(timed(client, "client"))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(client)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        stop()

    mode = "in-process thread" if args.in_process else "subprocess"
    print(
        f"sandbox: {mode}; {args.calls} calls per loop, {args.rounds} rounds; request budget off (NoBudget), "
        f"per-key rate limit raised to 1e6/s"
    )
    print(f"mix: events ({args.events} per poll), list commands, send message, register command, typing")
    bare_median, client_median = statistics.median(bare_times), statistics.median(client_times)
    print("calls/s            median     best")
    print(f"bare httpx loop  {args.calls / bare_median:8.0f} {args.calls / min(bare_times):8.0f}")
    print(f"VibeClient       {args.calls / client_median:8.0f} {args.calls / min(client_times):8.0f}")
    # Time per call of the client over the bare loop's: above 1 the client costs more.
    on_median, on_best = client_median / bare_median, min(client_times) / min(bare_times)
    verdict = "met" if on_best <= 1.2 else "MISSED"
    print(
        f"ratio client/bare time per call: median {on_median:.3f}, best {on_best:.3f}"
        f"  (goal <= 1.2: {verdict})"
    )
    # This process's CPU per call: what the client itself costs, which the sandbox's and other processes'
    # share of a busy machine skews far less than wall time.
    bare_cpu, client_cpu = (
        statistics.median(CPU_TIMES[loop]) / args.calls * 1e6 for loop in ("bare", "client")
    )
    print(
        f"CPU µs per call in this process, median of rounds: bare {bare_cpu:.0f}, client {client_cpu:.0f} "
        f"(client/bare {client_cpu / bare_cpu:.3f})"
    )


if __name__ == "__main__":
    main()
