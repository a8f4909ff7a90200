"""A qcluster stopped the way its systemd unit stops it ends, with every process it forked, well inside the
unit's stop timeout.

systemd's default KillMode (control-group) sends the stop signal to every process of the service at once.
django-q2's sentinel then dies at once (SIGTERM is fatal to it) while it waits on the cluster's stop event,
and the first process, stopping its cluster on the same signal, waits on that event for the dead sentinel
forever: the stop hangs until systemd's SIGKILL at TimeoutStopSec ends every poll cycle in flight. Sent to
the first process alone (KillMode=mixed), the signal stops the sentinel, workers, pusher and monitor in order.
"""

from __future__ import annotations

import configparser
import os
import signal
import time

import psutil
import pytest

from tests.botcore.livestack import ROOT, LiveStack, wait_for
from vibeapp.children import is_group_alive

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UNIT = ROOT / "deploy" / "systemd" / "vibeapp-qcluster.service"


def unit_service_settings() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read(UNIT, encoding="utf-8")
    return unit["Service"]


def stop_as_systemd_does(pid: int, *, kill_mode: str, signum: int) -> None:
    """systemd's stop: the signal to every process of the service, or to its main process only."""
    if kill_mode == "control-group":
        os.killpg(pid, signum)  # the test's stack starts each process as the leader of its own group
    elif kill_mode in ("mixed", "process"):
        os.kill(pid, signum)
    else:
        raise AssertionError(f"KillMode={kill_mode}: SIGKILL alone, the workers never stop in order")


def test_the_qcluster_unit_stops_the_cluster_in_order_within_its_stop_timeout():
    service = unit_service_settings()
    kill_mode = service.get("KillMode", "control-group")
    signum = getattr(signal, service.get("KillSignal", "SIGTERM"))
    stop_timeout = float(service.get("TimeoutStopSec", "90"))
    stack = LiveStack(
        base_url="http://127.0.0.1:9/v1",  # no platform: an idle cluster is stopped
        app_key="vibe_app_" + "0" * 40,
        extra_env={"VIBE_Q_WORKERS": "2"},
    )
    try:
        process = stack.start("qcluster")
        wait_for(
            lambda: len(psutil.Process(process.pid).children(recursive=True)) == 5,
            timeout=30,
            what="the cluster's sentinel, two workers, pusher and monitor",
        )
        # Running: the sentinel spends its time in its guard loop, waiting on the stop event between rounds.
        time.sleep(2)
        stop_as_systemd_does(process.pid, kill_mode=kill_mode, signum=signum)
        # A third of the unit's timeout: an idle cluster stops in a second or two.
        wait_for(
            lambda: process.poll() is not None and not is_group_alive(pgid=process.pid),
            timeout=stop_timeout / 3,
            interval=0.1,
            what=(
                f"the qcluster and every process it forked to end after KillMode={kill_mode} sent"
                f" {signal.Signals(signum).name} (else systemd SIGKILLs it and every cycle in flight)"
            ),
        )
    finally:
        stack.stop()
