"""The real qcluster keeps running tasks after its workers are SIGKILLed while idle, and its workers share
the heap they were forked with, loaded before the fork with what every cycle needs.

An idle worker waits holding the task queue's read lock; killed there, it leaves the lock held, and with
django-q2's stock sentinel every worker after it blocks for good (vibeapp/qcluster.py says why). Counted by
side effect: each task appends one line to a file, and every task must have written its line exactly once.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django_q.models import Success

from tests.botcore.livestack import ROOT, LiveStack, wait_for
from tests.botcore.test_host_identity import can_unshare_pids

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 2


def note(path: str, text: str) -> None:
    """The task: one line per run, so a lost run and a repeated one both show."""
    with Path(path).open("a", encoding="utf-8") as file:
        file.write(text + "\n")


def note_frozen(path: str) -> None:
    """The task: how many objects this worker's collector leaves alone (frozen before the fork)."""
    Path(path).write_text(str(gc.get_freeze_count()), encoding="utf-8")


def note_preloaded(path: str) -> None:
    """The task: what this worker found loaded at its first task (it checks before loading anything)."""
    from botcore.vibe.http_clients import platform_tls

    tasks_loaded = "botcore.tasks" in sys.modules
    Path(path).write_text(f"{tasks_loaded} {platform_tls.cache_info().currsize}", encoding="utf-8")


def hold_a_cycle(path: str, bot_id: int) -> None:
    """The task: a poll cycle that takes its bot's lease and is still running when its worker is killed."""
    import time

    from botcore.services.polling import take_cycle_lease

    Path(path).write_text(take_cycle_lease(bot_id, "handed-over") or "", encoding="utf-8")
    time.sleep(300)


def hold_a_cycle_of(path: str, bot_id: str) -> None:
    """hold_a_cycle, its bot's id given as text (enqueue passes texts)."""
    hold_a_cycle(path, int(bot_id))


def is_live(process: psutil.Process) -> bool:
    """Running, not a zombie its new parent has yet to reap."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def enqueue(stack: LiveStack, path: Path, *texts: str, task: str = "note") -> None:
    """async_task from a process of the stack's settings: django-q2 signs a task with its queue's name.

    One `task(path, text)` per text, or one `task(path)` without texts."""
    arguments = [f"{str(path)!r}, {text!r}" for text in texts] or [f"{str(path)!r}"]
    calls = "".join(f"async_task('{__name__}.{task}', {argument});" for argument in arguments)
    code = f"from django_q.tasks import async_task;{calls}"
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        cwd=ROOT, env=stack.env, check=True, capture_output=True,
    )  # fmt: skip


def cluster_children(qcluster: psutil.Process) -> list[psutil.Process]:
    """The sentinel's children in the order it started them: the workers first, then monitor and pusher."""
    (sentinel,) = qcluster.children()
    return sorted(sentinel.children(), key=lambda child: (child.create_time(), child.pid))


def leased_bot():
    """A portal's active bot whose lease the pacer handed over a minute long, for a cycle to take."""
    from datetime import timedelta

    from django.utils import timezone

    from botcore.models import Bot
    from tenants.models import Portal

    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(
        portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE, lease_token="handed-over",
        lease_until=timezone.now() + timedelta(seconds=60),
    )  # fmt: skip


@pytest.fixture
def stack():
    stack = LiveStack(
        base_url="http://127.0.0.1:9/v1",  # no platform: these tasks never call it
        app_key="vibe_app_" + "0" * 40,
        extra_env={"VIBE_Q_WORKERS": str(WORKERS)},
    )
    yield stack
    stack.stop()


