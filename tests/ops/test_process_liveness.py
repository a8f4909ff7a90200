"""A process's liveness is its own beat, kept apart from the beat of its work: an idle qcluster is alive (its
sentinel's guard loop beats), and a process stopped on purpose is stopped at once, neither alive nor silent.

Two idle qclusters read one of them silent: a qcluster beat only after its tasks and the minute's schedule,
which one cluster of the two takes, so the other could take nothing for its 180 s and /metrics, /readyz,
the fleet dashboard and `check_heartbeat --pid` all read it dead (docs/operators.md said to give the alert a
longer `for`). And a qcluster or poller stopped with SIGTERM counted alive for 180 s (60 s) after it ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone

from ops.fleet import gather_fleet
from ops.heartbeat import record_heartbeat, this_process
from ops.models import Heartbeat
from tests.botcore.livestack import ROOT, LiveStack, wait_for
from tests.ops.test_metrics import scrape, value

# ops.heartbeat.PROCESS_PID_ENV, spelt out (tests/ops/test_process_heartbeats.py).
PROCESS_PID_ENV = "VIBE_HEARTBEAT_PID"


def process(pid: int) -> str:
    return this_process(pid)


def work_as(monkeypatch, pid: int) -> None:
    """The qcluster whose first process is `pid` ran a task (its monitor beats after each)."""
    monkeypatch.setenv(PROCESS_PID_ENV, str(pid))
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER, force=True)


def states(kind: str = "qcluster") -> dict[str, str]:
    """Each process of `kind` as the fleet dashboard shows it."""
    return {
        p.instance: "alive" if p.is_alive else ("stopped" if getattr(p, "is_stopped", False) else "silent")
        for p in gather_fleet().processes
        if p.kind == kind
    }


def a_while_ago(**delta) -> None:
    """Every beat so far, `delta` older."""
    for row in Heartbeat.objects.all():
        Heartbeat.objects.filter(pk=row.pk).update(beat_at=row.beat_at - timedelta(**delta))
        if getattr(row, "alive_until", None) is not None:  # a column of the liveness beat's own max age
            Heartbeat.objects.filter(pk=row.pk).update(alive_until=row.alive_until - timedelta(**delta))
    Heartbeat.objects.filter(worked_at__isnull=False).update(worked_at=timezone.now() - timedelta(**delta))


@pytest.fixture
def frozen_clock():
    """This process's clock stopped where it stands (time_machine, tick=False), moved on only by the test's
    `shift(seconds)`: a beat's age is then what the test says it is, however slowly the host runs (a guard
    loop's beat at OPS_HEARTBEAT_EVERY_SECONDS=0 holds 3 s, and a loaded host read it silent before the
    test's last look)."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


class StopEvent:
    """django-q2's stop event as the guard loop reads it, never set."""

    def is_set(self) -> bool:
        return False

    def wait(self, timeout: float | None = None) -> bool:
        return False

    def set(self) -> None:
        raise AssertionError("the guard loop's beat must not stop the cluster")


@pytest.mark.django_db
def test_an_idle_qcluster_is_alive_past_the_max_age_by_its_guard_loops_beat(
    monkeypatch, settings, frozen_clock
):
    """Both clusters worked once; then only 101 takes the tasks and the minute's schedule, for longer than the
    max age. 102's sentinel goes on guarding its idle workers, and that is what says it lives."""
    from vibeapp.qcluster import BeatEachGuardTurn

    settings.OPS_HEARTBEAT_EVERY_SECONDS = 0
    work_as(monkeypatch, 101)
    work_as(monkeypatch, 102)
    a_while_ago(minutes=10)  # 180 s is the max age
    work_as(monkeypatch, 101)
    guard_turn = BeatEachGuardTurn(StopEvent())
    monkeypatch.setenv(PROCESS_PID_ENV, "102")
    assert guard_turn.wait(0) is False and guard_turn.is_set() is False

    assert states() == {process(101): "alive", process(102): "alive"}
    assert value(scrape(), "vibeapp_processes_alive", kind="qcluster") == 2
    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert (check["ok"], check["alive"], check["silent"]) == (True, 2, 0)
    call_command("check_heartbeat", "qcluster", "--pid", "102")


