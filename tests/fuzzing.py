"""The fuzz tests' hypothesis settings, in one place: seeded for CI (the same cases every run, no example
database on disk), or a longer hunt with fresh random cases when FUZZ_EXAMPLES says how many."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

HUNT = os.environ.get("FUZZ_EXAMPLES")


def fuzz_settings(examples: int, *, also_suppress: tuple[HealthCheck, ...] = ()) -> settings:
    """`examples` seeded cases a test (FUZZ_EXAMPLES fresh ones in a hunt), with no deadline: a case's time
    on the shared two-core host says nothing of the code."""
    return settings(
        max_examples=int(HUNT or examples),
        deadline=None,
        derandomize=HUNT is None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, *also_suppress],
    )