@pytest.mark.parametrize("victims", ["every worker", "the pusher and monitor", "everything"])
def test_tasks_run_once_each_after_the_clusters_children_are_killed(stack, tmp_path, victims):
    marks = tmp_path / "marks.txt"
    process = psutil.Process(stack.start("qcluster").pid)

    enqueue(stack, marks, "before")
    wait_for(lambda: lines(marks) == ["before"], timeout=30, what="the cluster running a first task")
    # ...and its result recorded: until the monitor has saved it (and, on the ORM broker, acknowledged the
    # task) a killed monitor loses the acknowledgement, and the broker rightly hands the task out again
    # after Q_CLUSTER's retry (at-least-once: the bots' own tasks are idempotent, this test's is not).
    wait_for(
        lambda: Success.objects.filter(func=f"{__name__}.note").count() == 1,
        timeout=30,
        what="the monitor recording the first result",
    )
    wait_for(lambda: len(cluster_children(process)) == WORKERS + 2, timeout=10, what="the idle cluster")

    children = cluster_children(process)
    doomed = {
        "every worker": children[:WORKERS],
        "the pusher and monitor": children[WORKERS:],
        "everything": children,
    }[victims]
    for child in doomed:
        child.send_signal(signal.SIGKILL)

    after = [f"after {n}" for n in range(5)]
    enqueue(stack, marks, *after)
    wait_for(
        lambda: sorted(lines(marks)) == sorted(["before", *after]),
        timeout=30,
        what=f"the tasks enqueued after {victims} died (ran: {lines(marks)})",
    )
    # The monitor works again too: it records each result (and, on the ORM broker, acknowledges the task,
    # which would otherwise be handed out again after Q_CLUSTER's retry).
    wait_for(
        lambda: Success.objects.filter(func=f"{__name__}.note").count() == 1 + len(after),
        timeout=30,
        what="the monitor recording every result",
    )
    assert sorted(lines(marks)) == sorted(["before", *after]), "no task ran twice"
    assert process.is_running(), "the qcluster itself stays up"


@pytest.fixture
def stack_with_long_leases():
    """A qcluster as deployed: leases (and the task timeout under them) far longer than the test waits."""
    stack = LiveStack(
        base_url="http://127.0.0.1:9/v1",
        app_key="vibe_app_" + "0" * 40,
        extra_env={
            "VIBE_Q_WORKERS": str(WORKERS),
            "VIBE_Q_TIMEOUT": "240",
            "VIBE_Q_RETRY": "280",
            "BOTCORE_LEASE_SECONDS": "300",
        },
    )
    yield stack
    stack.stop()


def test_the_bots_whose_cycles_a_killed_worker_ran_are_handed_back_at_once_not_after_their_lease(
    stack_with_long_leases, tmp_path
):
    """From two outside trials: a worker killed mid-cycle restarts the cluster's processes, and the bots its
    cycles held were silent until their leases ran out (BOTCORE_LEASE_SECONDS, two minutes)."""
    from datetime import timedelta

    from django.utils import timezone

    from botcore.models import Bot

    bot = leased_bot()
    taken = tmp_path / "lease.txt"
    process = psutil.Process(stack_with_long_leases.start("qcluster").pid)
    code = (
        "from django_q.tasks import async_task;"
        f"async_task('{__name__}.hold_a_cycle', {str(taken)!r}, {bot.pk})"
    )
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        cwd=ROOT, env=stack_with_long_leases.env, check=True, capture_output=True,
    )  # fmt: skip
    wait_for(lambda: lines(taken), timeout=30, what="the cycle taking its bot's lease")
    bot.refresh_from_db()
    assert bot.lease_token == lines(taken)[0] and bot.lease_until > timezone.now() + timedelta(seconds=60)

    for worker in cluster_children(process)[:WORKERS]:
        worker.send_signal(signal.SIGKILL)

    wait_for(
        lambda: Bot.objects.filter(pk=bot.pk, lease_token="").exists(),
        timeout=30,
        what="the killed cycle's bot handed back by the restarted cluster",
    )