@pytest.mark.django_db
def test_a_qcluster_whose_guard_loop_stopped_beating_reads_silent_after_three_beats_not_its_max_age(
    monkeypatch, settings, frozen_clock
):
    """The liveness beat holds for three beat intervals, the work's for the kind's max age (180 s): a
    cluster whose sentinel is gone (killed with its group) is read dead by every reader half a minute on,
    while a poller, whose beat is its round's, is read by its own max age (60 s) and a quiet one stays
    alive."""
    from ops.heartbeat import record_liveness

    settings.OPS_HEARTBEAT_EVERY_SECONDS = 10
    monkeypatch.setattr("ops.heartbeat._last_beat", {})
    monkeypatch.setenv(PROCESS_PID_ENV, "102")
    record_liveness(kind=Heartbeat.Kind.QCLUSTER)
    work_as(monkeypatch, 102)  # it did its work too: the work's beat makes it no longer-lived
    record_heartbeat(kind=Heartbeat.Kind.POLLER, force=True)
    # The clock moves only here: the ages read below are the test's own, not a busy host's (the check's
    # "31s old" read 32 half a second later, and a beat 29 s old read silent a second later).
    frozen_clock.shift(31)

    assert states() == {process(102): "silent"}
    assert states("poller") == {process(102): "alive"}
    assert value(scrape(), "vibeapp_processes_alive", kind="qcluster") == 0
    assert value(scrape(), "vibeapp_processes_alive", kind="poller") == 1
    checks = Client().get("/readyz").json()["checks"]
    assert (checks["qcluster"]["alive"], checks["qcluster"]["silent"]) == (0, 1)
    assert checks["qcluster"]["ok"] is True, "its work is 31 s old: the kind is up, one process of it is dead"
    assert (checks["poller"]["alive"], checks["poller"]["silent"]) == (1, 0)
    with pytest.raises(CommandError, match="31s old"):
        call_command("check_heartbeat", "qcluster", "--pid", "102")
    call_command("check_heartbeat", "poller", "--pid", "102")

    # Within the three beats, alive: one late beat is no death.
    record_liveness(kind=Heartbeat.Kind.QCLUSTER, force=True)
    frozen_clock.shift(29)
    assert states() == {process(102): "alive"}


@pytest.mark.django_db
def test_the_guard_loops_beat_is_no_work_beat(monkeypatch, settings, frozen_clock):
    """A sentinel guarding workers wedged on a lock (vibeapp/qcluster.py) beats all the same: /readyz reads
    the kind's work from the tasks' and the schedule's beats, so a cluster alive but doing nothing is down."""
    from vibeapp.qcluster import BeatEachGuardTurn

    settings.OPS_HEARTBEAT_EVERY_SECONDS = 0
    monkeypatch.setenv(PROCESS_PID_ENV, "102")
    BeatEachGuardTurn(StopEvent()).wait(0)
    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert check["ok"] is False and check["alive"] == 1 and "never" in check["error"]

    work_as(monkeypatch, 102)
    a_while_ago(minutes=10)
    BeatEachGuardTurn(StopEvent()).wait(0)
    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert (check["ok"], check["alive"]) == (False, 1) and check["age_seconds"] >= 600
    assert value(scrape(), "vibeapp_heartbeat_age_seconds", kind="qcluster") >= 600


@pytest.mark.django_db
def test_the_guard_loops_beat_never_raises_and_tries_the_database_once_per_interval(monkeypatch, settings):
    """The guard loop restarts dead workers every half second: a database that refuses costs it one try per
    beat interval, not one per turn (each may wait for a connection)."""
    from ops import heartbeat
    from vibeapp.qcluster import BeatEachGuardTurn

    settings.OPS_HEARTBEAT_EVERY_SECONDS = 3600
    monkeypatch.setattr(heartbeat, "_last_beat", {})  # this process's beats of the tests before
    monkeypatch.setenv(PROCESS_PID_ENV, "103")
    tries = []

    def refused(*args, **kwargs):
        tries.append(1)
        raise DatabaseError("connection refused")

    monkeypatch.setattr(Heartbeat.objects, "update_or_create", refused)
    guard_turn = BeatEachGuardTurn(StopEvent())
    for _ in range(5):
        assert guard_turn.wait(0) is False
    assert len(tries) == 1


def test_a_stopping_cluster_beats_for_as_long_as_a_healthy_stop_takes_and_no_longer(monkeypatch):
    """Its workers end their tasks within the task timeout, then django-q2 waits for the monitor as long: a
    stop hung past both (a worker that never ends) reads silent, not alive for as long as it hangs."""
    from django_q.conf import Conf

    from vibeapp import qcluster

    monkeypatch.setattr(Conf, "TIMEOUT", 0.5)
    monkeypatch.setattr(Conf, "GUARD_CYCLE", 0.01)
    # The stop's clock is the test's: it moves only when the test moves it, whatever the host's load makes of
    # the real turns of the wait.
    now = [0.0]
    monkeypatch.setattr(qcluster, "time", SimpleNamespace(monotonic=lambda: now[0]))
    beats: list[float] = []
    monkeypatch.setattr(qcluster, "beat_cluster_alive", lambda: beats.append(now[0]))

    def beating() -> bool:
        return any(thread.name == "liveness-while-stopping" for thread in threading.enumerate())

    def beats_on(what: str) -> None:
        seen = len(beats)
        wait_for(lambda: len(beats) > seen + 1, timeout=60, what=what)

    with qcluster.beating_while_stopping():  # a stop hung past both timeouts
        beats_on("the stop's first beats")
        now[0] = 0.99  # within two task timeouts: it beats on
        beats_on("beats just short of two task timeouts")
        now[0] = 1.0
        wait_for(lambda: not beating(), timeout=60, what="the beats to end while the stop still hangs")
    assert beats[-1] == 0.99

    beats.clear()
    now[0] = 0.0
    with qcluster.beating_while_stopping():  # a healthy stop, said while it beats
        beats_on("the stop's first beats")
    assert not beating(), "no beat after the stop is said: its thread has ended with it"


