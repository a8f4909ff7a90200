"""A heartbeat per process: two qclusters on one host each beat their own row, so one of them dead shows on
/readyz, the fleet dashboard, `/metrics` and `check_heartbeat --pid`, rather than the other's beats keeping
a shared (kind, host) row fresh (an operator trial ran two qclusters by hand on one host and killed one)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from ops.fleet import gather_fleet
from ops.heartbeat import beat_qcluster, record_heartbeat, this_instance, this_process
from ops.models import Heartbeat
from tests.botcore.livestack import ROOT, LiveStack, wait_for
from tests.ops.test_metrics import scrape, value

# The variable `manage.py qcluster` sets for the processes it forks (ops.heartbeat.PROCESS_PID_ENV), spelt
# out so that the code before it fails on the count, not on an import.
PROCESS_PID_ENV = "VIBE_HEARTBEAT_PID"


def beat_as(monkeypatch, pid: int) -> None:
    """A qcluster's beat from the cluster whose first process is `pid` (its workers inherit the variable)."""
    monkeypatch.setenv(PROCESS_PID_ENV, str(pid))
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER, force=True)


@pytest.mark.django_db
def test_one_of_two_qclusters_on_a_host_gone_silent_shows_everywhere_an_operator_looks(monkeypatch, settings):
    beat_as(monkeypatch, 101)
    beat_as(monkeypatch, 102)
    assert Heartbeat.objects.filter(kind="qcluster").count() == 2
    # 101 dies; 102 goes on beating after each task, as the one still running does.
    Heartbeat.objects.filter(instance=this_process(101)).update(
        beat_at=timezone.now() - timedelta(minutes=10)
    )
    beat_as(monkeypatch, 102)

    qclusters = {p.instance: p.is_alive for p in gather_fleet().processes if p.kind == "qcluster"}
    assert qclusters == {this_process(101): False, this_process(102): True}

    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert check["ok"] is True, "one qcluster of two still answers every bot"
    assert (check["alive"], check["silent"]) == (1, 1)

    assert value(scrape(), "vibeapp_processes_alive", kind="qcluster") == 1

    call_command("check_heartbeat", "qcluster", "--pid", "102")
    with pytest.raises(CommandError, match="old"):
        call_command("check_heartbeat", "qcluster", "--pid", "101")
    call_command("check_heartbeat", "qcluster")  # without --pid: any process of this host, as before


@pytest.mark.django_db
def test_a_row_of_the_release_before_counts_as_this_hosts_and_old_rows_are_deleted(monkeypatch):
    """A row written before beats were per process names the host alone; the minute's beat deletes the rows
    of processes silent for a day (each restart leaves one)."""
    Heartbeat.objects.create(kind="poller", instance=this_instance(), beat_at=timezone.now())
    call_command("check_heartbeat", "poller")
    Heartbeat.objects.create(
        kind="poller", instance=f"{this_instance()}:7", beat_at=timezone.now() - timedelta(days=2)
    )
    Heartbeat.objects.create(kind="poller", instance="another-host:8", beat_at=timezone.now())
    monkeypatch.setenv(PROCESS_PID_ENV, "9")
    beat_qcluster()
    assert sorted(Heartbeat.objects.values_list("instance", flat=True)) == sorted(
        [this_instance(), "another-host:8", this_process(9)]
    )


@pytest.mark.django_db
def test_a_row_names_its_pid_space_and_check_heartbeat_pid_reads_the_release_befores_through_an_upgrade(
    monkeypatch,
):
    """Two containers under one host name (hostNetwork pods, a container restarted) whose qclusters both run
    as PID 1 beat a row each, apart by pid space, not one between them that hid a death. A process of the
    release before names its row `host:pid`: `check_heartbeat --pid` still finds it."""
    monkeypatch.setenv(PROCESS_PID_ENV, "1")
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER, force=True)
    row = Heartbeat.objects.get(kind="qcluster")
    assert row.instance == this_process(1) and row.instance.startswith(f"{this_instance()}:1@")
    assert row.pid_space and row.instance.endswith(f"@{row.pid_space}")

    Heartbeat.objects.create(kind="poller", instance=f"{this_instance()}:5", beat_at=timezone.now())
    call_command("check_heartbeat", "poller", "--pid", "5")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_real_qclusters_on_one_host_each_beat_under_their_own_pid(settings):
    """The real `manage.py qcluster` twice beside each other: each cluster's monitor and workers beat under
    its first process's pid, and the one killed (with its workers, as a crash takes them) falls silent."""
    settings.OPS_HEARTBEAT_MAX_AGE_SECONDS = {**settings.OPS_HEARTBEAT_MAX_AGE_SECONDS, "qcluster": 4}
    stack = LiveStack(
        base_url="http://127.0.0.1:9/v1",  # no platform: the tasks here never call it
        app_key="vibe_app_" + "0" * 40,
        extra_env={"OPS_HEARTBEAT_EVERY_SECONDS": "0.5"},
    )
    try:
        first, second = stack.start("qcluster1").pid, stack.start("qcluster2").pid
        expected = {this_process(first), this_process(second)}

        def beats() -> set[str]:
            return set(Heartbeat.objects.filter(kind="qcluster").values_list("instance", flat=True))

        def enqueue_beats() -> None:
            """Tasks for whichever cluster takes them; each beats after it (post_execute, in the monitor)."""
            task = "async_task('ops.heartbeat.max_age', 'qcluster');"
            code = "from django_q.tasks import async_task\n" + task * 8
            subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
                cwd=ROOT, env=stack.env, check=True, capture_output=True,
            )  # fmt: skip

        def both_beat() -> bool:
            enqueue_beats()
            return beats() == expected

        wait_for(both_beat, timeout=60, interval=1, what="a row per cluster")
        stack.kill("qcluster1")

        def first_silent() -> bool:
            enqueue_beats()
            alive = {p.instance for p in gather_fleet().processes if p.kind == "qcluster" and p.is_alive}
            return alive == {this_process(second)}

        wait_for(first_silent, timeout=30, interval=1, what="the killed cluster shown silent")
        check = Client().get("/readyz").json()["checks"]["qcluster"]
        assert (check["ok"], check["alive"], check["silent"]) == (True, 1, 1)
    finally:
        stack.stop()
    beat_qcluster()  # the test process's own beat (its pid) sits beside theirs, not over them
    assert len(beats()) == 3