def test_a_qcluster_killed_whole_has_its_bots_handed_back_by_the_next_one_started_on_the_host(
    stack_with_long_leases, tmp_path
):
    """From an operator trial (two qclusters on one host, one killed with kill -9 of its group, as a crash
    of its unit or container takes it): no sentinel was left to hand back the bot its cycle held, and that
    portal's 158 messages waited for the lease to run out (123 s at worst) while the other qcluster ran.
    A qcluster starting on the host hands back the cycles of its processes that are gone."""
    from datetime import timedelta

    from django.utils import timezone

    from botcore.models import Bot
    from botcore.worker_liveness import worker_lease_prefix

    bot = leased_bot()
    portal = bot.portal
    # A lease of a live process of this host (this test's) is no dead cluster's: it stays.
    alive_token = (worker_lease_prefix() + "0" * 32)[:36]
    other = Bot.objects.create(
        portal=portal, code="c", name="C", vibe_bot_id=8, status=Bot.Status.ACTIVE, lease_token=alive_token,
        lease_until=timezone.now() + timedelta(seconds=300),
    )  # fmt: skip
    taken = tmp_path / "lease.txt"
    stack_with_long_leases.start("qcluster1")
    enqueue(stack_with_long_leases, taken, str(bot.pk), task="hold_a_cycle_of")
    wait_for(lambda: lines(taken), timeout=30, what="the cycle taking its bot's lease")
    stack_with_long_leases.kill("qcluster1")  # the whole group, as a crash of its unit takes it
    bot.refresh_from_db()
    assert bot.lease_token == lines(taken)[0] and bot.lease_until > timezone.now() + timedelta(seconds=200)

    stack_with_long_leases.start("qcluster2")
    wait_for(
        lambda: Bot.objects.filter(pk=bot.pk, lease_token="").exists(),
        timeout=30,
        what="the dead cluster's bot handed back by the qcluster started after it",
    )
    other.refresh_from_db()
    assert other.lease_token == alive_token


@pytest.mark.skipif(not can_unshare_pids(), reason="no PID namespace of our own (unshare --pid)")
def test_a_qcluster_restarted_in_a_new_pid_namespace_hands_back_the_leases_of_the_one_it_replaces(
    stack_with_long_leases, tmp_path
):
    """A container restarted in place (compose's restart policy, a pod's container restart): its qcluster,
    PID 1 of its PID namespace, killed whole with a cycle holding a bot's lease, and a qcluster started a
    moment later as PID 1 of a new one, under the same host name. No pid of the old namespace can be checked
    from the new: it hands the lease back once the old cluster's heartbeat reads silent (three beats of 1 s),
    where before the bot waited out its lease (300 s here; BOTCORE_LEASE_SECONDS)."""

    from botcore.models import Bot
    from botcore.worker_liveness import read_lease_holder
    from ops.models import Heartbeat

    stack_with_long_leases.env["OPS_HEARTBEAT_EVERY_SECONDS"] = "1"
    bot = leased_bot()
    taken = tmp_path / "lease.txt"
    stack_with_long_leases.start("qcluster1", own_pid_namespace=True)
    enqueue(stack_with_long_leases, taken, str(bot.pk), task="hold_a_cycle_of")
    wait_for(lambda: lines(taken), timeout=30, what="the cycle taking its bot's lease")
    holder = read_lease_holder(lines(taken)[0])
    assert holder is not None
    old_rows = Heartbeat.objects.filter(kind="qcluster", pid_space=holder.host_tag)
    wait_for(old_rows.exists, timeout=10, what="the old cluster's liveness beat")
    assert old_rows.get().instance.split("@")[0].endswith(":1")  # PID 1 of its namespace

    stack_with_long_leases.kill("qcluster1")
    killed_at = time.monotonic()
    stack_with_long_leases.start("qcluster2", own_pid_namespace=True)
    # Its lease had 300 s to run: the bound leaves a loaded machine its room and none for waiting it out.
    wait_for(
        lambda: Bot.objects.filter(pk=bot.pk, lease_token="").exists(),
        timeout=120,
        what="the replaced cluster's bot handed back by the new one",
    )
    print(f"handed back {time.monotonic() - killed_at:.1f}s after the kill")
    new_rows = Heartbeat.objects.filter(kind="qcluster").exclude(pid_space=holder.host_tag)
    # Started late on a loaded machine, it found the old cluster silent already and handed the lease back as
    # it started, before its guard loop's first beat.
    wait_for(new_rows.exists, timeout=10, what="the new cluster's liveness beat")
    assert new_rows.count() == 1 and new_rows.get().instance.split("@")[0].endswith(":1")


