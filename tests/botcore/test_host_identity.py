"""A lease token names its pid space (host name, the machine's boot, the PID namespace:
botcore.host_identity), and a qcluster starting hands back only the leases of its own pid space's dead
processes.

Keyed by a 16-bit tag of the host name alone, a qcluster starting in one of two containers given one host name
(compose's `hostname:` on a scaled service, pods with hostNetwork, two machines both called `localhost`) read
the pid of the other's live worker as gone, and handed its live lease back: a second cycle on that bot.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from botcore import host_identity
from botcore.models import Bot
from botcore.services.polling import release_cycles_of_dead_processes
from botcore.worker_liveness import read_lease_holder, worker_lease_prefix
from ops.heartbeat import PROCESS_PID_ENV, record_liveness, record_stop, this_process
from ops.models import Heartbeat
from tenants.models import Portal
from tests.botcore.livestack import ROOT, LiveStack

linux_only = pytest.mark.skipif(
    not Path(host_identity.PID_NAMESPACE_PATH).exists() or not Path(host_identity.BOOT_ID_PATH).exists(),
    reason="this host's identity is read from /proc (Linux)",
)


@pytest.fixture
def inputs(monkeypatch, tmp_path):
    """Run the body as a process of another pid space under this host name: another machine's boot id, or
    another PID namespace (a file's inode stands for the namespace's)."""

    @contextmanager
    def elsewhere(*, machine: bool = False, namespace: bool = False):
        with monkeypatch.context() as patched:
            if machine:
                boot_id = tmp_path / f"boot_id-{uuid.uuid4().hex}"
                boot_id.write_text(f"{uuid.uuid4()}\n")
                patched.setattr(host_identity, "BOOT_ID_PATH", str(boot_id))
            if namespace:
                pid_namespace = tmp_path / f"ns-pid-{uuid.uuid4().hex}"
                pid_namespace.touch()
                patched.setattr(host_identity, "PID_NAMESPACE_PATH", str(pid_namespace))
            yield

    return elsewhere


def dead_pid() -> int:
    """The pid of a process that ran here and was reaped: no process of this pid space has it."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    return int(child.stdout)


def leased_bot(portal: Portal, code: str, token_prefix: str) -> Bot:
    return Bot.objects.create(
        portal=portal, code=code, name=code, vibe_bot_id=abs(hash(code)) % 10**6, status=Bot.Status.ACTIVE,
        lease_token=(token_prefix + "0" * 32)[:36], lease_until=timezone.now() + timedelta(seconds=300),
    )  # fmt: skip


@linux_only
@pytest.mark.django_db
def test_a_live_lease_of_another_pid_space_under_this_host_name_is_never_handed_back(inputs):
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    pid = dead_pid()
    # The same pid, live in each of the other two: a pod beside this one on the node's network (its own
    # PID namespace), and another machine also called this (the initial PID namespace's inode is one
    # number on every Linux machine; its boot id is its own).
    with inputs(namespace=True):
        pod = leased_bot(portal, "pod", worker_lease_prefix(pid))
    with inputs(machine=True):
        machine = leased_bot(portal, "machine", worker_lease_prefix(pid))
    ours = leased_bot(portal, "ours", worker_lease_prefix(pid))  # a process of this pid space, dead

    assert release_cycles_of_dead_processes() == 1

    leased = {
        bot.code: bool(bot.lease_token) for bot in Bot.objects.filter(pk__in=[pod.pk, machine.pk, ours.pk])
    }
    assert leased == {"pod": True, "machine": True, "ours": False}


def beat_cluster(monkeypatch, pid: int) -> str:
    """A qcluster's sentinel beats its liveness in this pid space, its first process `pid`: its row's name."""
    monkeypatch.setenv(PROCESS_PID_ENV, str(pid))
    record_liveness(kind=Heartbeat.Kind.QCLUSTER, force=True)
    return this_process()


def fall_silent(instance: str) -> None:
    """The process beating this row was killed whole: its last beat's alive_until has gone by."""
    Heartbeat.objects.filter(instance=instance).update(alive_until=timezone.now() - timedelta(seconds=1))


def leases(*bots: Bot) -> dict[str, bool]:
    return {bot.code: bool(bot.lease_token) for bot in Bot.objects.filter(pk__in=[b.pk for b in bots])}


@linux_only
@pytest.mark.django_db
def test_a_restarted_containers_qcluster_hands_back_the_leases_of_the_one_it_replaces(inputs, monkeypatch):
    """A container restarted (compose's restart policy, a pod's container restart) keeps its host name and
    starts in a new PID namespace: its new qcluster, PID 1 as the old one was, hands back the leases the old
    one's workers held once every heartbeat row of the old pid space reads not alive. Before, they ran out
    (BOTCORE_LEASE_SECONDS): nothing was handed back."""
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    with inputs(namespace=True):  # the container before its restart: qcluster PID 1, workers 7 and 8
        old_cluster = beat_cluster(monkeypatch, 1)
        first = leased_bot(portal, "first", worker_lease_prefix(7))
        second = leased_bot(portal, "second", worker_lease_prefix(8))
    new_cluster = beat_cluster(monkeypatch, 1)  # the restarted container's qcluster, in this pid space
    assert new_cluster != old_cluster  # one host name, one pid: two rows, not one shared

    # Killed whole a moment ago: its sentinel's last beat still holds, and it may yet be alive.
    assert release_cycles_of_dead_processes() == 0
    assert leases(first, second) == {"first": True, "second": True}

    fall_silent(old_cluster)
    assert release_cycles_of_dead_processes() == 2
    assert leases(first, second) == {"first": False, "second": False}
    assert release_cycles_of_dead_processes() == 0


