"""`manage.py runpoller`: watch every active bot's events; hand a bot with events to its poll cycle."""

from __future__ import annotations

import asyncio
import gc
import signal

from django.core.management.base import BaseCommand

from botcore.poller import Poller

# Full collections considered 10x less often than CPython's default (10). The poller holds a watch open per
# bot, ~90 objects the collector tracks for the hold's length; at 10,000 bots the oldest generation is a
# million objects, and a full collection, which stops the event loop while it scans them all, took up to a
# second and came every 4-5 s (README, polling benchmark). A watch leaves no reference cycles
# (botcore/vibe/watch.py), so what dies is freed by reference counting and rare full collections cost no
# memory; what the process holds once started (Django, the apps) is frozen out of them altogether.
FULL_COLLECTION_THRESHOLD = 100


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
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
        gc.freeze()
        try:
            asyncio.run(Poller(refresh_seconds=refresh).run())
        except KeyboardInterrupt:
            pass
