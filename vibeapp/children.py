"""Stop the child process groups runstack started: SIGTERM, a grace period, then SIGKILL for what is left."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable


def signal_group(*, pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # already gone


def is_group_alive(*, pgid: int) -> bool:
    """True while any process is left in the group (a qcluster's workers outlive their parent briefly)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_groups(processes: Iterable[subprocess.Popen], *, grace: float = 10.0) -> list[int]:
    """SIGTERM every leader, wait up to `grace` seconds for its group to end, SIGKILL what is left.

    SIGTERM, not SIGINT: a process started in the background ignores SIGINT. Only the leader gets it: a
    qcluster stops its own workers, and hangs waiting for them if they were signalled behind its back.
    Each child leads its own process group (start_new_session), so the fallback reaches the whole tree.
    Returns the pids of the leaders whose group had to be killed.
    """
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for process in processes:
            process.poll()  # reap a finished leader, or it stays in its group as a zombie
        if not any(is_group_alive(pgid=p.pid) for p in processes):
            break
        time.sleep(0.1)
    killed = [p.pid for p in processes if is_group_alive(pgid=p.pid)]
    for pgid in killed:
        signal_group(pgid=pgid, signum=signal.SIGKILL)
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass  # unkillable only in a stuck kernel call; nothing more a user-space parent can do
    return killed