@linux_only
@pytest.mark.django_db
def test_only_a_pid_space_all_of_whose_rows_read_not_alive_has_its_leases_handed_back(inputs, monkeypatch):
    """Another pid space whose sentinel beats keeps its leases, however its pids look from here; so does one
    with any row alive (a second qcluster in it), and one with no row at all (a process that never beat:
    nothing proves it dead). One whose qcluster said it stopped, and then ended, is handed back."""
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    pid = dead_pid()
    with inputs(namespace=True):  # a live sibling under this host name (hostNetwork), its sentinel beating
        beat_cluster(monkeypatch, 1)
        live = leased_bot(portal, "live", worker_lease_prefix(pid))
    with inputs(namespace=True):  # two qclusters in one container: one killed whole, one alive
        fall_silent(beat_cluster(monkeypatch, 1))
        beat_cluster(monkeypatch, 40)
        half = leased_bot(portal, "half", worker_lease_prefix(pid))
    with inputs(machine=True):  # never beat (a drain taken by a web process): no row of its pid space
        unseen = leased_bot(portal, "unseen", worker_lease_prefix(pid))
    with inputs(namespace=True):  # stopped on purpose, its workers killed past their timeout
        beat_cluster(monkeypatch, 1)
        record_stop(kind=Heartbeat.Kind.QCLUSTER)
        stopped = leased_bot(portal, "stopped", worker_lease_prefix(pid))
    with inputs(namespace=True):  # killed whole
        fall_silent(beat_cluster(monkeypatch, 1))
        killed = leased_bot(portal, "killed", worker_lease_prefix(pid))

    assert release_cycles_of_dead_processes() == 2
    assert leases(live, half, unseen, stopped, killed) == {
        "live": True, "half": True, "unseen": True, "stopped": False, "killed": False,
    }  # fmt: skip


@pytest.mark.django_db
def test_a_lease_of_the_release_before_is_read_and_left_to_run_out():
    """A token of the release before names its host by 4 hex digits of its host name's hash alone: which
    container under that name took it cannot be told, so its lease runs out rather than being handed back
    on a pid check."""
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    pid = dead_pid()
    legacy_tag = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4]
    before = leased_bot(portal, "before", f"{legacy_tag}{pid:x}-")
    holder = read_lease_holder(before.lease_token)
    assert holder is not None and (holder.host_tag, holder.pid, holder.is_legacy) == (legacy_tag, pid, True)

    assert release_cycles_of_dead_processes() == 0
    before.refresh_from_db()
    assert before.lease_token.startswith(legacy_tag) and before.lease_until is not None


