"""How long a vibeapp process takes to start (to ready) and to stop, beside a bare `import django`.

    .venv/bin/python benchmarks/startup.py [--rounds 7] [--kinds baseline,setup,check,qcluster,poller,web] \
        [--tree PATH ...] [--workers N] [--compile]

Start-up is restart downtime (a qcluster being restarted answers no one) and it is paid again by every process
the test suite spawns. Each round starts every kind once, one at a time, in a fresh order:

- baseline: `python -c "import django"`, to its exit: what any Python process with Django pays; the other
  figures are read against it, measured in the same run on the same loaded machine.
- setup: `python -c "import django; django.setup()"` with the project's settings, to its exit.
- check: `manage.py check`, to its exit (it loads the URLconf too).
- qcluster: `manage.py qcluster`, to django-q2's "Q Cluster ... running." line, then SIGTERM to its exit.
- poller: `manage.py runpoller`, to its "poller started" line, then SIGTERM to its exit.
- web: gunicorn with deploy/gunicorn.conf.py and one worker, to the first 200 from /healthz (the URLconf and
  the middleware load with that first request), then SIGTERM to its exit.

Every process runs on SQLite in a temporary folder (migrated once per tree before the rounds) unless
DATABASE_URL is set; the poller's platform URL points at a closed port, so nothing outside is asked. With
more than one --tree (a `git worktree` of an older commit beside this checkout, run with this same venv),
the rounds alternate the trees, so a figure and its comparison share the machine's moments.

Where PYTHONDONTWRITEBYTECODE is set (this machine's sessions, the image), a process compiles every project
module it imports, at each start, unless its bytecode is already there: --compile compiles each tree's
(`python -m compileall`, as deploy/Dockerfile does) before the rounds; the header says which.

It prints what it ran (commit, cores, load, speed), then per tree and kind the median wall time to ready
(or exit), the same minus the baseline's median, the median CPU its processes had used by then (from /proc:
steadier on a busy machine), and the median stop.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from sandbox.runner import free_port  # noqa: E402

PACKAGES = ["vibeapp", "tenants", "botcore", "ops"]
KINDS = ["baseline", "setup", "check", "qcluster", "poller", "web"]
READY_LINES = {"qcluster": "running.", "poller": "poller started"}
TICK = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT = 60


@dataclass
class Figures:
    ready: list[float] = field(default_factory=list)  # seconds from spawn to ready (or to exit)
    cpu: list[float] = field(default_factory=list)  # CPU seconds of its processes by then
    stop: list[float] = field(default_factory=list)  # seconds from SIGTERM to exit
    hung: int = 0  # stops that took longer than STOP_TIMEOUT (killed, not in `stop`)


def session_cpu_seconds(session: int) -> float:
    """User + system CPU so far of every process of `session` (the started process, its sentinel and workers
    or gunicorn's worker, which imports the app), not counting processes that have already ended."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended since the listing
            continue
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def git_commit(tree: Path) -> str:
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=tree, capture_output=True, text=True
    ).stdout.strip()
    return run.stdout.strip() + (" (uncommitted changes)" if dirty else "")


