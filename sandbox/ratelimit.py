"""The per-key request rate the platform enforces (CONTRACT part A §3).

Each key gets a GCRA bucket (pyrate-limiter's algorithm, one number of state per key): it sustains the
key's rate and lets a full second's worth through at once, so the default of 10 requests/s admits a burst
of 10 and then one every 100 ms. A refused call is 429 RATE_LIMIT with `retryAfter` in whole seconds
(at least 1) and the same `Retry-After` header. The rate is read on every call, so a change to
`platform.default_rate_limit` or `ApiKey.rate_limit` applies from the next call (with a fresh bucket).
A rate that is not positive and finite switches the limit off for that key.

Two dialects (sandbox/dialects.py) read the limit otherwise: `portal-rate-limit` gives each key one
bucket per portal it acts on (imbot.v2 limits per application, and may count per portal), and
`no-retry-after` refuses without saying how long to wait; `retry-after-ms` says `retryAfter` in
milliseconds (the `Retry-After` header stays HTTP's whole seconds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pyrate_limiter import GCRA, Rate

from sandbox.auth import read_bearer
from sandbox.http import ApiError
from sandbox.records import ApiKey
from sandbox.state import Platform

_ALGORITHM = GCRA()


def rate_for(per_second: float) -> Rate:
    """A Rate sustaining `per_second` with a burst of one second's worth (at least 1)."""
    # Millisecond intervals are integers, so a fractional rate is stated per 1000 s.
    return Rate(max(1, round(per_second * 1000)), 1_000_000, burst=max(1, round(per_second)))


class RateLimiter:
    """`clock` returns seconds (monotonic); tests may freeze it to count a burst exactly."""

    def __init__(self, platform: Platform, clock: Callable[[], float] = time.monotonic) -> None:
        self.platform = platform
        self.clock = clock
        # (key value, portal id or None) -> (the rate it was built for, [Rate], GCRA state)
        self._buckets: dict[tuple[str, str | None], tuple[float, list[Rate], tuple]] = {}

    def check(self, key: ApiKey, *, authorization: str | None = None) -> None:
        """Spend one request of `key`'s budget, or raise 429 RATE_LIMIT with the wait.

        `authorization` is the request's header: under `portal-rate-limit` it names the portal an app key
        acts on (a personal key has one portal of its own).
        """
        per_second = key.rate_limit if key.rate_limit is not None else self.platform.default_rate_limit
        per_portal = self.platform.speaks("portal-rate-limit")
        bucket_id = (key.value, self._portal_of(key, authorization) if per_portal else None)
        bucket = self._buckets.get(bucket_id)
        if bucket is None or bucket[0] != per_second:
            if not (per_second > 0 and math.isfinite(per_second)):
                self._buckets.pop(bucket_id, None)
                return
            rates = [rate_for(per_second)]
            bucket = (per_second, rates, _ALGORITHM.initial(rates))
        rates = bucket[1]
        state, decision = _ALGORITHM.step(rates, bucket[2], int(self.clock() * 1000), 1)
        if decision.failing_rate is not None:
            scope = "key and portal" if per_portal else "key"
            if self.platform.speaks("no-retry-after"):
                raise ApiError("RATE_LIMIT", hint=f"At most {per_second:g} requests/s per {scope}")
            wait_ms = decision.retry_after_ms or 1000
            in_ms = self.platform.speaks("retry-after-ms")
            raise ApiError(
                "RATE_LIMIT",
                hint=f"At most {per_second:g} requests/s per {scope}; wait retryAfter "
                + ("milliseconds" if in_ms else "seconds"),
                retry_after=max(1, math.ceil(wait_ms / 1000)),
                retry_after_ms=max(1, math.ceil(wait_ms)) if in_ms else None,
            )
        self._buckets[bucket_id] = (per_second, rates, state)

    def _portal_of(self, key: ApiKey, authorization: str | None) -> str | None:
        """The portal a call acts on, read before authentication refuses anything (so None when unknown)."""
        if key.kind == "api":
            return key.portal_id
        session = self.platform.sessions.get(read_bearer(authorization) or "")
        return session.portal_id if session is not None and session.app_id == key.app_id else None

    def forget(self, key_value: str) -> None:
        for bucket_id in [b for b in self._buckets if b[0] == key_value]:
            del self._buckets[bucket_id]