def test_a_cluster_whose_first_process_is_killed_alone_stops_instead_of_running_on_orphaned(stack, tmp_path):
    """From an operator trial: `kill -9` of the qcluster's first process left its sentinel, workers, pusher
    and monitor running, re-parented to init, taking tasks: stopped or upgraded, the qcluster went on
    answering with the old code beside the new, out of reach of its unit. They stop now, in order."""
    marks = tmp_path / "marks.txt"
    process = psutil.Process(stack.start("qcluster").pid)
    wait_for(
        lambda: len(process.children()) == 1 and len(cluster_children(process)) == WORKERS + 2,
        timeout=30,
        what="the cluster started",
    )
    (sentinel,) = process.children()
    cluster = [sentinel, *cluster_children(process)]
    process.send_signal(signal.SIGKILL)
    wait_for(
        lambda: not any(is_live(p) for p in cluster),
        timeout=30,
        what="the orphaned sentinel and its processes stopping",
    )
    enqueue(stack, marks, "after")
    time.sleep(3)
    assert lines(marks) == [], "no orphan of the killed cluster takes a task"


def test_the_workers_collector_leaves_the_heap_they_share_with_the_parent_alone(stack, tmp_path):
    """Frozen before the fork: a full collection in a worker would otherwise write to every object it
    inherited and copy its whole share of the parent's heap (each busy worker's PSS ~28 -> ~54 MiB)."""
    frozen = tmp_path / "frozen.txt"
    stack.start("qcluster")
    enqueue(stack, frozen, task="note_frozen")
    wait_for(frozen.exists, timeout=30, what="the cluster running the task")
    # Django and the apps alone are tens of thousands of tracked objects.
    assert int(frozen.read_text(encoding="utf-8")) > 10_000


def test_the_workers_inherit_the_task_module_and_the_tls_context_instead_of_each_building_its_own(
    stack, tmp_path
):
    """Each of 24 workers importing the task module and reading the CA bundle at its first cycle cost ~4 %
    of the cluster's CPU in the polling benchmark's active window, all of it at once in the traffic that
    woke them; loaded by the qcluster command before the fork, it is paid once."""
    found = tmp_path / "found.txt"
    stack.start("qcluster")
    enqueue(stack, found, task="note_preloaded")
    wait_for(found.exists, timeout=30, what="the cluster running the task")
    assert found.read_text(encoding="utf-8") == "True 1"


def test_each_process_of_the_cluster_says_what_it_is_in_its_title(stack):
    """`ps` tells an operator the workers from the pusher and the monitor (setproctitle, which django-q2
    uses when installed), and the polling benchmark splits the qcluster's CPU by the same titles."""
    from benchmarks.polling_load import process_role

    process = psutil.Process(stack.start("qcluster").pid)
    wait_for(
        lambda: len(process.children()) == 1 and len(cluster_children(process)) == WORKERS + 2,
        timeout=30,
        what="the cluster started",
    )

    def roles() -> list[str]:
        return sorted(process_role(" ".join(child.cmdline())) for child in cluster_children(process))

    wait_for(lambda: "main" not in roles(), timeout=10, what=f"every child titled (roles: {roles()})")
    assert roles() == ["monitor", "pusher", *["worker"] * WORKERS]
    assert process_role(" ".join(process.cmdline())) == "cluster"


