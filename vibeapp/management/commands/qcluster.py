"""`manage.py qcluster`, django-q2's own command with the sentinel of vibeapp/qcluster.py, which restarts
the cluster's processes when one is killed rather than leaving the rest blocked on its lock, and with what
every worker needs loaded and the startup heap frozen before the workers are forked from it.

With `--ensure-schedules` it first makes the project's schedules (`manage.py ensure_schedules`) in this very
process, as every deploy path needs at each start: run as a command of its own before the qcluster (the
unit's ExecStartPre, compose's `sh -c`), it paid a second Python and Django start-up, ~1.5-2 s of a restart
during which no reply left (docs/operators.md, Upgrade).

It takes the name because Django runs the command of the first app that has it (vibeapp is listed before
django_q): every deploy file, the stack and the tests keep saying `qcluster` and get the guarded one.
"""

from __future__ import annotations

import gc
import os

import django_q.cluster
from django.core.management import call_command
from django.db import connections
from django_q.management.commands import qcluster

# Loaded here, before the workers are forked (see handle): django-q2 would import it by name in each worker.
import botcore.tasks  # noqa: F401
from botcore.vibe.http_clients import platform_tls
from ops.heartbeat import PROCESS_PID_ENV
from vibeapp.qcluster import GuardedSentinel
from vibeapp.start_checks import BACKGROUND_PROCESS_CHECKS


class Command(qcluster.Command):
    help = "Start the django-q2 cluster; a child killed by a signal restarts the cluster's processes."
    requires_system_checks = BACKGROUND_PROCESS_CHECKS  # not the web's: it serves no page

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--ensure-schedules",
            action="store_true",
            help="first make the project's schedules (manage.py ensure_schedules), in this process",
        )

    def handle(self, *args, ensure_schedules: bool = False, **options):
        if ensure_schedules:
            # Before the cluster starts: its scheduler (in the sentinel) must find the deploy's command sync
            # due (botcore.schedules.DUE_AT_DEPLOY). A failure stops the start, as the ExecStartPre's did.
            call_command("ensure_schedules", stdout=self.stdout)
            connections.close_all()  # not to be inherited by the processes forked next
        # Cluster.start looks its sentinel class up in its module when it forks; this process is the
        # cluster's alone, so the swap reaches nothing else.
        django_q.cluster.Sentinel = GuardedSentinel
        # The cluster beats from its sentinel, monitor and workers (ops/heartbeat.py), forked from here with
        # this environment: under this process's pid, the one an operator (or systemd's MainPID) knows, and
        # one row however often the sentinel starts them afresh.
        os.environ[PROCESS_PID_ENV] = str(os.getpid())
        # Loaded once here rather than by each worker at its first cycle, in the middle of the traffic that
        # woke it (24 workers: ~4 % of the cluster's CPU in the polling benchmark's active window): the task
        # module django-q2 would import by name (imported with this module, above), and the platform's TLS
        # context (reading the CA bundle).
        platform_tls()
        # The workers are forked from this process and share its heap (Django, the apps, their modules)
        # page by page until one writes to it. A full collection writes to the header of every object it
        # scans, so each worker's first one copied all of that heap: its PSS went from ~28 to ~54 MiB, 24
        # workers from ~700 MiB to ~1.35 GiB (10,000-bot polling benchmark). Frozen, the collector never
        # scans what was there before the fork: Django and the apps, which a worker keeps for its life anyway.
        gc.freeze()
        super().handle(*args, **options)
