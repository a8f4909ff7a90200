"""The image the compose file runs (no Docker here: read, not built): each named volume the app's containers
mount is a directory the image makes for its `vibe` user, since a new named volume takes the owner of the
image's directory, and a root-owned /metrics left every process unable to write its metric series."""

from __future__ import annotations

import re

import pytest

from tests.vibeapp.gunicorn_server import ROOT

COMPOSE = (ROOT / "deploy" / "compose.yaml").read_text()
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def app_volume_targets() -> list[str]:
    block = COMPOSE.split("x-app:", 1)[1].split("\nservices:", 1)[0]
    [mounts] = re.findall(r"^\s*volumes:\s*\[(.*)\]\s*$", block, flags=re.MULTILINE)
    return [mount.split(":")[1] for mount in mounts.split(",")]


def test_every_volume_the_app_mounts_is_made_for_its_user_in_the_image():
    targets = app_volume_targets()
    assert targets == ["/metrics"]  # the multiprocess metrics directory; a new mount is checked here too
    assert "USER vibe" in DOCKERFILE
    for target in targets:
        assert re.search(rf"install -d -o vibe\b[^\n]* {re.escape(target)}\b", DOCKERFILE), target


def test_the_image_holds_the_bytecode_of_the_code_its_processes_run():
    """Its processes import the project from /app, where PYTHONDONTWRITEBYTECODE keeps them from caching what
    they compile: each start compiled the project's modules again (~0.25 s of CPU of a ~0.9 s start-up)."""
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE
    copied = DOCKERFILE.index("COPY ops ./ops")
    [packages] = re.findall(r"^RUN python -m compileall -q ((?:\w+ ?)+)$", DOCKERFILE, flags=re.MULTILINE)
    assert set(packages.split()) == {"vibeapp", "tenants", "botcore", "ops"}
    assert DOCKERFILE.index("compileall") > copied


def test_both_deploy_paths_make_the_schedules_without_a_step_to_remember():
    """No schedules, no expiry warnings, purges, pruning or qcluster heartbeat: /readyz stays down. The units
    and compose ran migrate only, and ensure_schedules was a step of the docs."""
    qcluster_unit = (ROOT / "deploy" / "systemd" / "vibeapp-qcluster.service").read_text()
    assert re.search(
        r"^ExecStart=\S+python manage\.py qcluster --ensure-schedules$", qcluster_unit, flags=re.MULTILINE
    )
    [migrate] = re.findall(r"^  migrate:\n(?:    .*\n)+", COMPOSE, flags=re.MULTILINE)
    assert "manage.py migrate --noinput && python manage.py ensure_schedules" in migrate


def test_a_qcluster_of_either_deploy_path_makes_the_schedules_as_it_starts():
    """ensure_schedules makes the deploy's command sync due at once (botcore.schedules.DUE_AT_DEPLOY), and the
    first cluster whose scheduler sees it runs it. Made by compose's migrate alone, an old release's cluster,
    still running until compose replaced it, took it and synced the old skills' commands: in an operator
    trial, 80 of 80 bots lacked the new release's command for the hour until the next sync. Made again by
    each new cluster as it starts, the last made is seen by new clusters only. Made in the qcluster's own
    process (--ensure-schedules), not by a command of its own before it: that was a second Python and Django
    start-up in every restart, ~1.5-2 s more of the replies' wait."""
    qcluster_unit = (ROOT / "deploy" / "systemd" / "vibeapp-qcluster.service").read_text()
    assert re.search(
        r"^ExecStart=\S+python manage\.py qcluster --ensure-schedules$", qcluster_unit, flags=re.MULTILINE
    )
    assert "ExecStartPre=/opt/vibeapp/.venv/bin/python" not in qcluster_unit
    [qcluster] = re.findall(r"^  qcluster:\n(?:    .*\n)+", COMPOSE, flags=re.MULTILINE)
    [command] = re.findall(r"^    command: (.*)$", qcluster, flags=re.MULTILINE)
    assert command == '["python", "manage.py", "qcluster", "--ensure-schedules"]'


@pytest.mark.django_db
def test_qcluster_ensure_schedules_makes_them_before_its_cluster_starts(monkeypatch):
    """The flag the deploy paths start the qcluster with: the schedules exist (the deploy's command sync due)
    by the time the cluster, and so its scheduler, starts; without it the command makes none."""
    import django_q.cluster
    from django.core.management import call_command
    from django_q.models import Schedule

    from ops.heartbeat import PROCESS_PID_ENV
    from vibeapp.management.commands import qcluster

    seen = []

    class NoCluster:
        def start(self):
            seen.append(set(Schedule.objects.values_list("name", flat=True)))

    monkeypatch.setattr(qcluster.qcluster, "Cluster", NoCluster)
    monkeypatch.setattr(qcluster.gc, "freeze", lambda: None)
    monkeypatch.setattr(django_q.cluster, "Sentinel", django_q.cluster.Sentinel)  # put back after
    monkeypatch.setenv(PROCESS_PID_ENV, "1")
    closed = []
    # Closed before the fork in a real start; here it would close the test's own (in-memory) database.
    monkeypatch.setattr(qcluster.connections, "close_all", lambda: closed.append(1))
    call_command("qcluster")
    assert seen == [set()]
    call_command("qcluster", "--ensure-schedules")
    assert "botcore.sync_stale_commands" in seen[1] and len(seen[1]) > 5
    assert closed == [1]  # the connection ensure_schedules used is not inherited by the workers


def test_every_path_a_unit_may_write_is_made_before_the_unit_starts():
    """systemd refuses to start a unit whose ReadWritePaths= names a missing path (226/NAMESPACE) unless it is
    marked optional with `-`; a fresh checkout has no var/ (git-ignored), where the web unit collects static
    files, so its first start would fail there (no systemd here: the units are read, not started)."""
    for unit in sorted((ROOT / "deploy" / "systemd").glob("*.service")):
        text = unit.read_text()
        made = set(
            re.findall(r"^ExecStartPre=\+/usr/bin/install -d [^\n]* (/\S+)$", text, flags=re.MULTILINE)
        )
        for line in re.findall(r"^ReadWritePaths=(.*)$", text, flags=re.MULTILINE):
            for path in line.split():
                assert path.startswith("-") or path in made, f"{unit.name}: {path}"
