"""Polling benchmark: N bots kept polled by the real qcluster and pacer against the sandbox, beside a bare loop.

    .venv/bin/python benchmarks/polling.py                       # 1,000 bots, 10% in active dialogs
    .venv/bin/python benchmarks/polling.py --bots 500 --active 25 --rate-limit 10

Prints polls per second, event-to-handler latency p50/p95/p99, CPU seconds and peak RSS of each process,
the 429s the platform answered, and, in the same run and against the same sandbox, the polls per second of
a bare asyncio httpx loop over the same bots (the ceiling), with polls per CPU second for both.

Everything runs on a fresh database of its own (SQLite under var/bench/, or PostgreSQL + Redis when
DATABASE_URL and REDIS_URL are set), with the sandbox adding --latency-ms to every platform answer.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--active", type=float, default=0.1, help="active dialogs: a share (<1) or a count of bots")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added platform latency")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of measured load")
    parser.add_argument("--message-every", type=float, default=4.0, help="seconds between messages in an active dialog")
    parser.add_argument("--rate-limit", type=float, default=0.0, help="the platform's per-key limit (0: unlimited)")
    parser.add_argument("--workers", type=int, default=4, help="django-q2 workers")
    parser.add_argument("--sandbox-port", type=int, default=8190)
    return parser.parse_args()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class ProcessMeter:
    """CPU seconds and peak RSS of a process and every process it forked, sampled until stopped."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_rss = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> ProcessMeter:
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                rss = 0
                for process in tree:
                    try:
                        times = process.cpu_times()
                        self.cpu[process.pid] = times.user + times.system
                        rss += process.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                self.peak_rss = max(self.peak_rss, rss)
            except psutil.NoSuchProcess:
                return
            self._stop.wait(0.25)

    def stop(self) -> tuple[float, int]:
        self._stop.set()
        self._thread.join()
        return sum(self.cpu.values()), self.peak_rss


