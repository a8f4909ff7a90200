"""A web upgrade without refused connections: `systemctl reload vibeapp-web` collects the new release's
static files, then HUPs gunicorn, whose master keeps the listening socket while fresh workers (importing
the app anew: nothing is preloaded) replace the old ones; a restart refused connections 3-8 s."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.vibeapp.gunicorn_server import ROOT, collect_static, production_web_env, served_by_gunicorn

pytestmark = pytest.mark.slow

UNIT = ROOT / "deploy" / "systemd" / "vibeapp-web.service"


def children_of(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def gunicorn_master() -> int:
    """The gunicorn served_by_gunicorn started: this process's child running gunicorn."""
    for pid in children_of(os.getpid()):
        if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError("no gunicorn child")


def test_the_web_unit_reloads_by_collecting_static_files_and_then_hupping_gunicorn():
    lines = [line.split("=", 1) for line in UNIT.read_text().splitlines() if "=" in line]
    reloads = [value for name, value in lines if name == "ExecReload"]
    assert len(reloads) == 2, "collectstatic, then the HUP"
    assert "manage.py collectstatic" in reloads[0]
    assert reloads[1].split() == ["/bin/kill", "-HUP", "$MAINPID"]


def test_a_hup_replaces_gunicorns_workers_while_every_request_is_answered(tmp_path):
    env = production_web_env(tmp_path, HOME=str(tmp_path), XDG_RUNTIME_DIR="", VIBE_WEB_WORKERS="2")
    collect_static(env)
    statuses: list[int | str] = []
    stop = threading.Event()

    def ask(base: str, keep_alive: bool) -> None:
        # Up to the fresh workers' boot: a request the old ones no longer take waits in the socket's backlog
        # for them (13 s on two cores busy with other work), and a kept-alive connection as well as new ones.
        limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=60, limits=limits) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.get("/healthz").status_code)
                except httpx.TransportError as exc:
                    statuses.append(type(exc).__name__)

    with served_by_gunicorn(env) as base:
        master = gunicorn_master()
        before = children_of(master)
        asking = [threading.Thread(target=ask, args=(base, n % 2 == 0)) for n in range(4)]
        for thread in asking:
            thread.start()
        time.sleep(1)
        os.kill(master, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while (children_of(master) & before or len(children_of(master)) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        stop.set()
        for thread in asking:
            thread.join()
        after = children_of(master)
    assert before and len(after) == 2 and not after & before, "fresh workers replaced the old ones"
    assert len(statuses) > 20 and set(statuses) == {200}, sorted(set(map(str, statuses)))
