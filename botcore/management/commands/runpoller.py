"""`manage.py runpoller`: watch every active bot's events; hand a bot with events to its poll cycle."""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand

from botcore.poller import Poller
from botcore.poller_gc import collect_rarely
from ops.heartbeat import record_poller_stopped
from vibeapp.start_checks import BACKGROUND_PROCESS_CHECKS


class Command(BaseCommand):
    help = (
        "Run the poller: one asyncio process keeps every active bot's event queue watched (long-polls where "
        "the platform holds them) and enqueues a bot's poll cycle when events wait."
    )
    requires_system_checks = BACKGROUND_PROCESS_CHECKS  # not the web's: it serves no page

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh", type=float, default=10.0, help="seconds between reads of the whole fleet"
        )

    def handle(self, *args, refresh: float, **options):
        # SIGTERM (runstack, a service manager) stops the loop as Ctrl-C does, once: a second signal while
        # asyncio cancels the loop's tasks was raised inside one of them, and asyncio logged its traceback
        # as an ERROR ("Task exception was never retrieved") on a plain stop (runstack's tests, a make's
        # Ctrl-C twice). Whoever must stop a poller that hangs in its stop sends SIGKILL (runstack does).
        signal.signal(signal.SIGTERM, _stop_once)
        signal.signal(signal.SIGINT, _stop_once)
        collect_rarely()
        try:
            asyncio.run(Poller(refresh_seconds=refresh).run())
        except KeyboardInterrupt:
            # Stopped on purpose: said at once, rather than counted alive for its max age and then silent. A
            # poller that crashes says nothing, and reads silent.
            record_poller_stopped()


def _stop_once(signum, frame) -> None:
    """Stop the poller as Ctrl-C does, and ignore any further SIGTERM or SIGINT while it stops."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt
