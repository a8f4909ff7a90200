"""Polling benchmark: N bots polled by the real qcluster and poller against the sandbox, beside a baseline.

    .venv/bin/python benchmarks/polling.py                   # 1,000 bots, 10% in active dialogs
    .venv/bin/python benchmarks/polling.py --rounds 3        # three of each phase, alternating: medians
    .venv/bin/python benchmarks/polling.py --bots 500 --active 25 --rate-limit 10
    .venv/bin/python benchmarks/polling.py --sweep           # 1,000 / 3,000 / 10,000 bots, 10% active
    .venv/bin/python benchmarks/polling.py --dialect no-long-poll   # a platform that never holds a poll
    .venv/bin/python benchmarks/polling.py --design pacer    # the per-task design it replaced

Each phase (the engine: qcluster + poller, or + pacer with --design pacer; then the baseline:
benchmarks/polling_baseline.py, one asyncio process doing the same poll-store-skill-reply work at the same
cadence) runs the same script: a settling pause, an idle window (nobody writes), the active dialogs opened
(a first message each, answered before the window starts and reported apart), then an active window (each
active dialog's user writes every ~--message-every seconds), then a drain until every message is answered or
--drain-deadline passes. CPU and polls are counted over the same windows; latency runs from the platform
accepting the user's message to the reply reaching the platform; unanswered messages count as infinitely late.

Everything runs on a fresh database of its own (SQLite under var/bench/, or PostgreSQL + Redis when
DATABASE_URL and REDIS_URL are set), with the sandbox adding --latency-ms to every platform answer, in
the poll configuration the project ships unless --fast/--slow say otherwise. The header says what ran (commit,
machine and its speed just then, backend, workers, settings); the speed is read again at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The benchmark runs as a script: its sibling modules are importable once the project root is on the path.
from benchmarks.machine import python_speed_ms  # noqa: E402
from benchmarks.polling_load import (  # noqa: E402
    POLL_ROUTE,
    REPLY_ROUTE,
    Load,
    ProcessMeter,
    count_event_outcomes,
    cpu_between,
    cpu_by_role,
    cpu_ms_per_answer,
    stats,
    summarize_latency,
)
from benchmarks.polling_report import print_phase, print_ratio, print_rounds, print_sweep  # noqa: E402
from benchmarks.polling_setup import describe_run, seed_bots, setup_django  # noqa: E402
from benchmarks.sandbox_process import refuse_taken_port, wait_for_sandbox  # noqa: E402
from sandbox.runner import free_port  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument(
        "--active", type=float, default=0.1, help="active dialogs: a share (<1) or a count of bots"
    )
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added platform latency")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the active window")
    parser.add_argument("--idle-duration", type=float, default=20.0, help="seconds of the idle window")
    parser.add_argument(
        "--drain-deadline", type=float, default=60.0, help="seconds to wait for the last replies"
    )
    parser.add_argument(
        "--message-every", type=float, default=4.0, help="seconds between messages in an active dialog"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=0.0, help="the platform's per-key limit (0: unlimited)"
    )
    parser.add_argument("--workers", type=int, default=None, help="django-q2 workers (default: as shipped)")
    parser.add_argument(
        "--fast", type=float, default=None, help="BOTCORE_POLL_FAST_SECONDS (default: as shipped)"
    )
    parser.add_argument(
        "--slow", type=float, default=None, help="BOTCORE_POLL_SLOW_SECONDS (default: as shipped)"
    )
    parser.add_argument(
        "--design",
        choices=("poller", "pacer"),
        default="poller",
        help="the engine: qcluster + runpoller (shipped) or qcluster + runpacer (the per-task design)",
    )
    parser.add_argument(
        "--long-poll", type=float, default=None, help="BOTCORE_LONG_POLL_SECONDS (default: as shipped)"
    )
    parser.add_argument("--dialect", default="", help="the sandbox's dialects, e.g. no-long-poll")
    parser.add_argument("--no-baseline", action="store_true", help="run the engine only")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="engine and baseline phases this many times each, in alternating order; medians printed",
    )
    parser.add_argument(
        "--sweep", action="store_true", help="1,000 / 3,000 / 10,000 bots with --active of them active"
    )
    parser.add_argument("--sweep-sizes", default="1000,3000,10000")
    parser.add_argument(
        "--profile", action="store_true", help="run the engine's processes under py-spy (var/bench/)"
    )
    parser.add_argument(
        "--sandbox-port", type=int, default=0, help="the benchmark's own sandbox; default: a free port"
    )
    parser.add_argument(
        "--workdir", default=str(ROOT / "var" / "bench"), help="emptied, then holds the run's files"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def build_environment(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "VIBE_FERNET_KEYS": Fernet.generate_key().decode(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "VIBE_VAR_DIR": str(workdir),
        "VIBE_Q_NAME": f"bench-{uuid.uuid4().hex[:8]}",
        "VIBE_LOG_LEVEL": "WARNING",
        # This run measures the engine: the client's budget stays on only when the platform limits.
        "VIBE_BUDGET_PER_SECOND": str(max(1.0, args.rate_limit * 0.9)) if args.rate_limit else "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name, value in (
        ("VIBE_Q_WORKERS", args.workers),
        ("BOTCORE_POLL_FAST_SECONDS", args.fast),
        ("BOTCORE_POLL_SLOW_SECONDS", args.slow),
        ("BOTCORE_LONG_POLL_SECONDS", args.long_poll),
    ):
        if value is not None:
            env[name] = str(value)
    if not os.environ.get("DATABASE_URL"):
        env["VIBE_SQLITE_PATH"] = str(workdir / "polling.sqlite3")
    return env


def start_engine(
    manage: list[str], env: dict, args: argparse.Namespace, workdir: Path
) -> dict[str, subprocess.Popen]:
    def spawn(name: str, command: list[str]) -> subprocess.Popen:
        if args.profile:  # py-spy samples the process and its workers, written out when it stops
            command = [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                "50",
                "-o",
                str(workdir / f"profile-{name}.txt"),
                "--",
                *command,
            ]
        log = (workdir / f"{name}.log").open("ab")  # warnings and errors, kept with the run (var/bench/)
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)

    return {
        "qcluster": spawn("qcluster", [*manage, "qcluster"]),
        args.design: spawn(args.design, [*manage, f"run{args.design}"]),
    }


def start_baseline(env: dict) -> dict[str, subprocess.Popen]:
    command = [sys.executable, str(ROOT / "benchmarks" / "polling_baseline.py")]
    return {
        "baseline": subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    }


def run_phase(
    name: str,
    processes: dict[str, subprocess.Popen],
    *,
    control: httpx.Client,
    active: list,
    args: argparse.Namespace,
    settle: float,
    bots: int,
    platform: ProcessMeter,
) -> dict:
    """The idle window, the active window and the drain with `processes` doing the polling; their figures.

    `platform` meters the sandbox: its CPU in the same windows is reported beside the engine's (it shares
    the machine's cores), never counted in it."""
    meters = {label: ProcessMeter(process.pid).start() for label, process in processes.items()}

    def cpu_now() -> dict[str, dict[int, float]]:
        return {
            **{label: meter.snapshot() for label, meter in meters.items()},
            "sandbox": platform.snapshot(),
        }

    def window_cpu(before: dict, after: dict) -> float:
        return sum(cpu_between(before[label], after[label]) for label in meters)

    try:
        time.sleep(settle)  # start-up, and a full slow-bound sweep: every bot at its steady cadence
        cpu0, stats0, t0 = cpu_now(), stats(control), time.monotonic()
        time.sleep(args.idle_duration)
        cpu1, stats1, t1 = cpu_now(), stats(control), time.monotonic()
        load = Load(control=control, active=active, every=args.message_every, rng=random.Random(7))
        # The active dialogs opened: their first messages answered, the bots at the active cadence.
        first_latencies, opened_in = load.open_dialogs(settle=5.0, deadline=settle + 10)
        cpu2, stats2, t2 = cpu_now(), stats(control), time.monotonic()
        load.run(args.duration)
        cpu3, stats3, t3 = cpu_now(), stats(control), time.monotonic()
        latencies, drained = load.drain(
            replies_before=stats2["byRoute"].get(REPLY_ROUTE, 0),
            deadline=args.drain_deadline,
        )
    finally:
        for process in processes.values():
            # Under py-spy the process to stop is its child: py-spy writes the profile once that exits.
            for child in psutil.Process(process.pid).children() if args.profile else [process]:
                child.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for meter in meters.values():
            meter.stop()
    # The host's speed just after the phase, its processes stopped: the engine and the baseline run minutes
    # apart on a shared machine, and a drift between them moves their ratio (benchmarks/machine.py).
    speed_after = python_speed_ms()

    def polls(a: dict, b: dict) -> int:
        return b["byRoute"].get(POLL_ROUTE, 0) - a["byRoute"].get(POLL_ROUTE, 0)

    def calls(a: dict, b: dict) -> int:
        return sum(b["byRoute"].values()) - sum(a["byRoute"].values())

    def errors(a: dict, b: dict) -> int:
        return sum(
            count - a["byStatus"].get(status, 0)
            for status, count in b["byStatus"].items()
            if int(status) >= 400
        )

    idle_cpu, active_cpu = window_cpu(cpu0, cpu1), window_cpu(cpu2, cpu3)
    idle_seconds, active_seconds = t1 - t0, t3 - t2
    answered = len(latencies)
    # Replies that reached the platform inside the active window, the work its CPU paid for: an engine
    # behind its load answers the rest in the drain, and dividing by those too made a message look cheap.
    answered_in_window = stats3["byRoute"].get(REPLY_ROUTE, 0) - stats2["byRoute"].get(REPLY_ROUTE, 0)
    per_message = cpu_ms_per_answer(
        active_cpu=active_cpu,
        active_seconds=active_seconds,
        idle_cpu=idle_cpu,
        idle_seconds=idle_seconds,
        answered=answered_in_window,
    )
    return {
        "name": name,
        "bots": bots,
        "speed_after_ms": speed_after,
        "sent": len(load.sent),
        "answered": answered,
        "failed_sends": load.failed_sends,
        "drained_in": drained,
        "latency": summarize_latency(load.sent, latencies),
        "first_latency": summarize_latency(load.opened, first_latencies),
        "opened": (len(load.opened), len(first_latencies), opened_in),
        "outcomes": count_event_outcomes(set(load.sent)),
        "idle_polls": polls(stats0, stats1),
        "idle_cpu": idle_cpu,
        "idle_seconds": idle_seconds,
        "active_polls": polls(stats2, stats3),
        "active_cpu": active_cpu,
        "active_seconds": active_seconds,
        "active_calls": calls(stats2, stats3),
        "errors": errors(stats2, stats3),
        "throttled": stats3["byStatus"].get("429", 0) - stats2["byStatus"].get("429", 0),
        "rss": {
            label: (meter.peak_rss, meter.peak_single_rss, meter.peak_pss) for label, meter in meters.items()
        },
        # What each kind of process in a tree spent of the active window (the qcluster's workers, pusher, ...)
        "cpu_by_role": {
            label: cpu_by_role(cpu2[label], cpu3[label], meter.roles) for label, meter in meters.items()
        },
        "cpu_by_process": {
            label: (cpu_between(cpu0[label], cpu1[label]), cpu_between(cpu2[label], cpu3[label]))
            for label in [*meters, "sandbox"]
        },
        # CPU of the idle bots' polling, per bot-minute; the active window's CPU beyond that, per answer in it
        "cpu_ms_idle_bot_minute": idle_cpu * 1000 / (bots * idle_seconds / 60),
        "cpu_ms_per_message": per_message,
        "answered_in_window": answered_in_window,
        "asked_rate": load.asked_rate,
    }


