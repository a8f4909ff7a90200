"""Retries against the sandbox's injected faults and its real per-key rate limit, counted in its call log.

Reads and idempotent writes are retried on 5xx, 502 BITRIX_UNAVAILABLE and lost connections; writes that
may have happened are not; a 429 is waited out per Retry-After whatever the call; a connection that
could not even be opened is retried for every call.
"""

from __future__ import annotations

import random
import time

import httpx
import pytest
from pyrate_limiter.buckets import InMemoryStateStore

from botcore.vibe import (
    NoBudget,
    SharedBudget,
    VibeBudgetTimeoutError,
    VibeClient,
    VibeNotFoundError,
    VibeProtocolError,
    VibeRateLimitError,
    VibeServerError,
    VibeTransportError,
)

BOTS = "/v1/bots"
BOT = "/v1/bots/{bot_id}"
EVENTS = "/v1/bots/{bot_id}/events"
FILES = "/v1/bots/{bot_id}/files"


def fast(world, **options):
    """A client that retries quickly (tiny backoff) so fault tests stay short."""
    options.setdefault("max_attempts", 3)
    options.setdefault("backoff_base", 0.01)
    options.setdefault("retry_max_wait", 0.05)
    return world.client("personal", **options)


def seed_first_fail_then_pass(sandbox, rate: float = 0.5) -> None:
    """Seed the sandbox's fault dice so the first roll faults and the second does not."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() < rate and rng.random() >= rate:
            sandbox.run_in_loop(lambda services, chosen=seed: services.faults.seed(chosen))
            return
    raise AssertionError("no seed found")


def calls_to(control, path_prefix: str, method: str) -> list[dict]:
    return [c for c in control.calls() if c["method"] == method and c["path"].startswith(path_prefix)]


# --- reads -----------------------------------------------------------------------------------------------


def test_a_read_failing_with_502_is_tried_max_attempts_times(world):
    world.control.fault(method="GET", path=BOTS, errorRate=1, errorCode="BITRIX_UNAVAILABLE")
    with pytest.raises(VibeServerError) as caught:
        fast(world, max_attempts=3).list_bots()
    assert caught.value.code == "BITRIX_UNAVAILABLE"
    assert [c["errorCode"] for c in calls_to(world.control, BOTS, "GET")] == ["BITRIX_UNAVAILABLE"] * 3


@pytest.mark.parametrize("code", ["BITRIX_UNAVAILABLE", "BITRIX_ERROR", "INTERNAL_ERROR", "QUEUE_TIMEOUT"])
def test_a_read_recovers_after_a_transient_failure(sandbox, world, code):
    bot = fast(world).register_bot(code="b", name="B")
    seed_first_fail_then_pass(sandbox)
    world.control.fault(method="GET", path=EVENTS, errorRate=0.5, errorCode=code)
    batch = fast(world).get_events(bot.id)
    assert batch.events == ()
    assert [c["errorCode"] for c in calls_to(world.control, f"/v1/bots/{bot.id}/events", "GET")] == [
        code,
        None,
    ]


def test_a_read_whose_connection_dropped_is_retried(sandbox, world):
    seed_first_fail_then_pass(sandbox)
    world.control.fault(method="GET", path=BOTS, dropRate=0.5)
    assert fast(world).list_bots() == []
    assert len(calls_to(world.control, BOTS, "GET")) == 2


def test_a_read_whose_connection_keeps_dropping_ends_in_a_transport_error(world):
    world.control.fault(method="GET", path=BOTS, dropRate=1)
    with pytest.raises(VibeTransportError) as caught:
        fast(world, max_attempts=3).list_bots()
    assert caught.value.sent is True
    assert len(calls_to(world.control, BOTS, "GET")) == 3


def test_a_client_error_is_never_retried(world):
    client = fast(world)
    with pytest.raises(VibeNotFoundError):
        client.get_bot(999_999)
    assert len(calls_to(world.control, "/v1/bots/999999", "GET")) == 1


# --- writes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["INTERNAL_ERROR", "QUEUE_TIMEOUT"])
def test_an_unsafe_post_answered_a_server_error_is_not_sent_again(world, code):
    world.control.fault(method="POST", path=BOTS, errorRate=1, errorCode=code)
    with pytest.raises(VibeServerError):
        fast(world).register_bot(code="b", name="B")
    assert len(calls_to(world.control, BOTS, "POST")) == 1


def test_an_unsafe_post_the_platform_says_did_not_run_is_sent_again(sandbox, world):
    seed_first_fail_then_pass(sandbox)
    world.control.fault(method="POST", path=BOTS, errorRate=0.5, errorCode="BITRIX_ERROR")
    assert fast(world).register_bot(code="b", name="B").id > 0
    assert [c["status"] for c in calls_to(world.control, BOTS, "POST")] == [502, 201]


def test_an_unsafe_post_met_by_bitrix_unavailable_is_not_sent_again(sandbox, world):
    """Third-party advice: check with a GET before repeating a write after BITRIX_UNAVAILABLE (CONTRACT B
    §2); only the caller can check, so the transport leaves it to the caller."""
    seed_first_fail_then_pass(sandbox)
    world.control.fault(method="POST", path=BOTS, errorRate=0.5, errorCode="BITRIX_UNAVAILABLE")
    with pytest.raises(VibeServerError) as caught:
        fast(world).register_bot(code="b", name="B")
    assert caught.value.may_have_acted
    assert [c["status"] for c in calls_to(world.control, BOTS, "POST")] == [502]


def test_an_unsafe_post_whose_connection_dropped_is_not_sent_again(world):
    client = fast(world)
    bot = client.register_bot(code="b", name="B")
    world.control.user_says(world.admin_id, "hi", bot_id=bot.id)
    world.control.fault(method="POST", path=FILES, dropRate=1)
    with pytest.raises(VibeTransportError) as caught:
        client.upload_file(bot.id, dialog_id=world.admin_id, name="a.txt", content=b"abc")
    assert caught.value.sent is True  # the platform may have posted it: only the caller can check
    assert f"POST /v1/bots/{bot.id}/files" in str(caught.value)  # the whole path, as answered errors say it
    assert len(calls_to(world.control, f"/v1/bots/{bot.id}/files", "POST")) == 1


def test_an_unsafe_post_is_retried_when_the_connection_could_not_even_open(world):
    from sandbox.runner import free_port

    attempts: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [attempts.append]}, timeout=2)
    client = VibeClient(
        api_key=world.personal_key, base_url=f"http://127.0.0.1:{free_port()}/v1", http=http,
        budget=NoBudget(), max_attempts=3, backoff_base=0.01, retry_max_wait=0.05,
    )  # fmt: skip
    with pytest.raises(VibeTransportError) as caught:
        client.register_bot(code="b", name="B")
    assert caught.value.sent is False
    assert len(attempts) == 3
    http.close()


def test_an_idempotent_write_is_retried_after_a_502(sandbox, world):
    client = fast(world)
    bot = client.register_bot(code="b", name="B")
    seed_first_fail_then_pass(sandbox)
    world.control.fault(method="PATCH", path=BOT, errorRate=0.5, errorCode="BITRIX_UNAVAILABLE")
    assert client.update_bot(bot.id, name="Renamed").name == "Renamed"
    assert [c["status"] for c in calls_to(world.control, f"/v1/bots/{bot.id}", "PATCH")] == [502, 200]


def test_register_with_adopt_existing_is_retried_after_a_502_and_makes_one_bot(sandbox, world):
    client = fast(world)
    seed_first_fail_then_pass(sandbox)
    world.control.fault(method="POST", path=BOTS, errorRate=0.5, errorCode="BITRIX_UNAVAILABLE")
    bot = client.register_bot(code="b", name="B", adopt_existing=True)
    world.control.delete("/faults")
    assert [b.id for b in client.list_bots()] == [bot.id]
    assert len(calls_to(world.control, BOTS, "POST")) == 2


# --- rate limit ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_429_is_waited_out_per_retry_after_then_the_read_succeeds(world):
    client = world.client("personal", max_attempts=3, retry_max_wait=5)
    world.control.post("/rate-limit", {"key": world.personal_key, "perSecond": 1})
    started = time.monotonic()
    client.list_bots()
    client.list_bots()  # the bucket is empty: 429 with retryAfter 1, then a retry that passes
    assert time.monotonic() - started >= 0.9
    assert [(c["status"], c["errorCode"]) for c in calls_to(world.control, BOTS, "GET")] == [
        (200, None),
        (429, "RATE_LIMIT"),
        (200, None),
    ]


def test_a_429_whose_retry_after_counts_milliseconds_is_waited_as_milliseconds(world):
    """`retry-after-ms`: read as seconds, the few hundred milliseconds asked were more than the longest
    wait (5 s here), and the call was raised to its caller instead of retried."""
    world.control.dialects("retry-after-ms")
    client = world.client("personal", max_attempts=3, retry_max_wait=5)
    world.control.post("/rate-limit", {"key": world.personal_key, "perSecond": 4})
    started = time.monotonic()
    for _ in range(6):
        client.list_bots()  # the burst of 4 is spent: 429s asking for at most 250 ms, each retried
    assert time.monotonic() - started < 3
    statuses = [c["status"] for c in calls_to(world.control, BOTS, "GET")]
    assert statuses.count(200) == 6 and 429 in statuses


@pytest.mark.slow
def test_a_429_on_an_unsafe_post_is_retried_because_nothing_happened(world):
    client = world.client("personal", max_attempts=3, retry_max_wait=5)
    world.control.post("/rate-limit", {"key": world.personal_key, "perSecond": 1})
    client.list_bots()
    bot = client.register_bot(code="b", name="B")
    assert [c["status"] for c in calls_to(world.control, BOTS, "POST")] == [429, 201]
    world.control.post("/rate-limit", {"key": world.personal_key, "perSecond": None})
    assert [b.id for b in client.list_bots()] == [bot.id]


def test_a_retry_after_longer_than_the_longest_wait_is_raised_for_the_caller(world):
    client = world.client("personal", max_attempts=3, retry_max_wait=0.5)
    world.control.post("/rate-limit", {"key": world.personal_key, "perSecond": 1})
    client.list_bots()
    with pytest.raises(VibeRateLimitError) as caught:
        client.list_bots()
    assert caught.value.retry_after == 1.0 and caught.value.status == 429
    assert len(calls_to(world.control, BOTS, "GET")) == 2


@pytest.mark.slow
def test_the_client_budget_keeps_the_platforms_429_away(world):
    world.control.post("/rate-limit", {"key": world.personal_key, "perSecond": 5})
    budget = SharedBudget(
        name="budget-test", per_second=4.5, burst=1, max_wait=10, store=InMemoryStateStore()
    )
    client = world.client("personal", budget=budget, max_attempts=1)
    for _ in range(15):
        client.list_bots()  # max_attempts=1: a single 429 would raise
    assert [c["status"] for c in calls_to(world.control, BOTS, "GET")] == [200] * 15


def test_a_spent_client_budget_is_raised_at_once_and_sends_nothing(world):
    class SpentBudget:
        waits = 0

        def acquire(self, *, priority: object = None) -> bool:
            self.waits += 1
            raise VibeBudgetTimeoutError(
                status=429, code="CLIENT_BUDGET_EXHAUSTED", message="spent", retry_after=0.01
            )

    budget = SpentBudget()
    client = world.client("personal", budget=budget, max_attempts=4)
    with pytest.raises(VibeBudgetTimeoutError):
        client.list_bots()
    assert budget.waits == 1  # one bounded wait, not one per attempt
    assert calls_to(world.control, BOTS, "GET") == []


def test_a_garbage_answer_is_a_transient_protocol_error_and_a_read_retries_it(world):
    # A proxy's HTML page in place of the platform's answer passes; a wrong base URL still ends in the
    # error once the attempts are spent.
    world.control.fault(method="GET", path=BOTS, garbageRate=1)
    with pytest.raises(VibeProtocolError) as caught:
        fast(world, max_attempts=3).list_bots()
    assert caught.value.status == 200 and caught.value.code is None and caught.value.is_transient
    assert len(calls_to(world.control, BOTS, "GET")) == 3


def test_an_answer_that_does_not_end_is_read_no_further_than_the_limit(world):
    """A server (or a proxy) that keeps sending: the whole stream was held in memory, up to the 256 MiB the
    sandbox gives up at; one that never stops held the worker until it ran out of memory."""
    world.control.fault(method="GET", path=BOTS, garbageRate=1, garbageKind="endless")
    with pytest.raises(VibeProtocolError, match="larger than 16 MiB") as caught:
        fast(world, max_attempts=1).list_bots()
    assert caught.value.status == 200 and caught.value.is_transient


@pytest.mark.parametrize("kind", ["wrong-encoding", "deep"])
def test_an_answer_that_does_not_decode_is_a_protocol_error_a_read_retries_and_a_send_does_not(world, kind):
    """A proxy's Content-Encoding the body does not match, or JSON nested past any parser's depth: the client
    raised httpx's DecodingError and Python's RecursionError, outside the VibeError family its callers judge
    (a poll cycle took either for a bug; a send's caller could not tell it may have posted)."""
    client = fast(world, max_attempts=2)
    bot = client.register_bot(code="b", name="B")
    world.control.fault(method="GET", path=BOTS, garbageRate=1, garbageKind=kind)
    world.control.fault(method="POST", path=f"/v1/bots/{bot.id}/messages", garbageRate=1, garbageKind=kind)
    with pytest.raises(VibeProtocolError) as caught:
        client.list_bots()
    assert caught.value.status == 200 and caught.value.is_transient
    assert len(calls_to(world.control, BOTS, "GET")) == 2
    with pytest.raises(VibeProtocolError) as caught:
        client.send_message(bot.id, dialog_id=str(world.admin_id), text="hi")
    assert caught.value.may_have_acted
    assert len(calls_to(world.control, f"/v1/bots/{bot.id}/messages", "POST")) == 1


def test_an_answer_that_trickles_in_ends_at_the_callers_deadline(world):
    """A byte every 100 ms never trips a read timeout: the call went on for a minute past a poll cycle's
    deadline, which is there to end the cycle before the task queue kills its worker."""
    world.control.fault(method="GET", path=BOTS, garbageRate=1, garbageKind="trickle")
    started = time.monotonic()
    with pytest.raises(VibeTransportError, match="deadline"):
        fast(world, max_attempts=1, read_timeout=2, deadline=started + 1).list_bots()
    assert time.monotonic() - started < 3


TEMPLATE_IDS = ("0b6f8c1e-2d4a-4b7e-9f3c-5a1d2e3f4a5b", "6a3c1b9e-5a0e-4c9b-8a59-6c2f0f1f7a10")


@pytest.mark.parametrize(
    "first", ["no send before", "a send whose answer mapped its templateId", "a send answered without it"]
)
def test_a_send_with_a_template_id_that_may_have_posted_is_never_repeated_by_the_transport(world, first):
    """Whatever the answers showed: a platform may map a templateId and still post a repeat (the caller
    checks a post in doubt in its chat instead, skills/context.py)."""
    client = fast(world)
    bot = client.register_bot(code="b", name="B")
    if first != "no send before":
        if first == "a send answered without it":
            world.control.dialects("no-template-dedupe")
        client.send_message(bot.id, dialog_id=str(world.admin_id), text="first", template_id=TEMPLATE_IDS[0])
    world.control.fault(method="POST", path=f"/v1/bots/{bot.id}/messages", garbageRate=1)
    with pytest.raises(VibeProtocolError):
        client.send_message(bot.id, dialog_id=str(world.admin_id), text="hi", template_id=TEMPLATE_IDS[1])
    sends = calls_to(world.control, f"/v1/bots/{bot.id}/messages", "POST")
    assert len(sends) == (1 if first == "no send before" else 2)


def test_a_garbage_answer_to_a_send_without_a_template_id_is_not_retried(world):
    client = fast(world)
    bot = client.register_bot(code="b", name="B")
    world.control.fault(method="POST", path=f"/v1/bots/{bot.id}/messages", garbageRate=1)
    with pytest.raises(VibeProtocolError):
        client.send_message(bot.id, dialog_id=str(world.admin_id), text="hi")
    assert len(calls_to(world.control, f"/v1/bots/{bot.id}/messages", "POST")) == 1


# --- the moment a send leaves (on_sending) ----------------------------------------------------------------


def test_on_sending_is_told_before_each_attempt_leaves_and_only_then(world):
    """Told before the request goes, after the wait for the budget: a caller recording there knows the send
    may have left (skills/context.py writes a post's doubt ahead so)."""
    from sandbox.runner import free_port

    told: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: told.append("sent")]}, timeout=2)
    client = VibeClient(
        api_key=world.personal_key, base_url=f"http://127.0.0.1:{free_port()}/v1", http=http,
        budget=NoBudget(), max_attempts=3, backoff_base=0.01, retry_max_wait=0.05,
    )  # fmt: skip
    with pytest.raises(VibeTransportError) as caught:
        client.send_message(1, dialog_id="1", text="hi", on_sending=lambda: told.append("sending"))
    assert caught.value.sent is False  # never opened: retried, each attempt told first
    assert told == ["sending", "sent"] * 3
    http.close()


