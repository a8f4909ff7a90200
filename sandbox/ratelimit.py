"""The per-key request rate the platform enforces (CONTRACT part A §3)."""
from __future__ import annotations

from sandbox.state import ApiKey, Platform


class RateLimiter:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def check(self, key: ApiKey) -> None:
        return None
