"""The run's Redis for the tests that need one on either backend (the shared budget's and the learned
limit's stores): REDIS_URL's db, which CI gives each run, else the local default. Their keys go under a
prefix of the run's own (PREFIX; processes the run spawns inherit it) and are deleted after each test that
made them (clean_up, from tests/botcore/vibe/conftest.py), so runs on other dbs, or on the same one, share
no state."""

from __future__ import annotations

import os
import uuid

import redis

URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
PREFIX = f"test:{os.environ.setdefault('VIBE_TEST_REDIS_RUN', uuid.uuid4().hex[:12])}:"

_patterns: set[str] = set()  # what the test running now may have written, as SCAN patterns


def client(*also: str) -> redis.Redis:
    """A client of the run's Redis. Its keys under PREFIX, and those matching `also` (patterns of the keys
    the product names itself, as `vibe:budget:<digest>`), are deleted once the test ends."""
    _patterns.update([f"{PREFIX}*", *also])
    return redis.Redis.from_url(URL)


def clean_up() -> int:
    """Delete what the test that ended may have written; how many keys that was. Nothing is asked of Redis
    for a test that never asked for a client."""
    if not _patterns:
        return 0
    connection = redis.Redis.from_url(URL)
    deleted = 0
    try:
        for pattern in sorted(_patterns):
            keys = list(connection.scan_iter(pattern))
            deleted += connection.delete(*keys) if keys else 0
    finally:
        _patterns.clear()
        connection.close()
    return deleted
