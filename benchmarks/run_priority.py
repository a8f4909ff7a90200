"""A burst of skill runs' posts beside people's replies, on one key's budget: how long the replies wait.

    .venv/bin/python benchmarks/run_priority.py [--rate 10] [--posts 300] [--workers 16] [--repliers 4] \
        [--reply-every 1.0]

At 09:30 every portal's standup asks its people at once, on the one app key: hundreds of posts, while the
people of every other portal keep writing. The budget (botcore/vibe/budget.py) lets a call of a higher
priority take a contended slot first; a skill run's posts go at Priority.RUN (behind replies and polls).
This runs the same burst twice in one process, on one SharedBudget at `--rate` requests a second: `--posts`
posts taken by `--workers` threads (the task queue's workers), while `--repliers` threads each ask for a
reply's slot every `--reply-every` seconds until the burst is through (the default, 4 a second, leaves
the posts 6 of the 10). First with the posts at Priority.REPLY (before),
then at Priority.RUN (now). No platform is called: this measures the budget's ordering alone, which is
what changed. Printed per round: the replies' wait for their slot (p50 / p95 / max), how long the burst
took, and the ratio of the replies' p95 against the round before.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def burst(
    *, rate: float, posts: int, workers: int, repliers: int, reply_every: float, priority
) -> tuple[list[float], float]:
    """The replies' waits for their slots, and the seconds the burst of posts took."""
    from pyrate_limiter.buckets import InMemoryStateStore

    from botcore.vibe.budget import Priority, SharedBudget

    budget = SharedBudget(name="bench", per_second=rate, burst=1, max_wait=3600, store=InMemoryStateStore())
    left = list(range(posts))
    lock = threading.Lock()
    done = threading.Event()
    waits: list[float] = []

    def worker() -> None:
        while True:
            with lock:
                if not left:
                    return
                left.pop()
            budget.acquire(priority=priority)

    def replier() -> None:
        while not done.is_set():
            asked = time.monotonic()
            budget.acquire(priority=Priority.REPLY)
            waits.append(time.monotonic() - asked)
            time.sleep(reply_every)

    started = time.monotonic()
    posting = [threading.Thread(target=worker) for _ in range(workers)]
    replying = [threading.Thread(target=replier) for _ in range(repliers)]
    for thread in posting + replying:
        thread.start()
    for thread in posting:
        thread.join()
    took = time.monotonic() - started
    done.set()
    for thread in replying:
        thread.join()
    return waits, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="the key's requests a second")
    parser.add_argument("--posts", type=int, default=300, help="the runs' posts in the burst")
    parser.add_argument("--workers", type=int, default=16, help="threads posting (the task queue's workers)")
    parser.add_argument("--repliers", type=int, default=4, help="threads each asking for a reply's slot")
    parser.add_argument("--reply-every", type=float, default=1.0, help="seconds between a replier's asks")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")
    django.setup()
    from botcore.vibe.budget import Priority

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"run priority benchmark at {commit or 'unknown'}: {os.cpu_count()} cores, load "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; budget {args.rate:g}/s in one process; "
        f"{args.posts} posts by {args.workers} threads beside {args.repliers} repliers (one ask per "
        f"{args.reply_every:g} s each)"
    )
    before_p95 = None
    for label, priority in (
        ("posts at REPLY (before)", Priority.REPLY),
        ("posts at RUN (now)", Priority.RUN),
    ):
        waits, took = burst(
            rate=args.rate, posts=args.posts, workers=args.workers, repliers=args.repliers,
            reply_every=args.reply_every, priority=priority,
        )  # fmt: skip
        p95 = percentile(waits, 0.95)
        ratio = f", p95 {p95 / before_p95:.2f} x before" if before_p95 else ""
        print(
            f"{label:24} replies {len(waits):4}: wait p50 {statistics.median(waits):6.2f} s  "
            f"p95 {p95:6.2f} s  max {max(waits):6.2f} s; the burst took {took:5.1f} s{ratio}"
        )
        before_p95 = before_p95 or p95


if __name__ == "__main__":
    main()
