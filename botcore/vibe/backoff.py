"""How long to wait before trying again: the one backoff function of the project.

Every retry goes through here: the client's retries of one call, the poll cycle after a failed poll, an
event whose handling met a passing failure, a skill run deferred by one. Waits are exponential with full
jitter (uniform in 0..base·2^(n-1), capped), so many bots failing together spread their retries; a rate
limit waits what the platform asked for.
"""

from __future__ import annotations

import random

from botcore.vibe.errors import VibeRateLimitError


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """The wait after failed attempt number `attempt` (1 for the first failure)."""
    exponent = min(max(attempt, 1) - 1, 30)  # 2**30 is already past every cap; keeps the float finite
    return random.uniform(0, min(cap, base * 2**exponent))


def retry_delay(error: BaseException | None, attempt: int, *, base: float, cap: float) -> float:
    """The wait before retrying after `error`: a rate limit's Retry-After (capped), else the backoff.

    A 429 without a Retry-After backs off like any other failure, never less than `base`.
    """
    if isinstance(error, VibeRateLimitError):
        if error.retry_after is not None:
            return min(error.retry_after, cap)
        return max(base, backoff_seconds(attempt, base=base, cap=cap))
    return backoff_seconds(attempt, base=base, cap=cap)
