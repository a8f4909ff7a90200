"""The sandbox as a process of its own for a benchmark: on a port nobody else holds, waited for until it
answers (polling.py, chaos_stack.py, client_overhead.py start it this one way)."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def refuse_taken_port(port: int) -> None:
    """Stop if something already listens on `port`: a sandbox left from an earlier run would answer in
    place of this run's own, with its own state (a stopping one holds no long-poll), and the figures would
    be its."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(
                f"port {port} is taken (a sandbox left from an earlier run?): free it or pick another"
            )


def wait_for_sandbox(process: subprocess.Popen, root_url: str, *, timeout: float = 30.0) -> None:
    """Return once the sandbox at `root_url` answers; stop if its process exited first (it could not
    bind, or failed to start) or it never answered within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the sandbox exited with {process.returncode} before answering at {root_url}")
        try:
            if httpx.get(f"{root_url}/_sandbox/state", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"the sandbox did not answer at {root_url} within {timeout:g} s")