def last_events() -> dict[int, object]:
    """Each bot's last event as the engine's phase starts: the cadence of a polling bot follows it."""
    from botcore.models import Bot

    return dict(Bot.objects.values_list("pk", "last_event_at"))


def restore_last_events(last: dict[int, object]) -> None:
    """Put the bots back as quiet as the engine found them: the engine's own messages would otherwise leave
    the active bots polled faster at the baseline's start, a head start under no-long-poll."""
    from botcore.models import Bot

    rows = [Bot(pk=pk, last_event_at=at) for pk, at in last.items()]
    Bot.objects.bulk_update(rows, ["last_event_at"], batch_size=500)


def run_size(
    args: argparse.Namespace,
    *,
    total: int,
    env: dict,
    manage: list,
    control: httpx.Client,
    bots: list,
    workdir: Path,
    platform: ProcessMeter,
) -> list[dict]:
    active_count = int(args.active) if args.active >= 1 else max(1, round(total * args.active))
    active = random.Random(7).sample(bots, active_count)
    from botcore import conf

    settle = conf.poll_slow_seconds() + 3
    print(f"--- {total} bots, {active_count} active", flush=True)
    last_seen = last_events()
    names = ["engine"] if args.no_baseline else ["engine", "baseline"]
    results: list[dict] = []
    for round_index in range(args.rounds):
        # Alternating order (engine first, then baseline first, ...): a host whose speed drifts the same way
        # through the run favours each side in turn instead of always the same one.
        order = names if round_index % 2 == 0 else names[::-1]
        round_results = {}
        for name in order:
            # Every phase starts from the bots as quiet as the first found them: a phase's own messages
            # would otherwise leave the active bots polled faster at the next one's start.
            restore_last_events(last_seen)
            processes = start_engine(manage, env, args, workdir) if name == "engine" else start_baseline(env)
            round_results[name] = run_phase(
                name,
                processes,
                control=control,
                active=active,
                args=args,
                settle=settle,
                bots=total,
                platform=platform,
            )
            print_phase(round_results[name])
        if "baseline" in round_results:
            print_ratio(round_results["engine"], round_results["baseline"])
        results += [round_results[name] for name in names]
    if args.rounds > 1:
        print_rounds(results, names)
    return results


