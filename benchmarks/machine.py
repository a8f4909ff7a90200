"""What a benchmark ran on: the commit, the machine's cores and load, and how fast it ran Python just then.

Absolute figures (CPU-ms a message, latency under load) move with the machine: two sessions' machines of the
same kind differed 2.5x in CPU per message, and one machine's speed drifted by half within minutes (it is
shared). `python_speed_ms` is a fixed CPU-bound workload timed on the spot: a rough guide to which machine a
figure came from, not a correction factor (one small workload, read at one moment; on that shared machine the
readings of three runs in a row spread 4.7-9.5 ms while their p95 spread 1.13-1.50 s, unrelated).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The kind of work a poll cycle's Python does: a JSON event read and written, a dict walked, text formatted.
_EVENT = {
    "type": "ONIMBOTV2MESSAGEADD",
    "data": {"message": {"id": 42, "text": "Как дела? " * 8, "params": {"keys": list(range(20))}}},
}


def _workload() -> int:
    size = 0
    for number in range(400):
        event = json.loads(json.dumps(_EVENT, ensure_ascii=False))
        size += len(f"{number}:{event['type']}:{event['data']['message']['text']}")
        size += sum(event["data"]["message"]["params"]["keys"])
    return size


def python_speed_ms(repeat: int = 7) -> float:
    """Milliseconds the fixed workload takes, best of `repeat` (lower is faster)."""
    return min(timeit.repeat(_workload, number=1, repeat=repeat)) * 1000


def commit() -> str:
    """The checkout's short commit, marked when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    dirty = " (uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no").strip() else ""
    return git("rev-parse", "--short", "HEAD").strip() + dirty


def describe_machine() -> str:
    """Cores, CPU, load and speed at this moment, on one line."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores ({_cpu_model()}), Python {platform.python_version()}, load average"
        f" {load}, speed {python_speed_ms():.1f} ms (benchmarks/machine.py; lower is faster) at start"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