def test_the_host_tag_is_one_for_one_pid_space_and_another_for_any_other(monkeypatch, tmp_path):
    boot_id, pid_namespace = tmp_path / "boot_id", tmp_path / "pid"
    boot_id.write_text("5f6a0b2e-0000-4000-8000-000000000001\n")
    pid_namespace.touch()
    monkeypatch.setattr(host_identity, "BOOT_ID_PATH", str(boot_id))
    monkeypatch.setattr(host_identity, "PID_NAMESPACE_PATH", str(pid_namespace))
    tag = host_identity.this_host_tag()
    assert tag == host_identity.this_host_tag() and len(tag) == host_identity.HOST_TAG_LENGTH

    monkeypatch.setattr(socket, "gethostname", lambda: "another-host")
    assert host_identity.this_host_tag() != tag
    monkeypatch.undo()

    # Unreadable (not Linux): a tag of this process tree alone, never another's under the same host name.
    monkeypatch.setattr(host_identity, "BOOT_ID_PATH", str(tmp_path / "missing"))
    unidentified = host_identity.this_host_tag()
    assert unidentified != tag and unidentified == host_identity.this_host_tag()
    assert subprocess.run(
        [sys.executable, "-c", "from botcore.host_identity import _UNIDENTIFIED_TAG as t; print(t)"],
        capture_output=True, check=True, text=True, cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip() != unidentified  # fmt: skip


def can_unshare_pids() -> bool:
    """Whether this user may run a process in a PID namespace of its own (root, or user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    trial = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    return trial.returncode == 0


def a_pid_free_here() -> int:
    """A pid no process of this PID namespace has, below the kernel's bound for any namespace."""
    bound = int(Path("/proc/sys/kernel/pid_max").read_text())
    return next(pid for pid in range(bound - 1, bound // 2, -1) if not Path(f"/proc/{pid}").exists())


@pytest.mark.slow
@linux_only
@pytest.mark.skipif(not can_unshare_pids(), reason="no PID namespace of our own (unshare --pid)")
@pytest.mark.django_db(transaction=True)
def test_the_lease_of_a_real_process_in_another_pid_namespace_under_this_host_name_stays():
    """A real cycle of another container under this host name: `manage.py shell` in a PID namespace of its
    own (as a pod beside this one with hostNetwork), given a pid that no process here has, takes a bot's
    lease and ends. Its pid reads gone here, and its pid space is not this one: the lease stays."""
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    bot = Bot.objects.create(
        portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE, lease_token="handed-over",
        lease_until=timezone.now() + timedelta(seconds=300),
    )  # fmt: skip
    pid = a_pid_free_here()
    env = LiveStack(base_url="http://127.0.0.1:9/v1", app_key="vibe_app_" + "0" * 40).env
    take = (
        "from botcore.services.polling import take_cycle_lease; import os;"
        f"print(os.getpid(), take_cycle_lease({bot.pk}, 'handed-over'))"
    )
    # The namespace's first process sets its next pid; the shell it starts is given it.
    script = f'echo {pid - 1} > /proc/sys/kernel/ns_last_pid && {sys.executable} manage.py shell -c "{take}"'
    taken = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    their_pid, token = taken.stdout.splitlines()[-1].split()  # after whatever start-up prints
    bot.refresh_from_db()
    assert (int(their_pid), bot.lease_token) == (pid, token) and not Path(f"/proc/{pid}").exists()

    assert release_cycles_of_dead_processes() == 0
    bot.refresh_from_db()
    assert bot.lease_token == token


@linux_only
@pytest.mark.django_db
def test_a_qcluster_restarted_before_the_old_ones_liveness_ran_out_hands_its_leases_back_from_its_guard_loop(
    inputs, monkeypatch, settings
):
    """A restart policy starts the container again in seconds, within the half minute its qcluster killed
    whole still reads alive: nothing is handed back as the new one starts, and its sentinel's guard loop
    looks again, once a beat interval, until the old pid space reads dead."""
    from vibeapp.qcluster import BeatEachGuardTurn, hand_back_every_seconds

    settings.OPS_HEARTBEAT_EVERY_SECONDS = 0  # each beat written; the guard looks once a second
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    with inputs(namespace=True):
        old_cluster = beat_cluster(monkeypatch, 1)
        held = leased_bot(portal, "held", worker_lease_prefix(7))
    monkeypatch.setenv(PROCESS_PID_ENV, "1")
    assert release_cycles_of_dead_processes() == 0  # as the new cluster starts: the old one still reads alive

    guard = BeatEachGuardTurn(threading.Event())
    guard.wait(0)
    assert leases(held) == {"held": True}  # within the interval, no look
    fall_silent(old_cluster)
    time.sleep(hand_back_every_seconds())
    guard.wait(0)
    assert leases(held) == {"held": False}


def test_the_guard_loops_look_says_nothing_louder_than_debug_while_the_database_is_down(
    monkeypatch, settings, caplog
):
    """The database down (its runbook: /readyz names it), the guard loop's look fails once a beat interval:
    an ERROR with a traceback each time would bury the outage's own lines. One failing otherwise is an
    ERROR: nothing else would say leases are no longer handed back."""
    from django.db import OperationalError

    from botcore.services import polling
    from vibeapp import qcluster

    settings.OPS_HEARTBEAT_EVERY_SECONDS = 0
    monkeypatch.setattr(qcluster, "beat_cluster_alive", lambda: None)
    failure: list[Exception] = [OperationalError("connection refused")]

    def look() -> int:
        raise failure[0]

    monkeypatch.setattr(polling, "release_cycles_of_dead_processes", look)
    guard = qcluster.BeatEachGuardTurn(threading.Event())
    guard.next_hand_back = 0.0
    with caplog.at_level("DEBUG", logger="vibeapp.qcluster"):
        guard.wait(0)
    assert [r.levelname for r in caplog.records] == ["DEBUG"]

    caplog.clear()
    failure[0] = ValueError("a bug")
    guard.next_hand_back = 0.0
    guard.wait(0)
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_the_host_tag_is_read_from_proc_once_a_process(monkeypatch):
    """Each lease asks for the tag; /proc is read once, and again only in a forked child (another pid) or
    under another host name."""
    reads = []
    read = host_identity.read_host_identity
    monkeypatch.setattr(host_identity, "read_host_identity", lambda: reads.append(1) or read())
    monkeypatch.setattr(host_identity, "_tags_read", {}, raising=False)
    tags = {host_identity.this_host_tag() for _ in range(100)}
    assert len(tags) == 1 and len(reads) == 1

    monkeypatch.setattr(socket, "gethostname", lambda: "renamed-host")
    assert host_identity.this_host_tag() not in tags and len(reads) == 2
