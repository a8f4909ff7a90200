"""The polling benchmark's measuring side: the users' messages, the drain, and what the platform saw of them.

Latency is read back from the platform (the sandbox's readback): from the moment it accepted the user's
message to the moment the bot's reply reached it, both on the platform's clock. A message without a reply
by the drain's deadline is unanswered: it counts as infinitely late in the percentiles, never dropped.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import psutil

# Threads the users' messages are sent from (see Load.run).
SENDERS = 16
REPLY_ROUTE = "POST /v1/bots/:id/messages"
POLL_ROUTE = "GET /v1/bots/:id/events"


def process_role(title: str) -> str:
    """What a process of the tree does, by the title django-q2 gives its own (setproctitle): "worker",
    "pusher", "monitor", "cluster" (the cluster's first process and its sentinel, which guards the rest),
    else "main" (a process that sets none: the poller, the baseline)."""
    words = title.split()
    if len(words) < 3 or words[0] != "qcluster":
        return "main"
    if not words[1].startswith("Process-"):  # "qcluster MainProcess <the cluster's name>"
        return "cluster"
    if words[2] in ("pusher", "monitor"):
        return words[2]
    return "worker"  # "idle", or "processing <task> '<function>'"


class ProcessMeter:
    """CPU seconds and RSS of a process tree, sampled every 0.25 s; `snapshot` gives CPU per pid so far,
    `roles` each pid's role (process_role).

    A pid's last sample is kept after it exits (a recycled worker), so a window's CPU is the per-pid
    difference of two snapshots, short by at most one sample per process that exited. The tree's RSS
    counts a page shared by forked workers once per process; its PSS (every PSS_EVERY samples: reading
    smaps costs more) splits each shared page among its sharers, so it sums to the memory really used.
    """

    PSS_EVERY = 8

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_rss = 0  # the tree's sum
        self.peak_single_rss = 0  # the largest process in it
        self.peak_pss = 0  # the tree's sum (0 where the system cannot tell)
        self._samples = 0
        self.cpu: dict[int, float] = {}
        self.roles: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_forever, daemon=True)

    def start(self) -> ProcessMeter:
        self._sample()
        self._thread.start()
        return self

    def _sample(self) -> None:
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total = pss = 0
        with_pss = self._samples % self.PSS_EVERY == 0
        self._samples += 1
        for process in tree:
            try:
                times, rss = process.cpu_times(), process.memory_info().rss
                pss += getattr(process.memory_full_info(), "pss", 0) if with_pss else 0
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            with self._lock:
                self.cpu[process.pid] = times.user + times.system
            if self.roles.get(process.pid, "main") == "main":  # a fresh fork titles itself a moment later
                try:
                    self.roles[process.pid] = process_role(" ".join(process.cmdline()))
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            total += rss
            self.peak_single_rss = max(self.peak_single_rss, rss)
        self.peak_rss = max(self.peak_rss, total)
        self.peak_pss = max(self.peak_pss, pss)

    def _sample_forever(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def snapshot(self) -> dict[int, float]:
        self._sample()
        with self._lock:
            return dict(self.cpu)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def cpu_by_role(before: dict[int, float], after: dict[int, float], roles: dict[int, str]) -> dict[str, tuple]:
    """A window's CPU seconds per role, with the number of processes of that role: {role: (seconds, n)}."""
    split: dict[str, tuple[float, int]] = {}
    for pid, seconds in after.items():
        role = roles.get(pid, "main")
        spent, count = split.get(role, (0.0, 0))
        split[role] = (spent + seconds - before.get(pid, 0.0), count + 1)
    return split


def cpu_ms_per_answer(
    *, active_cpu: float, active_seconds: float, idle_cpu: float, idle_seconds: float, answered: int
) -> float:
    """The active window's CPU beyond what the same span of idle costs, in ms per message answered in it.

    NaN where that measures nothing: no answer in the window, or a side held up by something else (the
    platform or the users saturating the cores) so long that it spent no more than its idle rate; the
    difference there is noise, and the 10,000-bot sweep once printed -29 ms a message from it.
    """
    beyond_idle = active_cpu - idle_cpu / idle_seconds * active_seconds
    if not answered or beyond_idle <= 0:
        return math.nan
    return beyond_idle * 1000 / answered


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Sent:
    bot_id: int
    chat_id: int
    message_id: int
    accepted_at: float  # the platform's clock


@dataclass
class Load:
    """The users of the active dialogs, writing every ~`every` seconds, and what became of their messages."""

    control: httpx.Client
    active: list[tuple[int, int]]  # (platform bot id, the admin who writes to it)
    every: float
    rng: random.Random
    sent: dict[str, Sent] = field(default_factory=dict)  # the active window's messages
    opened: dict[str, Sent] = field(default_factory=dict)  # each dialog's first message, before the window
    failed_sends: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, bot_id: int, admin_id: int, text: str) -> Sent | None:
        response = self.control.post(
            "/_sandbox/act/messages", json={"userId": admin_id, "botId": bot_id, "text": text}
        )
        if response.status_code != 200:
            with self._lock:
                self.failed_sends += 1
            return None
        message = response.json()["data"]["message"]
        # The readback gives the acceptance time to the microsecond (the send answer has whole seconds);
        # the bot's replies to earlier messages may have come after it, hence the last few.
        newest = self.control.get(f"/_sandbox/chats/{message['chatId']}/messages", params={"limit": 5}).json()
        mine = [m for m in newest["data"]["messages"] if m["id"] == message["id"]]
        at = mine[0]["dateEpoch"] if mine else time.time()
        return Sent(bot_id=bot_id, chat_id=message["chatId"], message_id=message["id"], accepted_at=at)

    def open_dialogs(self, *, settle: float, deadline: float) -> tuple[dict[str, float], float]:
        """Each active dialog's first message after the idle window, then a wait of at least `settle`
        seconds until every one is answered or `deadline` seconds pass; (latencies, seconds waited).

        The first message reaches a bot polled at its idle cadence: where the platform does not hold a
        poll it waits up to BOTCORE_POLL_SLOW_SECONDS, a cost reported apart from the active window's."""
        started = time.monotonic()
        for bot_id, admin_id in self.active:
            text = f"first-{uuid.uuid4().hex[:12]}"
            sent = self.send(bot_id, admin_id, text)
            if sent is not None:
                self.opened[text] = sent
        time.sleep(settle)
        while True:
            latencies = self.replies(self.opened)
            waited = time.monotonic() - started
            if len(latencies) == len(self.opened) or waited >= deadline:
                return latencies, waited
            time.sleep(1.0)

    @property
    def asked_rate(self) -> float:
        """Messages a second the active dialogs ask for: each writes every ~`every` seconds."""
        return len(self.active) / self.every

    def run(self, seconds: float) -> None:
        """Each active dialog's user writes every ~`every` seconds for `seconds`, then the sends still on
        their way are waited for. Sends go out on SENDERS threads: one after another, two round trips
        each, they topped out near 50 a second with the cores busy, a fifth of what 1,000 dialogs ask."""
        due = {bot_id: time.monotonic() + self.rng.uniform(0, self.every) for bot_id, _ in self.active}
        started = time.monotonic()
        writes = []
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="user") as senders:
            while time.monotonic() - started < seconds:
                now = time.monotonic()
                for bot_id, admin_id in self.active:
                    if due[bot_id] <= now:
                        text = f"bench-{uuid.uuid4().hex[:12]}"
                        writes.append(senders.submit(self._write, bot_id, admin_id, text))
                        due[bot_id] = now + self.every * self.rng.uniform(0.5, 1.5)
                time.sleep(0.01)
        for write in writes:
            write.result()  # a send that raised stops the run, as it did from the loop itself

    def _write(self, bot_id: int, admin_id: int, text: str) -> None:
        sent = self.send(bot_id, admin_id, text)
        if sent is not None:
            self.sent[text] = sent

    def replies(self, sent_messages: dict[str, Sent]) -> dict[str, float]:
        """Each answered message's latency in seconds: its reply is the bot's first message after it that
        quotes its text (the echo skill's answer)."""
        latencies: dict[str, float] = {}
        by_chat: dict[int, list[tuple[str, Sent]]] = {}
        for text, sent in sent_messages.items():
            by_chat.setdefault(sent.chat_id, []).append((text, sent))
        for chat_id, mine in by_chat.items():
            messages = self.control.get(f"/_sandbox/chats/{chat_id}/messages").json()["data"]["messages"]
            for text, sent in mine:
                reply = next(
                    (
                        m
                        for m in messages
                        if m["id"] > sent.message_id and m["authorId"] == sent.bot_id and text in m["text"]
                    ),
                    None,
                )
                if reply is not None:
                    latencies[text] = reply["dateEpoch"] - sent.accepted_at
        return latencies

    def drain(self, *, replies_before: int, deadline: float) -> tuple[dict[str, float], float]:
        """Wait until every message has its reply or `deadline` seconds pass; (latencies, seconds waited)."""
        started = time.monotonic()
        while True:
            waited = time.monotonic() - started
            posted = stats(self.control)["byRoute"].get(REPLY_ROUTE, 0) - replies_before
            if posted >= len(self.sent) or waited >= deadline:
                latencies = self.replies(self.sent)
                if len(latencies) == len(self.sent) or waited >= deadline:
                    return latencies, waited
            time.sleep(1.0)


def stats(control: httpx.Client) -> dict:
    return control.get("/_sandbox/stats").json()["data"]


def summarize_latency(sent: dict[str, Sent], latencies: dict[str, float]) -> dict[str, float]:
    """p50/p95/p99 with every unanswered message as infinitely late."""
    values = [latencies.get(text, math.inf) for text in sent]
    return {
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else math.nan,
    }


def count_event_outcomes(texts: set[str]) -> Counter[str]:
    """How the engine's event log settled the benchmark's messages: handled, failed, ignored, received..."""
    from botcore.models import EventLogEntry

    outcomes: Counter[str] = Counter()
    for payload, status in EventLogEntry.objects.filter(event_type="ONIMBOTV2MESSAGEADD").values_list(
        "payload", "status"
    ):
        text = ((payload.get("data") or {}).get("message") or {}).get("text", "")
        if text in texts:
            outcomes[status] += 1
    return outcomes
