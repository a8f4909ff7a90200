"""`manage.py check_heartbeat poller|qcluster`: exit 0 when this host's process of that kind beat recently.

For the health checks of containers and units that serve no HTTP (deploy/compose.yaml): the check runs
beside the process, on the same host name, so it asks for that process's own row.
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

    def handle(self, *args, kind: str, any_host: bool, **options):
        latest = find_latest_beat(kind, instance=None if any_host else this_instance())
        if latest is None:
            raise CommandError(f"no {kind} heartbeat yet")
        age = (timezone.now() - latest).total_seconds()
        if age > max_age(kind).total_seconds():
            raise CommandError(f"the last {kind} heartbeat is {age:.0f}s old")
        self.stdout.write(f"{kind} beat {age:.0f}s ago")
