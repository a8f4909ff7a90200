"""`manage.py check_heartbeat poller|qcluster`: exit 0 while this host's process of that kind is alive
(ops.heartbeat.process_state: it beat recently and was not stopped).

For the health checks of containers and units that serve no HTTP (deploy/compose.yaml): the check runs
beside the process, on the same host name, so it asks for that host's rows. Where two processes of a kind
share a host (two qclusters by hand or two units), each row is one process's: `--pid` asks for that one.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ops.heartbeat import list_processes, process_state, this_instance
from ops.models import Heartbeat


class Command(BaseCommand):
    help = "Exit non-zero unless this host's poller or qcluster is alive (a recent heartbeat, not stopped)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=[k.value for k in Heartbeat.Kind])
        parser.add_argument(
            "--any-host",
            action="store_true",
            help="accept a live process of any host (a check run away from the processes it checks)",
        )
        parser.add_argument(
            "--pid",
            type=int,
            help="the process of this host to ask for (a qcluster's first process, systemd's MainPID), where"
            " more than one of the kind runs here",
        )

    def handle(self, *args, kind: str, any_host: bool, pid: int | None, **options):
        now = timezone.now()
        if pid is not None:
            beats = list_processes(now=now, kind=kind, pid=pid)
        else:
            beats = list_processes(now=now, kind=kind, host=None if any_host else this_instance())
        if not beats:
            raise CommandError(f"no {kind} heartbeat yet" + (f" from pid {pid}" if pid is not None else ""))
        newest = max(beats, key=lambda beat: beat.beat_at)
        alive = [beat for beat in beats if process_state(beat, now=now) == "alive"]
        if alive:
            age = (now - max(beat.beat_at for beat in alive)).total_seconds()
            self.stdout.write(f"{kind} beat {age:.0f}s ago")
            return
        age = (now - newest.beat_at).total_seconds()
        if all(process_state(beat, now=now) == "stopped" for beat in beats):
            raise CommandError(f"the {kind} was stopped on purpose (its last heartbeat {age:.0f}s ago)")
        raise CommandError(f"the last {kind} heartbeat is {age:.0f}s old")
