"""The mass-install benchmark: many portals open the app at once, and how soon each gets its bot and its
replies, against the same portals' replies once the storm is over.

    .venv/bin/python benchmarks/mass_install.py                 # 200 portals, the embedded default
    .venv/bin/python benchmarks/mass_install.py --portals 50    # a quicker look

It starts the whole system as `make run` does (`manage.py runstack`: the sandbox with its gateway, the web
app, the qcluster and the poller; SQLite and the ORM broker unless DATABASE_URL / REDIS_URL say otherwise)
on ports of its own, in a work directory of its own. Then every portal's admin opens the app through the
gateway (16 at a time), which installs the portal and queues its bot's provisioning; as soon as a portal's
bot exists on the platform, its admin writes to it. Printed: how long the opens took and how many were
refused, open-to-bot and message-to-reply percentiles during the storm, and the same admins writing again
once every bot is answered (the baseline: the same stack, the same bots, no install in flight), with the
storm's reply percentiles over the baseline's. The platform's limit is the sandbox's default (10 requests a
second per key, shared by every portal: the app key is one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import commit, describe_machine  # noqa: E402
from vibeapp.children import stop_groups  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def spread(values: list[float]) -> str:
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    return f"p50 {p50:.1f}s  p95 {p95:.1f}s  max {max(values, default=0):.1f}s"


def start_stack(workdir: Path, ports: dict[str, int]) -> subprocess.Popen:
    env = {
        **os.environ,
        "VIBE_VAR_DIR": str(workdir),
        "VIBE_WEB_PORT": str(ports["web"]),
        "VIBE_SANDBOX_PORT": str(ports["sandbox"]),
        "VIBE_GATEWAY_PORT": str(ports["gateway"]),
        "VIBE_BASE_URL": f"http://127.0.0.1:{ports['sandbox']}/v1",
    }
    log = (workdir / "stack.log").open("ab")
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runstack"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole at the end
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if b"is running" in (workdir / "stack.log").read_bytes():
            return stack
        if stack.poll() is not None:
            raise SystemExit(f"the stack stopped at start (see {workdir / 'stack.log'})")
        time.sleep(0.5)
    raise SystemExit(f"the stack did not start in 180 s (see {workdir / 'stack.log'})")


class Portals:
    """The benchmark's portals on the sandbox, their admins, and what happened to each."""

    def __init__(self, control: httpx.Client, gateway_url: str, count: int) -> None:
        self.control, self.gateway_url = control, gateway_url
        self.admins: dict[str, int] = {}
        stamp = int(time.time())
        for index in range(count):
            domain = {"domain": f"mass{index}-{stamp}.bitrix24.com"}
            portal = control.post("/_sandbox/portals", json=domain).json()["data"]["portal"]
            user = {"name": f"Admin {index}", "isAdmin": True}
            admin = control.post(f"/_sandbox/portals/{portal['id']}/users", json=user).json()["data"]["user"]
            self.admins[portal["id"]] = admin["id"]
        self.opened: dict[str, tuple[float, int]] = {}
        self.bot_of: dict[str, int] = {}
        self.bot_at: dict[str, float] = {}

    def open_app(self, portal_id: str) -> None:
        with httpx.Client(base_url=self.gateway_url, timeout=120, follow_redirects=True) as browser:
            started = time.monotonic()
            answer = browser.get("/_gateway/open", params={"userId": self.admins[portal_id]})
            self.opened[portal_id] = (started, answer.status_code)

    def find_bots(self) -> None:
        for bot in self.control.get("/_sandbox/state").json()["data"]["bots"]:
            portal_id = bot.get("portalId")
            if portal_id in self.admins and portal_id not in self.bot_of:
                self.bot_of[portal_id], self.bot_at[portal_id] = bot["id"], time.monotonic()


