"""Whether the platform takes a send's templateId as a once-only key, as its own answers show.

The reference names `templateId` a UUID field and no more (CONTRACT part B §7.3). imbot.v2 answers a send
with `uuidMap`; the sandbox's default reading maps the send's templateId to its message there and answers
a repeat with that first message instead of posting again. A platform that ignores the field (the
sandbox's `no-template-dedupe` dialect) maps nothing and posts a repeat again. Which one this is, is
unknown (part A §13), so it is read from the answers, never assumed by a setting.

A send is *in doubt* when it failed after it may have reached the platform (a dropped connection, a read
timeout, an answer that is not the platform's): it may or may not have posted. Sending it again is safe
only where repeats are answered with the first message. So, from the last send answer seen for a key at a
base URL:
- HONOURED (the answer mapped the send's templateId): a repeat is the first message. The transport retries
  a send in doubt at once, and a handling run again sends it again.
- IGNORED (a send with a templateId was answered without it): nothing is sent twice. The transport does not
  retry a send in doubt, and a handling run again leaves it alone and says the post is in doubt (at most
  once: a post that never arrived is logged, never doubled).
- UNKNOWN (no send of the key answered yet, or only answers without a uuidMap, which teach nothing): the
  transport does not retry; a handling run again follows the contract's reading and sends it again.
What is seen is kept in this process and in the learned-rates store every process shares (Redis or the
database, botcore.vibe.key_budgets), written only when it changes, so a new worker knows it before its
first send. The entry is per key, as the learned rates are: a key's calls all meet the same platform.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


class TemplateReading(enum.Enum):
    HONOURED = "honoured"
    IGNORED = "ignored"
    UNKNOWN = "unknown"


_readings: dict[tuple[str, str], TemplateReading] = {}
_lock = threading.Lock()


def observe(base_url: str, key_name: str, template_id: str, uuid_map: Mapping[str, Any]) -> None:
    """Learn from one answered send that carried `template_id`: its `uuidMap` names it, or it does not."""
    seen = TemplateReading.HONOURED if template_id in uuid_map else TemplateReading.IGNORED
    with _lock:
        if _readings.get((base_url, key_name)) is seen:
            return
        _readings[(base_url, key_name)] = seen
    _share(base_url, key_name, seen)


def reading(base_url: str, key_name: str) -> TemplateReading:
    """What the answers showed for `key_name` (a key digest) at `base_url`; the shared store is asked
    only while this process has seen none."""
    with _lock:
        known = _readings.get((base_url, key_name))
    if known is not None:
        return known
    shared = _recall(base_url, key_name)
    if shared is TemplateReading.UNKNOWN:
        return shared
    with _lock:
        return _readings.setdefault((base_url, key_name), shared)


def retried_at_once(base_url: str, key_name: str) -> bool:
    """Whether the transport may repeat a send with a templateId that may have been posted."""
    return reading(base_url, key_name) is TemplateReading.HONOURED


def sent_again_later(base_url: str, key_name: str) -> bool:
    """Whether a handling run again re-sends a post an earlier attempt left in doubt."""
    return reading(base_url, key_name) is not TemplateReading.IGNORED


def forget() -> None:
    """Drop what this process learned (tests; the shared store's entries are per key)."""
    with _lock:
        _readings.clear()


# --- the shared store --------------------------------------------------------------------------------
def _store_name(base_url: str, key_name: str) -> str:
    return f"templates:{key_name}:{hashlib.sha256(base_url.encode()).hexdigest()[:12]}"


def _store() -> Any:
    from botcore import conf
    from botcore.vibe.key_budgets import learned_store, resolve_backend

    backend = resolve_backend()
    if backend == "off":
        return None
    return learned_store(backend, conf.redis_url() if backend == "redis" else "")


def _recall(base_url: str, key_name: str) -> TemplateReading:
    try:
        store = _store()
        text = store.read(_store_name(base_url, key_name)) if store is not None else None
    except Exception as error:  # noqa: BLE001 - the store's own errors (redis, database); learn alone
        log.warning("templateId reading not read from the shared store: %s", error)
        return TemplateReading.UNKNOWN
    try:
        return TemplateReading(text) if text else TemplateReading.UNKNOWN
    except ValueError:
        return TemplateReading.UNKNOWN


def _share(base_url: str, key_name: str, seen: TemplateReading) -> None:
    try:
        store = _store()
        if store is not None:
            store.update(_store_name(base_url, key_name), lambda _old: seen.value)
    except Exception as error:  # noqa: BLE001 - as in _recall: a store outage loses only the sharing
        log.warning("templateId reading not shared (kept in this process): %s", error)