@pytest.mark.django_db
def test_a_process_stopped_on_purpose_is_stopped_at_once_neither_alive_nor_silent(monkeypatch, operator):
    from ops.heartbeat import record_stop

    work_as(monkeypatch, 101)
    work_as(monkeypatch, 102)
    monkeypatch.setenv(PROCESS_PID_ENV, "101")
    record_stop(kind=Heartbeat.Kind.QCLUSTER)

    assert states() == {process(101): "stopped", process(102): "alive"}
    assert value(scrape(), "vibeapp_processes_alive", kind="qcluster") == 1
    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert (check["ok"], check["alive"], check["silent"], check["stopped"]) == (True, 1, 0, 1)
    with pytest.raises(CommandError, match="stopped"):
        call_command("check_heartbeat", "qcluster", "--pid", "101")
    page = operator.get("/admin/fleet/").content.decode()
    assert "stopped" in page and "silent" not in page

    # The last one stopped too: none runs. /readyz stays up for the work's max age (a restart's successor
    # beats within seconds, and no probe should fail for that gap), saying none is alive; then down.
    monkeypatch.setenv(PROCESS_PID_ENV, "102")
    record_stop(kind=Heartbeat.Kind.QCLUSTER)
    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert (check["ok"], check["alive"], check["silent"], check["stopped"]) == (True, 0, 0, 2)
    with pytest.raises(CommandError, match="stopped"):
        call_command("check_heartbeat", "qcluster")
    a_while_ago(minutes=10)
    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert (check["ok"], check["alive"], check["silent"], check["stopped"]) == (False, 0, 0, 2)

    # A process started again under the pid (a container restarted, the pid reused) beats it back to life.
    work_as(monkeypatch, 101)
    assert states()[process(101)] == "alive"