def test_a_restart_of_the_clusters_processes_leaves_them_no_more_descriptors_than_before(stack):
    """The sentinel held two descriptors of each ended child (multiprocessing's pipe to it) while it forked
    their successors, which inherited them all for their lives: a 4-worker cluster's children went from 129
    descriptors to 201 at its first restart (counted in /proc/<pid>/fd), and stayed there after each later
    one."""
    process = psutil.Process(stack.start("qcluster").pid)

    def started() -> bool:
        return len(process.children()) == 1 and len(cluster_children(process)) == WORKERS + 2

    def descriptors() -> list[int]:
        """Open descriptors of each child but its sockets, in the order the sentinel started them (each
        inherits its elder siblings' pipes, so the counts differ by role and rank, and must be the same
        again). A child also inherits the sentinel's broker connection (Redis), which it may drop at a
        moment of its own, before this count or after it (seen on PostgreSQL: the pusher with its own
        socket alone before the restart, with the sentinel's too after it; the release before had both
        each time); the pipes are what leaked."""
        return [
            sum(not os.readlink(f"/proc/{child.pid}/fd/{fd}").startswith("socket:")
                for fd in os.listdir(f"/proc/{child.pid}/fd"))
            for child in cluster_children(process)
        ]  # fmt: skip

    def settled() -> list[int]:
        """The counts once two reads a beat apart agree: the children's first moments (a worker's start, the
        pusher's broker connection) are over, however long a loaded host makes them."""
        reads: list[list[int]] = []

        def agree() -> bool:
            reads.append(descriptors() if started() else [])
            return len(reads) > 1 and reads[-1] == reads[-2] != []

        wait_for(agree, timeout=60, interval=0.5, what="the children's descriptors to settle")
        return reads[-1]

    wait_for(started, timeout=30, what="the cluster started")
    before = settled()
    first = {child.pid for child in cluster_children(process)}
    cluster_children(process)[0].send_signal(signal.SIGKILL)  # a worker killed: every process restarted
    wait_for(
        lambda: started() and not first & {child.pid for child in cluster_children(process)},
        timeout=30,
        what="the cluster's processes restarted",
    )
    assert settled() == before


def test_a_worker_killed_by_sigbus_is_said_to_point_at_a_full_metrics_directory(monkeypatch, caplog):
    """A full PROMETHEUS_MULTIPROC_DIR kills each new worker with SIGBUS at its first metric: the CRITICAL
    line said only "died of signal 7", and the runbook sent the operator to look for the OOM killer (an
    on-call trial). It names the likely cause and where to look."""
    import signal as signals
    from types import SimpleNamespace

    from vibeapp.qcluster import GuardedSentinel

    sentinel = GuardedSentinel.__new__(GuardedSentinel)
    sentinel.pusher = sentinel.monitor = None
    monkeypatch.setattr(sentinel, "restart_processes", lambda: None, raising=False)
    dead = SimpleNamespace(pid=4242, exitcode=-signals.SIGBUS, is_alive=lambda: False, timer=None)
    with caplog.at_level("CRITICAL", logger="vibeapp.qcluster"):
        sentinel.reincarnate(dead)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "vibeapp.qcluster"]
    assert "died of signal 7 (SIGBUS)" in line
    assert "PROMETHEUS_MULTIPROC_DIR" in line and "metrics_dir" in line


@pytest.mark.django_db
def test_the_lease_of_a_worker_dead_but_not_yet_reaped_is_handed_back():
    """A cluster killed whole leaves its workers to whatever adopts them, which may reap them late: a zombie's
    pid is still in use, and the next qcluster left its bot's lease to run out (a fresh clone's PostgreSQL
    run, where the test above timed out)."""
    import os
    from datetime import timedelta

    from django.utils import timezone

    from botcore.models import Bot
    from botcore.services.polling import release_cycles_of_dead_processes
    from botcore.worker_liveness import worker_lease_prefix
    from tenants.models import Portal

    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped: a zombie
        bots = [
            Bot.objects.create(
                portal=portal,
                code=code,
                name=code,
                vibe_bot_id=n,
                status=Bot.Status.ACTIVE,
                lease_token=(worker_lease_prefix(pid) + "0" * 32)[:36],
                lease_until=timezone.now() + timedelta(seconds=300),
            )
            for n, (code, pid) in enumerate((("zombie", child.pid), ("alive", os.getpid())), start=1)
        ]
        assert release_cycles_of_dead_processes() == 1
    finally:
        child.wait()
    assert [Bot.objects.get(pk=bot.pk).lease_token == "" for bot in bots] == [True, False]