def setup_environment(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "VIBE_FERNET_KEYS": __import__("cryptography.fernet", fromlist=["Fernet"]).Fernet.generate_key().decode(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "VIBE_VAR_DIR": str(workdir),
        "VIBE_Q_NAME": f"bench-{uuid.uuid4().hex[:8]}",
        "VIBE_Q_WORKERS": str(args.workers),
        "VIBE_LOG_LEVEL": "WARNING",
        "BOTCORE_POLL_FAST_SECONDS": "0.5",
        "BOTCORE_POLL_SLOW_SECONDS": "10",
        # This run measures the engine: the client's budget stays on only when the platform limits.
        "VIBE_BUDGET_PER_SECOND": str(max(1.0, args.rate_limit * 0.9)) if args.rate_limit else "0",
        "PYTHONUNBUFFERED": "1",
    }
    if not os.environ.get("DATABASE_URL"):
        env["VIBE_SQLITE_PATH"] = str(workdir / "polling.sqlite3")
    return env


def seed_sandbox(base: str, args: argparse.Namespace) -> tuple[str, list[dict]]:
    """One app; N portals, each with an admin and that admin's session."""
    with httpx.Client(base_url=base, timeout=30) as control:
        app = control.post("/_sandbox/apps", json={"name": "Benchmark app"}).json()["data"]
        tenants = []
        for index in range(args.bots):
            portal = control.post("/_sandbox/portals", json={"domain": f"bench{index}.bitrix24.com"}).json()["data"]["portal"]
            admin = control.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": f"Admin {index}", "isAdmin": True}).json()["data"]["user"]
            session = control.post("/_sandbox/sessions", json={"appKey": app["key"], "userId": admin["id"]}).json()["data"]
            tenants.append({"portal": portal, "admin": admin, "session": session})
    return app["key"], tenants


def install_and_provision(tenants: list[dict]) -> list[tuple[int, int]]:
    """Store each admin's session (as a gateway visit would) and provision its bot; (bot vibe id, admin id)."""
    from datetime import datetime

    from django_q.brokers import get_broker

    from botcore.services.bots import provision_bot
    from tenants.identity import VerifiedIdentity
    from tenants.services import store_session_grant

    bots = []
    for tenant in tenants:
        portal, admin, session = tenant["portal"], tenant["admin"], tenant["session"]
        stored = store_session_grant(
            identity=VerifiedIdentity(
                vibe_portal_id=portal["id"], member_id=portal["memberId"], domain=portal["domain"], portal_name=portal["name"],
                bitrix_user_id=admin["id"], user_name=admin["name"], is_admin=True,
                expires_at=datetime.fromisoformat(session["expiresAt"].replace("Z", "+00:00")),
            ),
            session_token=session["token"],
            source="gateway",
        )
        bot = provision_bot(stored)
        bots.append((bot.vibe_bot_id, admin["id"]))
    get_broker().purge_queue()  # the install signals queued provisioning again: it is done already
    return bots


async def bare_loop(base: str, app_key: str, tenants: list[dict], bot_ids: list[int], seconds: float) -> int:
    """The ceiling: every bot polled as fast as one asyncio httpx client can, same sandbox, same latency."""
    polls = 0
    offsets: dict[int, int] = {}
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        deadline = time.monotonic() + seconds

        async def poll_forever(index: int) -> None:
            nonlocal polls
            headers = {"X-Api-Key": app_key, "Authorization": f"Bearer {tenants[index]['session']['token']}"}
            bot_id = bot_ids[index]
            while time.monotonic() < deadline:
                response = await client.get(f"/v1/bots/{bot_id}/events", params={"offset": offsets.get(bot_id, 0)}, headers=headers)
                data = response.json().get("data") or {}
                offsets[bot_id] = max(offsets.get(bot_id, 0), data.get("nextOffset") or 0)
                polls += 1

        await asyncio.gather(*(poll_forever(i) for i in range(len(bot_ids))))
    return polls


def main() -> None:
    args = parse_args()
    active_count = int(args.active) if args.active >= 1 else max(1, round(args.bots * args.active))
    workdir = ROOT / "var" / "bench"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = setup_environment(args, workdir)
    manage = [sys.executable, str(ROOT / "manage.py")]
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"

    print(f"polling benchmark: {args.bots} bots, {active_count} active, +{args.latency_ms:g} ms platform latency, "
          f"rate limit {f'{args.rate_limit:g}/s per key' if args.rate_limit else 'off'}, {args.workers} workers, "
          f"{'PostgreSQL' if os.environ.get('DATABASE_URL') else 'SQLite'} + {'Redis' if os.environ.get('REDIS_URL') else 'ORM broker'}")
    sandbox = subprocess.Popen([*manage, "runsandbox", "--port", str(args.sandbox_port), "--rate-limit", "100000"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = [sandbox]
    try:
        for _ in range(100):
            try:
                httpx.get(f"{sandbox_url}/v1")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        app_key, tenants = seed_sandbox(sandbox_url, args)
        env.update(VIBE_APP_KEY=app_key, VIBE_BASE_URL=f"{sandbox_url}/v1")
        os.environ.update({k: v for k, v in env.items() if k.startswith(("VIBE_", "BOTCORE_", "DJANGO_"))})
        os.environ["VIBE_BUDGET_PER_SECOND"] = "0"  # provisioning here is setup, not the measured load
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.monotonic()
        bots = install_and_provision(tenants)
        print(f"setup: {len(bots)} portals installed and bots provisioned in {time.monotonic() - started:.1f}s")

        control = httpx.Client(base_url=sandbox_url, timeout=30)
        if args.rate_limit:
            control.post("/_sandbox/rate-limit", json={"perSecond": args.rate_limit})
            control.post("/_sandbox/rate-limit", json={"key": app_key, "perSecond": args.rate_limit})
        control.post("/_sandbox/faults", json={"latencyMs": args.latency_ms})

        qcluster = subprocess.Popen([*manage, "qcluster"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pacer = subprocess.Popen([*manage, "runpacer"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes += [qcluster, pacer]
        meters = {"qcluster": ProcessMeter(qcluster.pid).start(), "pacer": ProcessMeter(pacer.pid).start(),
                  "sandbox": ProcessMeter(sandbox.pid).start()}
        rng = random.Random(7)
        active = rng.sample(bots, active_count)
        # Warm-up: open every active dialog, then let a full slow-bound sweep pass, so the measured window
        # sees the steady state (active dialogs polled at the fast cadence, idle bots at the slow one).
        for bot_id, admin_id in active:
            control.post("/_sandbox/act/messages", json={"userId": admin_id, "botId": bot_id, "text": "warm-up"})
        time.sleep(float(env["BOTCORE_POLL_SLOW_SECONDS"]) + 2)

        before = control.get("/_sandbox/stats").json()["data"]
        sent_at: dict[str, float] = {}
        next_message = {bot_id: time.monotonic() + rng.uniform(0, args.message_every) for bot_id, _ in active}
        window_start = time.monotonic()
        while time.monotonic() - window_start < args.duration:
            now = time.monotonic()
            for bot_id, admin_id in active:
                if next_message[bot_id] <= now:
                    text = f"bench-{uuid.uuid4().hex[:10]}"
                    control.post("/_sandbox/act/messages", json={"userId": admin_id, "botId": bot_id, "text": text})
                    sent_at[text] = time.time()
                    next_message[bot_id] = now + args.message_every * rng.uniform(0.5, 1.5)
            time.sleep(0.02)
        window = time.monotonic() - window_start
        after = control.get("/_sandbox/stats").json()["data"]
        time.sleep(5)  # let the last messages be handled (not counted in polls/s)

        from botcore.models import EventLogEntry

        latencies = []
        handled = 0
        for entry in EventLogEntry.objects.filter(event_type="ONIMBOTV2MESSAGEADD").only("payload", "handled_at"):
            text = ((entry.payload.get("data") or {}).get("message") or {}).get("text", "")
            if text in sent_at and entry.handled_at is not None:
                handled += 1
                latencies.append(entry.handled_at.timestamp() - sent_at[text])
        usage = {name: meter.stop() for name, meter in meters.items()}
        for process in (qcluster, pacer):
            process.terminate()
        for process in (qcluster, pacer):
            process.wait(timeout=30)

        route = "GET /v1/bots/:id/events"
        polls = after["byRoute"].get(route, 0) - before["byRoute"].get(route, 0)
        throttled = after["byStatus"].get("429", 0) - before["byStatus"].get("429", 0)
        engine_cpu = usage["qcluster"][0] + usage["pacer"][0]

        # The ceiling, same sandbox and latency, measured now that the engine is stopped.
        control.post("/_sandbox/rate-limit", json={"key": app_key, "perSecond": 100000})
        bare_cpu_before = sum(psutil.Process().cpu_times()[:2])
        bare_polls = asyncio.run(bare_loop(f"{sandbox_url}", app_key, tenants, [b for b, _ in bots], min(args.duration, 15)))
        bare_cpu = sum(psutil.Process().cpu_times()[:2]) - bare_cpu_before
        bare_seconds = min(args.duration, 15)

        print()
        print(f"engine polls/s:             {polls / window:8.1f}   ({polls} polls in {window:.1f}s)")
        print(f"messages sent / handled:    {len(sent_at):8d} / {handled}")
        print(f"event-to-handler latency:   p50 {percentile(latencies, .5):.2f}s  p95 {percentile(latencies, .95):.2f}s  "
              f"p99 {percentile(latencies, .99):.2f}s  (mean {statistics.fmean(latencies) if latencies else float('nan'):.2f}s)")
        print(f"429s received:              {throttled:8d}")
        for name, (cpu, rss) in usage.items():
            print(f"{name:9} CPU {cpu:7.1f}s   peak RSS {rss / 2**20:7.1f} MiB (process tree)")
        print(f"bare asyncio httpx loop:    {bare_polls / bare_seconds:8.1f} polls/s, CPU {bare_cpu:.1f}s")
        engine_per_cpu = polls / engine_cpu if engine_cpu else float("nan")
        bare_per_cpu = bare_polls / bare_cpu if bare_cpu else float("nan")
        print(f"polls per CPU second:       engine {engine_per_cpu:.1f}  bare {bare_per_cpu:.1f}  ratio {engine_per_cpu / bare_per_cpu:.2f}")
        print(f"polls/s vs the bare loop:   {(polls / window) / (bare_polls / bare_seconds):.2f}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