class Tree:
    """One checkout to start processes from, with its own SQLite file, all with this interpreter."""

    def __init__(self, path: Path, workdir: Path, workers: int | None, compile_bytecode: bool) -> None:
        self.path = path
        self.commit = git_commit(path)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "vibeapp.settings",
            "VIBE_VAR_DIR": str(workdir),
            "VIBE_Q_NAME": os.environ.get("VIBE_Q_NAME", "startup-bench"),
            # A closed port: the poller (no bots here) has nothing to ask, and asks no one's platform.
            "VIBE_BASE_URL": "http://127.0.0.1:9/v1",
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if workers is not None:
            self.env["VIBE_Q_WORKERS"] = str(workers)
        self.figures = {kind: Figures() for kind in KINDS}
        if compile_bytecode:
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=path, env=self.env, check=True
            )
        self._manage("migrate", "-v0")

    def _manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=self.path, env=self.env, check=True)

    def command(self, kind: str, port: int) -> list[str]:
        py = sys.executable
        return {
            "baseline": [py, "-c", "import django"],
            "setup": [py, "-c", "import django; django.setup()"],
            "check": [py, "manage.py", "check"],
            "qcluster": [py, "manage.py", "qcluster"],
            "poller": [py, "manage.py", "runpoller"],
            "web": [
                py, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--workers", "1",
                "--bind", f"127.0.0.1:{port}", "vibeapp.wsgi:application",
            ],
        }[kind]  # fmt: skip

    def measure(self, kind: str) -> None:
        port = free_port()
        seen = threading.Event()
        lines: list[str] = []
        start = time.monotonic()
        process = subprocess.Popen(
            self.command(kind, port), cwd=self.path, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if kind in READY_LINES and READY_LINES[kind] in line:
                    seen.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        figures = self.figures[kind]
        try:
            if kind in ("baseline", "setup", "check"):
                _, status, usage = os.wait4(process.pid, 0)
                figures.ready.append(time.monotonic() - start)
                figures.cpu.append(usage.ru_utime + usage.ru_stime)
                process.returncode = os.waitstatus_to_exitcode(status)
                if process.returncode:
                    raise SystemExit(f"{kind} exited with {process.returncode}:\n{''.join(lines)}")
                return
            self._wait_ready(kind, process, seen, port, lines)
            figures.ready.append(time.monotonic() - start)
            figures.cpu.append(session_cpu_seconds(process.pid))
            stopping = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # Said and counted, not a figure: what it was doing, for whoever looks into it.
                figures.hung += 1
                tail = "".join(lines[-20:])
                print(
                    f"{kind} of {self.commit} did not stop within {STOP_TIMEOUT} s:\n{tail}", file=sys.stderr
                )
                subprocess.run(
                    ["ps", "-o", "pid,ppid,stat,etime,cmd", "--sid", str(process.pid)],
                    stdout=sys.stderr,
                    check=False,
                )
                return
            figures.stop.append(time.monotonic() - stopping)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            reader.join(timeout=5)

    @staticmethod
    def _wait_ready(kind: str, process: subprocess.Popen, seen: threading.Event, port: int, lines) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{kind} exited with {process.returncode} before ready:\n{''.join(lines)}")
            if kind == "web":
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                        if answer.status == 200:
                            return
                except OSError:
                    pass
                time.sleep(0.01)
            elif seen.wait(0.01):
                return
        raise SystemExit(f"{kind} was not ready within 60 s:\n{''.join(lines)}")


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:6.0f}" if values else "     -"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, of: " + ", ".join(KINDS))
    parser.add_argument("--tree", action="append", type=Path, help="a checkout to run (default: this one)")
    parser.add_argument("--workers", type=int, help="the qcluster's workers (default: the settings')")
    parser.add_argument("--compile", action="store_true", help="compile each tree's bytecode first")
    options = parser.parse_args()
    kinds = [kind for kind in options.kinds.split(",") if kind]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    if "baseline" not in kinds:
        kinds.insert(0, "baseline")

    print(describe_machine(), flush=True)
    cached = "compiled first (--compile)" if options.compile else "as found"
    writes = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"bytecode: {cached}; writing it: {writes} (PYTHONDONTWRITEBYTECODE)", flush=True)
    with tempfile.TemporaryDirectory(prefix="vibe-startup-") as work:
        trees = [
            Tree(path.resolve(), Path(work) / str(number), options.workers, options.compile)
            for number, path in enumerate(options.tree or [ROOT])
        ]
        for number in range(options.rounds):
            order = [(tree, kind) for tree in trees for kind in kinds]
            random.Random(number).shuffle(order)
            for tree, kind in order:
                tree.measure(kind)
            print(f"round {number + 1}/{options.rounds} done", file=sys.stderr, flush=True)

    print(f"medians of {options.rounds} rounds, ms (ready: to the ready line, first 200 or exit)")
    print(f"{'tree':<34} {'kind':<9} {'ready':>6} {'-base':>6} {'cpu':>6} {'stop':>6}")
    for tree in trees:
        base = statistics.median(tree.figures["baseline"].ready)
        for kind in kinds:
            figures = tree.figures[kind]
            over = (
                f"{(statistics.median(figures.ready) - base) * 1000:6.0f}" if kind != "baseline" else "     -"
            )
            label = f"{tree.commit} {tree.path.name}"[:34]
            hung = f"  ({figures.hung} did not stop)" if figures.hung else ""
            print(
                f"{label:<34} {kind:<9} {ms(figures.ready)} {over} {ms(figures.cpu)} {ms(figures.stop)}{hung}"
            )


if __name__ == "__main__":
    main()