def test_on_sending_is_not_told_of_a_send_the_budget_never_let_go(world):
    class SpentBudget:
        def acquire(self, *, priority: object = None) -> bool:
            raise VibeBudgetTimeoutError(
                status=429, code="CLIENT_BUDGET_EXHAUSTED", message="spent", retry_after=0.01
            )

    told: list[str] = []
    client = world.client("personal", budget=SpentBudget())
    with pytest.raises(VibeBudgetTimeoutError):
        client.send_message(1, dialog_id="1", text="hi", on_sending=lambda: told.append("sending"))
    assert told == []


def test_a_send_whose_on_sending_fails_is_not_sent(world):
    client = fast(world)
    bot = client.register_bot(code="b", name="B")

    def cannot_record() -> None:
        raise RuntimeError("the ledger is down")

    with pytest.raises(RuntimeError):
        client.send_message(bot.id, dialog_id=str(world.admin_id), text="hi", on_sending=cannot_record)
    assert calls_to(world.control, f"/v1/bots/{bot.id}/messages", "POST") == []


def test_a_send_whose_on_sending_outlasts_the_callers_deadline_is_not_sent(world):
    """on_sending may call the platform itself (skills/context.py reads the chat there, a post's doubt's
    mark): a read that ran past the caller's deadline left the post to go with no time for its answer, and
    a reply that may have arrived was in doubt. Past the deadline it is not sent (sent=False: taken back)."""
    client = fast(world)
    bot = client.register_bot(code="b", name="B")
    late = fast(world, max_attempts=1, deadline=time.monotonic() + 0.3)
    with pytest.raises(VibeTransportError) as caught:
        late.send_message(
            bot.id, dialog_id=str(world.admin_id), text="hi", on_sending=lambda: time.sleep(0.5)
        )
    assert caught.value.sent is False and "deadline" in str(caught.value)
    assert calls_to(world.control, f"/v1/bots/{bot.id}/messages", "POST") == []
