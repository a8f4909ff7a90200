"""What a call's failed attempts keep of the answers they read, measured with tracemalloc over real HTTP.

An answer is read whole up to 16 MiB (answers.MAX_ANSWER_BYTES) before it is judged, so a wrong server's big
page, or one that does not end, costs up to that much per attempt. Each failed attempt's body stayed alive
through its error: the retry's log line was handed the error itself, and a handler that keeps what it is given
(pytest's, a logging.MemoryHandler, an error tracker's breadcrumbs) kept it, and with it the frames of its
traceback, which held the body: ~64 MiB at the peak of four attempts at a 16 MiB answer. And the error a call
ended with, which its caller may keep (the last of its retries), held its answer the same way.
"""

from __future__ import annotations

import logging
import tracemalloc

import pytest

from botcore.vibe import VibeProtocolError

BOTS = "/v1/bots"
ATTEMPTS = 4


def traced(call):
    """What `call` (which raises VibeProtocolError) allocated at its peak, what the error it raised still
    holds once it is caught, and that error."""
    tracemalloc.start()
    try:
        with pytest.raises(VibeProtocolError) as caught:
            call()
        held_after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, held_after, caught.value


@pytest.mark.parametrize("kind", ["endless", "huge-page"])
def test_failed_attempts_hold_one_answer_at_a_time_and_the_error_left_holds_none(world, caplog, kind):
    """`endless` is cut at the 16 MiB bound, `huge-page` (12 MiB of HTML) is read whole: either is a transient
    VibeProtocolError, retried. Before: four attempts peaked at 64.6 MiB (endless) and 59.8 MiB (huge-page),
    one at 16.4 and 24.1, and the error caught still held 16 or 12 MiB."""
    caplog.set_level(logging.WARNING, logger="botcore.vibe.transport")  # a handler that keeps its records
    world.control.fault(method="GET", path=BOTS, garbageRate=1, garbageKind=kind)
    once = world.client("personal", max_attempts=1)
    retried = world.client("personal", max_attempts=ATTEMPTS, backoff_base=0.01, retry_max_wait=0.02)
    peak_of_one, _, _ = traced(once.list_bots)
    peak, held_after, error = traced(retried.list_bots)
    retries = [r for r in caplog.records if r.getMessage().startswith("vibe call failed")]
    assert len(retries) == ATTEMPTS - 1  # every attempt met the big answer: the peak is over all of them
    assert peak < peak_of_one + 4 * 1024 * 1024, f"{peak / 2**20:.1f} MiB, {peak_of_one / 2**20:.1f} for one"
    assert held_after < 1024 * 1024, f"{held_after / 2**20:.1f} MiB held by the error the call ended with"
    # What the logs and the error say of the answer is still said.
    assert error.status == 200 and "HTTP 200 with" in str(error)
    assert all("HTTP 200 with" in r.getMessage() for r in retries)
