"""`manage.py runpoller`: watch every active bot's events; hand a bot with events to its poll cycle."""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand

from botcore.poller import Poller
from botcore.poller_gc import collect_rarely


class Command(BaseCommand):
    help = (
        "Run the poller: one asyncio process keeps every active bot's event queue watched (long-polls where "
        "the platform holds them) and enqueues a bot's poll cycle when events wait."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh", type=float, default=10.0, help="seconds between reads of the whole fleet"
        )

    def handle(self, *args, refresh: float, **options):
        # SIGTERM (runstack, a service manager) stops the loop as Ctrl-C does.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        collect_rarely()
        try:
            asyncio.run(Poller(refresh_seconds=refresh).run())
        except KeyboardInterrupt:
            pass
