"""Whether the platform's send answers show that it takes a templateId as a once-only key.

The reference names `templateId` a UUID field and no more (CONTRACT part B §7.3). imbot.v2 answers a send
with `uuidMap`; the sandbox's default reading maps the send's templateId to its message there and answers
a repeat with that first message instead of posting again. Other readings are as plausible (part A §13):
a platform that ignores the field and maps nothing (the sandbox's `no-template-dedupe` dialect), one that
answers no uuidMap at all. A post in doubt (its send failed after the platform may have posted it) is sent
again where the last send answer seen for its key mapped the send's templateId (HONOURED); IGNORED
(answered without it) and UNKNOWN (nothing seen yet, or only answers without a uuidMap, which teach
nothing) send it again only when its chat shows it never arrived (skills/posts_once.py). The one reading no
answer tells apart is a platform that maps the templateId and still posts a repeat: reading messages back
(GET …/messages/:id/context) is for supervisor and personal bots only.

What is seen is kept in this process and in the learned-rates store every process shares (Redis or the
database, botcore.vibe.key_budgets), so a new worker knows it before its first send. It is written when it
changes, and again at most every RESHARE_SECONDS while answers keep showing it: the store may lose it (a
Redis restarted without persistence, its key's day-long expiry, a write that failed while Redis was down),
and a new worker that then met a post in doubt before its own first send left the reply unsent. The entry
is per key, as the learned rates are (a key's calls all meet the same platform), and per endpoint: sends
and command answers each show their own.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

log = logging.getLogger(__name__)


class TemplateReading(enum.Enum):
    HONOURED = "honoured"
    IGNORED = "ignored"
    UNKNOWN = "unknown"


# Each call that makes a message says for itself: a platform may de-duplicate sends and not command answers.
Endpoint = Literal["messages", "answers"]
_readings: dict[tuple[str, str, str], TemplateReading] = {}
_shared_at: dict[tuple[str, str, str], float] = {}  # when this process last wrote it to the store
_lock = threading.Lock()
# An unchanged reading is written to the shared store again this often, at most (one write a minute per
# process, key and endpoint while it sends).
RESHARE_SECONDS = 60.0
SHARE_RETRY_SECONDS = 5.0  # after a failed write
_clock = time.monotonic


def observe(
    base_url: str, key_name: str, endpoint: Endpoint, template_id: str, uuid_map: Mapping[str, Any]
) -> None:
    """Learn from one answered call of `endpoint` that carried `template_id`: its `uuidMap` names it, or
    it does not."""
    seen = TemplateReading.HONOURED if template_id in uuid_map else TemplateReading.IGNORED
    where = (base_url, key_name, endpoint)
    now = _clock()
    with _lock:
        if _readings.get(where) is seen and now - _shared_at.get(where, float("-inf")) < RESHARE_SECONDS:
            return
        _readings[where] = seen
        _shared_at[where] = now
    if not _share(where, seen):
        with _lock:  # tried again SHARE_RETRY_SECONDS on, not at every answer while the store is down
            _shared_at[where] = now - RESHARE_SECONDS + SHARE_RETRY_SECONDS


def reading(base_url: str, key_name: str, endpoint: Endpoint) -> TemplateReading:
    """What the answers of `endpoint` showed for `key_name` (a key digest) at `base_url`; the shared store
    is asked only while this process has seen none."""
    where = (base_url, key_name, endpoint)
    with _lock:
        known = _readings.get(where)
    if known is not None:
        return known
    shared = _recall(where)
    if shared is TemplateReading.UNKNOWN:
        return shared
    with _lock:
        return _readings.setdefault(where, shared)


def deduplicates(base_url: str, key_name: str, endpoint: Endpoint) -> bool:
    """Whether the answers of `endpoint` for this key showed that a repeated templateId answers the first
    message."""
    return reading(base_url, key_name, endpoint) is TemplateReading.HONOURED


def repeats_post_again(base_url: str, key_name: str, endpoint: Endpoint) -> bool:
    """Whether answers showed that a repeated templateId posts again (IGNORED): this endpoint's, or for a
    command answer the sends' too, since command answers name no uuidMap as the contract reads them and so
    never show it themselves. Only there is a post's doubt worth a read of its chat as the request leaves
    (skills/posts_once.py): a platform not yet seen to ignore the templateId is spared that GET."""
    if reading(base_url, key_name, endpoint) is TemplateReading.IGNORED:
        return True
    return endpoint == "answers" and reading(base_url, key_name, "messages") is TemplateReading.IGNORED


def forget() -> None:
    """Drop what this process learned (tests; the shared store's entries are per key)."""
    with _lock:
        _readings.clear()
        _shared_at.clear()


# --- the shared store --------------------------------------------------------------------------------
def _store_name(where: tuple[str, str, str]) -> str:
    base_url, key_name, endpoint = where
    return f"templates:{key_name}:{hashlib.sha256(base_url.encode()).hexdigest()[:12]}:{endpoint}"


def _store() -> Any:
    from botcore import conf
    from botcore.vibe.key_budgets import learned_store, resolve_backend

    backend = resolve_backend()
    if backend == "off":
        return None
    return learned_store(backend, conf.redis_url() if backend == "redis" else "")


def _recall(where: tuple[str, str, str]) -> TemplateReading:
    try:
        store = _store()
        text = store.read(_store_name(where)) if store is not None else None
    except Exception as error:  # noqa: BLE001 - the store's own errors (redis, database); learn alone
        log.warning("templateId reading not read from the shared store: %s", error)
        return TemplateReading.UNKNOWN
    try:
        return TemplateReading(text) if text else TemplateReading.UNKNOWN
    except ValueError:
        return TemplateReading.UNKNOWN


def _share(where: tuple[str, str, str], seen: TemplateReading) -> bool:
    """Write the reading to the shared store; False when the store failed (it is written again later)."""
    try:
        store = _store()
        if store is not None:
            store.update(_store_name(where), lambda _old: seen.value)
    except Exception as error:  # noqa: BLE001 - as in _recall: a store outage loses only the sharing
        log.warning("templateId reading not shared (kept in this process): %s", error)
        return False
    return True