class Conversations:
    """Messages written to the bots, and when each was answered (a later bot message in its chat)."""

    def __init__(self, portals: Portals) -> None:
        self.portals = portals
        self.sent: dict[str, tuple[float, int, int]] = {}  # portal: (when, chat id, message id)
        self.answered: dict[str, float] = {}

    def write(self, portal_id: str, text: str) -> None:
        body = {
            "userId": self.portals.admins[portal_id],
            "botId": self.portals.bot_of[portal_id],
            "text": text,
        }
        message = self.portals.control.post("/_sandbox/act/messages", json=body).json()["data"]["message"]
        self.sent[portal_id] = (time.monotonic(), message["chatId"], message["id"])

    def look(self) -> None:
        for portal_id, (_, chat_id, message_id) in self.sent.items():
            if portal_id in self.answered:
                continue
            path = f"/_sandbox/chats/{chat_id}/messages"
            newest = self.portals.control.get(path, params={"limit": 5}).json()["data"]["messages"]
            admin = self.portals.admins[portal_id]
            if any(m["id"] > message_id and m.get("authorId") != admin for m in newest):
                self.answered[portal_id] = time.monotonic()

    def latencies(self) -> list[float]:
        return [self.answered[p] - self.sent[p][0] for p in self.answered]


def storm(portals: Portals, deadline: float) -> Conversations:
    """Every admin opens the app at once; each writes to its bot as soon as the bot exists."""
    talk = Conversations(portals)
    with ThreadPoolExecutor(16) as pool:
        opening = [pool.submit(portals.open_app, portal_id) for portal_id in portals.admins]
        while time.monotonic() < deadline and len(talk.answered) < len(portals.admins):
            portals.find_bots()
            for portal_id in portals.bot_of.keys() - talk.sent.keys():
                talk.write(portal_id, "hello")
            talk.look()
            time.sleep(0.5)
        for future in opening:
            future.result()
    return talk


def steady(portals: Portals, deadline: float) -> Conversations:
    """The same admins write again, a few a second, with nothing installing."""
    talk = Conversations(portals)
    for portal_id in portals.bot_of:
        talk.write(portal_id, "and again")
        talk.look()
        time.sleep(0.2)
    while time.monotonic() < deadline and len(talk.answered) < len(talk.sent):
        talk.look()
        time.sleep(0.5)
    return talk


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--portals", type=int, default=200)
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds the storm may take at most")
    parser.add_argument("--port-base", type=int, default=18600, help="web; +1 sandbox, +2 gateway")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (its stack.log)")
    args = parser.parse_args()
    ports = {"web": args.port_base, "sandbox": args.port_base + 1, "gateway": args.port_base + 2}
    workdir = Path(tempfile.mkdtemp(prefix="mass-install-"))
    print(f"mass-install benchmark at {commit()}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(describe_machine())
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    broker = "Redis" if os.environ.get("REDIS_URL") else "ORM broker"
    print(f"the stack: manage.py runstack ({backend} + {broker}, shipped settings), work directory {workdir}")
    stack = start_stack(workdir, ports)
    try:
        control = httpx.Client(base_url=f"http://127.0.0.1:{ports['sandbox']}", timeout=60)
        portals = Portals(control, f"http://127.0.0.1:{ports['gateway']}", args.portals)
        started = time.monotonic()
        during = storm(portals, started + args.deadline)
        opens = [status for _, status in portals.opened.values()]
        last_open = max((at for at, _ in portals.opened.values()), default=started)
        print(f"--- {args.portals} portals open the app at once (16 browsers)")
        admitted = opens.count(200)
        print(f"opens: {admitted} of {len(opens)} in, refused {len(opens) - admitted}; the last began at"
              f" {last_open - started:.1f}s")  # fmt: skip
        to_bot = [portals.bot_at[p] - portals.opened[p][0] for p in portals.bot_at]
        print(f"bots: {len(to_bot)} of {args.portals}; open to bot: {spread(to_bot)}")
        answered = f"{len(during.answered)} of {len(during.sent)}"
        print(f"replies during the storm: {answered}; {spread(during.latencies())}")
        after = steady(portals, time.monotonic() + 300)
        answered = f"{len(after.answered)} of {len(after.sent)}"
        print(f"replies after it (baseline): {answered}; {spread(after.latencies())}")
        for share, name in ((0.5, "p50"), (0.95, "p95")):
            base = percentile(after.latencies(), share)
            ratio = percentile(during.latencies(), share) / base if base else float("nan")
            print(f"message-to-reply {name} during the storm / after it: {ratio:.1f}")
        stats = control.get("/_sandbox/stats").json()["data"]["byStatus"]
        print(f"platform answers by status: {dict(sorted(stats.items()))}")
    finally:
        stack.send_signal(signal.SIGINT)  # as Ctrl-C: runstack stops its children itself
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop_groups([stack], grace=10)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
