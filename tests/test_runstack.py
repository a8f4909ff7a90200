"""`runstack` stops cleanly: one or two SIGTERMs leave no traceback, no process and no port behind."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow]


def pick_free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def is_port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def list_child_groups(parent_pid: int) -> set[int]:
    """Process groups of the parent's direct children, read from /proc (each child leads its own)."""
    groups = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp …
        if int(fields[1]) == parent_pid:
            groups.add(int(fields[2]))
    return groups


def is_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def start_runstack(tmp_path: Path, ports: list[int]) -> subprocess.Popen:
    web, sandbox, gateway = ports
    env = {
        **os.environ,
        "VIBE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "VIBE_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "REDIS_URL": "",
        "VIBE_APP_KEY": "",
        "VIBE_Q_NAME": f"runstack-test-{os.getpid()}",
        "VIBE_Q_WORKERS": "1",
    }
    argv = [
        sys.executable,
        str(ROOT / "manage.py"),
        "runstack",
        "--web-port",
        str(web),
        "--sandbox-port",
        str(sandbox),
        "--gateway-port",
        str(gateway),
    ]
    # Its own session, as `make run` in a terminal is: the test signals that whole group, as make does.
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop_runstack(stack: subprocess.Popen) -> None:
    """SIGTERM to the stack's group, as an operator stops it; SIGKILL if it is not gone within a minute."""
    os.killpg(stack.pid, signal.SIGTERM)
    try:
        stack.communicate(timeout=60)
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)


def read_until(process: subprocess.Popen, marker: str, *, seconds: float = 120) -> str:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"runstack never printed {marker!r}:\n{''.join(seen)}")


@pytest.mark.parametrize(
    "signum, signals",
    [(signal.SIGTERM, 1), (signal.SIGTERM, 2), (signal.SIGINT, 1), (signal.SIGINT, 2)],
    ids=["one-sigterm", "two-sigterms", "ctrl-c", "ctrl-c-twice"],
)
def test_runstack_stops_every_child_on_sigterm_or_ctrl_c(tmp_path, signum, signals):
    ports = pick_free_ports(3)
    os.chmod(tmp_path, 0o755)  # var/ as an older version (or a plain mkdir) left it
    stack = start_runstack(tmp_path, ports)
    try:
        read_until(stack, "vibeapp is running.")
        groups = list_child_groups(stack.pid)
        assert len(groups) == 4, groups  # sandbox, web, qcluster, poller
        for _ in range(signals):
            os.killpg(stack.pid, signum)  # the whole group, as make and a terminal's Ctrl-C do
            time.sleep(0.2)
        output, _ = stack.communicate(timeout=60)
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
    assert "Traceback" not in output, output
    assert "Stopped." in output
    assert "Killed" not in output, output  # every child stopped on SIGTERM, none needed the fallback
    assert stack.returncode == 0
    assert [g for g in groups if is_group_alive(g)] == []
    assert not is_group_alive(stack.pid)
    assert [p for p in ports if not is_port_free(p)] == []
    # var/ holds the secrets and the SQLite database (0644 as Django makes it): only its owner reads it.
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700


def test_runstack_on_other_ports_lets_its_own_sandbox_frame_the_portal_pages(tmp_path):
    """From an outside trial: `runstack --sandbox-port N` started the web without VIBE_SANDBOX_PORT, so the
    portal pages named port 8100's sandbox (another stack's, on a shared machine) as their framer, and the
    stack's own portal page (printed as 'The app in a portal's frame') showed a refused frame."""
    import httpx

    web, sandbox, _gateway = ports = pick_free_ports(3)
    stack = start_runstack(tmp_path, ports)
    try:
        read_until(stack, "vibeapp is running.")
        policy = httpx.get(f"http://127.0.0.1:{web}/", timeout=10).headers["Content-Security-Policy"]
    finally:
        stop_runstack(stack)
    framers = next(d for d in policy.split(";") if d.strip().startswith("frame-ancestors")).split()
    assert f"http://127.0.0.1:{sandbox}" in framers
    assert "http://127.0.0.1:8100" not in framers or sandbox == 8100


def test_a_second_runstack_on_the_same_var_dir_refuses_to_start(tmp_path):
    """From an outside trial: a second runstack started by mistake on the first one's var/ (other ports) ran
    its own sandbox, a second platform, over the same database: its workers took the first stack's queued
    cycles to that platform, met TOKEN_INVALID, and every portal waited for a session, for both stacks, until
    each portal's people opened the app again."""
    first = start_runstack(tmp_path, pick_free_ports(3))
    try:
        read_until(first, "vibeapp is running.")
        groups = list_child_groups(first.pid)
        second = start_runstack(tmp_path, pick_free_ports(3))
        try:
            output, _ = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                os.killpg(second.pid, signal.SIGKILL)
                second.communicate(timeout=10)
        assert second.returncode != 0
        assert str(tmp_path) in output and "VIBE_VAR_DIR" in output, output
        assert "[sandbox" not in output and "[qcluster" not in output, output  # it started nothing
        assert all(is_group_alive(g) for g in groups)  # and the first one runs on
    finally:
        stop_runstack(first)


def test_the_first_start_says_what_preparing_the_database_does_one_line_per_app(tmp_path):
    """From a newcomer's trial: a fresh clone's first `make run` printed "Preparing the database…" and then
    nothing for 15-20 s (about ninety migrations on a busy 2-core machine), which looked hung."""
    stack = start_runstack(tmp_path, pick_free_ports(3))
    try:
        output = read_until(stack, "vibeapp is running.")
    finally:
        stop_runstack(stack)
    steps = output[output.index("Preparing the database") : output.index("Schedules are up to date.")]
    lines = steps.splitlines()
    assert str(tmp_path / "db.sqlite3") in lines[0] and "migrations to apply" in lines[0], steps
    assert "  botcore: " in steps and "  tenants: " in steps, steps
    assert "Applying" not in steps  # Django's line per migration would be ~90 of them
    assert len(lines) <= 12 and lines[-1].startswith("Database ready: "), steps