def main() -> None:
    args = parse_args()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = build_environment(args, workdir)
    manage = [sys.executable, str(ROOT / "manage.py")]
    args.sandbox_port = args.sandbox_port or free_port()
    refuse_taken_port(args.sandbox_port)
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    sandbox = subprocess.Popen(
        [*manage, "runsandbox", "--port", str(args.sandbox_port), "--rate-limit", "100000"]
        + (["--dialect", args.dialect] if args.dialect else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_sandbox(sandbox, sandbox_url)
        control = httpx.Client(base_url=sandbox_url, timeout=60)
        app_key = control.post("/_sandbox/apps", json={"name": "Benchmark app"}).json()["data"]["key"]
        env.update(VIBE_APP_KEY=app_key, VIBE_BASE_URL=f"{sandbox_url}/v1")
        setup_django(env)
        print(describe_run(args), flush=True)
        sandbox_meter = ProcessMeter(sandbox.pid).start()
        sizes = [int(size) for size in args.sweep_sizes.split(",")] if args.sweep else [args.bots]
        bots: list = []
        rows = []
        for total in sizes:
            started = time.monotonic()
            bots += seed_bots(control, app_key, count=total - len(bots), start=len(bots))
            print(
                f"setup: {len(bots)} portals installed and bots provisioned"
                f" ({time.monotonic() - started:.0f}s)"
            )
            if args.rate_limit:
                control.post("/_sandbox/rate-limit", json={"key": app_key, "perSecond": args.rate_limit})
            control.post("/_sandbox/faults", json={"latencyMs": args.latency_ms})
            rows.append(
                run_size(
                    args,
                    total=total,
                    env=env,
                    manage=manage,
                    control=control,
                    bots=bots,
                    workdir=workdir,
                    platform=sandbox_meter,
                )
            )
            control.delete("/_sandbox/faults")
            control.post("/_sandbox/rate-limit", json={"key": app_key, "perSecond": 100000})
        sandbox_meter.stop()
        print(f"sandbox peak RSS {sandbox_meter.peak_rss / 2**20:.0f} MiB")
        # A shared host may change speed under the run: the start's reading is in the header.
        print(f"machine speed at the end: {python_speed_ms():.1f} ms (benchmarks/machine.py)")
        if args.sweep:
            print_sweep(rows)
    finally:
        if sandbox.poll() is None:
            sandbox.terminate()
            try:
                sandbox.wait(timeout=10)
            except subprocess.TimeoutExpired:  # held long-polls keep a graceful shutdown waiting
                sandbox.kill()
                sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()
