"""The templateId reading (botcore.vibe.template_ids) stays in the store every process shares, though that
store loses it: a Redis restarted without persistence, a key's day-long expiry, a write that failed while
Redis was down. A new worker that meets a post in doubt before its own first send knows only what the store
holds: without the reading it leaves the reply unsent where someone wrote since (a trial E soak lost a reply
so after a Redis restart)."""

from __future__ import annotations

import pytest

from botcore.vibe import template_ids
from botcore.vibe.learning import MemoryLearnedStore
from botcore.vibe.template_ids import TemplateReading

WHERE = ("http://platform.test/v1", "k" * 16, "messages")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyStore(MemoryLearnedStore):
    """A shared store that can be down (every call raises, as redis-py does) and can lose everything."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.writes = 0

    def read(self, name):
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return super().read(name)

    def update(self, name, change):
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.writes += 1
        return super().update(name, change)

    def lose_everything(self) -> None:
        self._values.clear()


@pytest.fixture
def store(monkeypatch) -> FlakyStore:
    shared = FlakyStore()
    monkeypatch.setattr(template_ids, "_store", lambda: shared)
    return shared


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(template_ids, "_clock", fake, raising=False)
    return fake


def send_answered(n: int) -> None:
    template_ids.observe(*WHERE, f"t{n}", {f"t{n}": n})


def a_new_worker_reads() -> TemplateReading:
    template_ids.forget()  # a worker process started after the loss knows only the store
    return template_ids.reading(*WHERE)


def test_a_reading_the_store_lost_is_shared_again_by_a_process_that_still_knows_it(store, clock):
    send_answered(1)
    store.lose_everything()  # Redis restarted without persistence (or the key's day ran out)
    clock.now += getattr(template_ids, "RESHARE_SECONDS", 60) + 1
    send_answered(2)  # a long-lived worker keeps sending; its answers show what they showed
    assert a_new_worker_reads() is TemplateReading.HONOURED


def test_a_reading_not_shared_while_the_store_was_down_is_shared_once_it_is_back(store, clock):
    store.down = True
    send_answered(1)  # learned in this process; the write failed
    send_answered(2)  # not tried at every answer while the store is down
    assert store.writes == 0
    store.down = False
    clock.now += template_ids.SHARE_RETRY_SECONDS
    send_answered(3)
    assert a_new_worker_reads() is TemplateReading.HONOURED


def test_an_unchanged_reading_is_not_written_at_every_send(store, clock):
    for n in range(50):
        send_answered(n)
        clock.now += 1
    assert store.writes == 1
