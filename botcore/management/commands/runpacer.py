"""`manage.py runpacer`: lease due bots and enqueue their poll cycles, until stopped."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from botcore.pacer import Pacer
from ops.heartbeat import record_poller_stopped


class Command(BaseCommand):
    help = (
        "Run the pacer: decide which bot is polled when, within each key's request budget."
        " Several may run at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=0.2, help="seconds between ticks when nothing is due"
        )
        parser.add_argument("--batch", type=int, default=200, help="bots leased per tick at most")

    def handle(self, *args, interval: float, batch: int, **options):
        # SIGTERM (runstack, a service manager) stops the loop between ticks as Ctrl-C does.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            Pacer(batch=batch).run(interval=interval)
        except KeyboardInterrupt:
            record_poller_stopped()  # it beats as the poller (botcore/pacer.py)