@pytest.mark.django_db
def test_a_stopped_process_leaves_the_list_with_the_silent_a_day_later(monkeypatch):
    from ops.heartbeat import beat_qcluster, record_stop

    work_as(monkeypatch, 101)
    monkeypatch.setenv(PROCESS_PID_ENV, "101")
    record_stop(kind=Heartbeat.Kind.QCLUSTER)
    a_while_ago(days=2)
    monkeypatch.setenv(PROCESS_PID_ENV, "102")
    beat_qcluster()
    assert states() == {process(102): "alive"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_idle_real_qclusters_stay_alive_and_a_stopped_one_and_poller_are_stopped_at_once(settings):
    """Two real `manage.py qcluster` and a `runpoller`, given no task at all (no schedule either) for longer
    than the qcluster's max age: each cluster stays alive by its sentinel's beat. SIGTERM (systemd's
    KillMode=mixed, compose's stop) to one cluster and to the poller: each reads stopped at once."""
    settings.OPS_HEARTBEAT_MAX_AGE_SECONDS = {"poller": 3, "qcluster": 3}
    stack = LiveStack(
        base_url="http://127.0.0.1:9/v1",  # no platform: nothing here calls it
        app_key="vibe_app_" + "0" * 40,
        extra_env={"OPS_HEARTBEAT_EVERY_SECONDS": "0.5"},
    )
    try:
        first, second = stack.start("qcluster1").pid, stack.start("qcluster2").pid
        poller = stack.start("poller").pid
        wait_for(
            lambda: states() == {process(first): "alive", process(second): "alive"},
            timeout=60,
            what="both clusters alive",
        )
        wait_for(lambda: states("poller") == {process(poller): "alive"}, timeout=60, what="the poller alive")
        started = timezone.now()
        # Past the max age with no task taken: each still alive at every look.
        while timezone.now() - started < timedelta(seconds=5):
            assert states() == {process(first): "alive", process(second): "alive"}
            wait_for(lambda: True, timeout=1)
        assert value(scrape(), "vibeapp_processes_alive", kind="qcluster") == 2
        call_command("check_heartbeat", "qcluster", "--pid", str(first))
        call_command("check_heartbeat", "qcluster", "--pid", str(second))
        assert not Heartbeat.objects.filter(kind="qcluster", worked_at__isnull=False).exists()

        for name in ("qcluster1", "poller"):
            running = stack.processes.pop(name)
            os.kill(running.pid, signal.SIGTERM)
            running.wait(timeout=30)
        assert states() == {process(first): "stopped", process(second): "alive"}
        assert states("poller") == {process(poller): "stopped"}
        assert value(scrape(), "vibeapp_processes_alive", kind="qcluster") == 1
        check = Client().get("/readyz").json()["checks"]
        assert (check["qcluster"]["alive"], check["qcluster"]["silent"], check["qcluster"]["stopped"]) == (
            1, 0, 1,
        )  # fmt: skip
        assert (check["poller"]["alive"], check["poller"]["silent"], check["poller"]["stopped"]) == (0, 0, 1)
    finally:
        stack.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_killed_whole_reads_dead_within_three_beats():
    """A real `manage.py qcluster`, idle, killed with its whole group (SIGKILL: a crash, the OOM killer, its
    container gone) says nothing as it dies. It beat every second; it counted alive for its max age (180 s
    here, the default) all the same, on /readyz, /metrics, the fleet dashboard and check_heartbeat, because
    one max age served the work's beat and the liveness beat. Now it reads silent three beats on."""
    stack = LiveStack(
        base_url="http://127.0.0.1:9/v1",  # no platform: nothing here calls it
        app_key="vibe_app_" + "0" * 40,
        extra_env={"OPS_HEARTBEAT_EVERY_SECONDS": "1"},
    )
    try:
        pid = stack.start("qcluster").pid
        wait_for(lambda: states() == {process(pid): "alive"}, timeout=60, what="the cluster alive")
        stack.kill("qcluster")
        killed = time.monotonic()
        wait_for(lambda: states() == {process(pid): "silent"}, timeout=90, what="the killed cluster silent")
        read_dead_after = time.monotonic() - killed
    finally:
        stack.stop()
    # Three beats of a second (and a beat's write in flight as it died) are the rule; the bound leaves a
    # loaded machine's slow reads their room and still fails the old reading (alive for its 180 s max age).
    assert read_dead_after < 60
    assert value(scrape(), "vibeapp_processes_alive", kind="qcluster") == 0
    check = Client().get("/readyz").json()["checks"]["qcluster"]
    assert (check["alive"], check["silent"], check["stopped"]) == (0, 1, 0)
    with pytest.raises(CommandError, match="old"):
        call_command("check_heartbeat", "qcluster", "--pid", str(pid))


def note_and_sleep(path: str, seconds: str) -> None:
    """The task: say it started, then take `seconds` (a worker busy as a stop begins)."""
    Path(path).write_text("started", encoding="utf-8")
    time.sleep(float(seconds))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_stopping_while_a_task_runs_is_alive_until_it_has_stopped(tmp_path):
    """A stop on purpose waits for each worker to end its task (up to VIBE_Q_TIMEOUT); the guard loop that
    beat has ended. Its beat holding three intervals, a cluster still finishing its work read silent, as a
    dead one, for the rest of its stop: the sentinel beats while it stops."""
    stack = LiveStack(
        base_url="http://127.0.0.1:9/v1",  # no platform: nothing here calls it
        app_key="vibe_app_" + "0" * 40,
        # Its beat holds 3 s; a task may take 20 s (lease > timeout > deadline, django-q2's retry after it).
        extra_env={
            "OPS_HEARTBEAT_EVERY_SECONDS": "0.5",
            "VIBE_Q_TIMEOUT": "20",
            "BOTCORE_LEASE_SECONDS": "25",
            "VIBE_Q_RETRY": "30",
        },
    )
    started = tmp_path / "started"
    try:
        qcluster = stack.start("qcluster")
        wait_for(lambda: states() == {process(qcluster.pid): "alive"}, timeout=60, what="the cluster alive")
        task = f"async_task('{__name__}.note_and_sleep', {str(started)!r}, '10')"
        code = f"from django_q.tasks import async_task; {task}"
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
            cwd=ROOT, env=stack.env, check=True, capture_output=True,
        )  # fmt: skip
        wait_for(started.exists, timeout=30, what="the task running")
        stack.processes.pop("qcluster")
        os.kill(qcluster.pid, signal.SIGTERM)
        stopping = time.monotonic()
        seen = []
        while qcluster.poll() is None:
            seen.append(states()[process(qcluster.pid)])
            time.sleep(0.2)
        stopped_after = time.monotonic() - stopping
    finally:
        stack.stop()
    assert stopped_after > 5, "the stop waited for the task, longer than the beat holds"
    assert "silent" not in seen and seen[0] == "alive", seen
    assert states() == {process(qcluster.pid): "stopped"}
