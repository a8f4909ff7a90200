"""`manage.py check_heartbeat poller|qcluster`: exit 0 when this host's process of that kind beat recently.

For the health checks of containers and units that serve no HTTP (deploy/compose.yaml): the check runs
beside the process, on the same host name, so it asks for that host's rows. Where two processes of a kind
share a host (two qclusters by hand or two units), each row is one process's: `--pid` asks for that one.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ops.heartbeat import find_latest_beat, max_age, this_instance
from ops.models import Heartbeat


class Command(BaseCommand):
    help = "Exit non-zero unless this host's poller or qcluster has written a recent heartbeat."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=[k.value for k in Heartbeat.Kind])
        parser.add_argument(
            "--any-host",
            action="store_true",
            help="accept a beat of any host (a qcluster's schedule runs on whichever worker takes it)",
        )
        parser.add_argument(
            "--pid",
            type=int,
            help="the process of this host to ask for (a qcluster's first process, systemd's MainPID), where"
            " more than one of the kind runs here",
        )

    def handle(self, *args, kind: str, any_host: bool, pid: int | None, **options):
        if pid is not None:
            latest = find_latest_beat(kind, process=f"{this_instance()}:{pid}")
        else:
            latest = find_latest_beat(kind, host=None if any_host else this_instance())
        if latest is None:
            raise CommandError(f"no {kind} heartbeat yet" + (f" from pid {pid}" if pid is not None else ""))
        age = (timezone.now() - latest).total_seconds()
        if age > max_age(kind).total_seconds():
            raise CommandError(f"the last {kind} heartbeat is {age:.0f}s old")
        self.stdout.write(f"{kind} beat {age:.0f}s ago")
