"""The garbage collector's policy for a process that holds a watch open per bot (the poller)."""

from __future__ import annotations

import gc

# Full collections considered 10x less often than CPython's default (10); see collect_rarely.
FULL_COLLECTION_THRESHOLD = 100


def collect_rarely() -> None:
    """The garbage collector's policy for a process holding a watch open per bot (call once, at start).

    A held watch is ~90 objects the collector tracks for the hold's length: at 10,000 bots the oldest
    generation is a million objects, and a full collection, which stops the event loop while it scans
    them all, took up to a second and came every 4-5 s (README, polling benchmark). A watch leaves no
    reference cycles (botcore/vibe/watch.py), so what dies is freed by reference counting and rarer full
    collections cost no memory; what the process holds once started (Django, the apps) is frozen out of
    them altogether. Process-wide, so never called from a test's process.
    """
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
    gc.freeze()
