"""The chaos benchmark's faults: what can go wrong, drawn from a seeded deck so each kind recurs, and counted.

Kills hit the app's processes (a qcluster's worker, a whole qcluster, a poller or pacer); platform faults are
sandbox fault rules held for a few seconds on one endpoint the skill uses at a time, in turn, so every
endpoint gets every kind; poison events go to a bot's queue like any other event. The session expiry and the
Redis restart are scheduled once (or a few times) per run by the caller.
"""

from __future__ import annotations

import copy
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from benchmarks.chaos_stack import PrivateRedis, Stack

# The platform endpoints the instrumented skill's handling touches: the poll, the reaction, the reply.
ENDPOINTS = (
    ("GET", "/v1/bots/{bot_id}/events"),
    ("POST", "/v1/bots/{bot_id}/messages/{message_id}/reactions"),
    ("POST", "/v1/bots/{bot_id}/messages"),
)
# A command's answer is a post as a message's reply is: a fault on the reply's endpoint holds on the answer's
# at the same time, so that commands meet what replies meet, and each seed's schedule stays what it was.
ALSO_STRUCK = {"/v1/bots/{bot_id}/messages": ("/v1/bots/{bot_id}/commands/{command_id}/answer",)}
KILLS = ("kill_worker", "kill_qcluster", "kill_poller")  # kill_poller: the poller, or the pacer
RULES = (
    "latency_above_lease",
    "rate_limit_storm",
    "server_error",
    "dropped_connection",
    "html_answer",
    "garbage_answer",
    "answer_lost",  # the platform acted, then its answer was lost: a write whose outcome is unknown
)
POISON = ("poison_nul_text", "poison_huge_event_id")
# One deck: half kills (a worker twice as often as a whole process), then each other kind once.
DECK = (
    "kill_worker",
    "kill_worker",
    "kill_worker",
    "kill_worker",
    "kill_qcluster",
    "kill_qcluster",
    "kill_poller",
    "kill_poller",
    *RULES,
    *POISON,
)
SCHEDULED = ("session_expiry", "redis_restart")  # once or a few times a run, at set moments
ALL_KINDS = (*KILLS, *RULES, *POISON, *SCHEDULED)
BIGINT_MAX = 2**63 - 1


@dataclass
class Target:
    """A bot the benchmark writes to: who writes, and a MESSAGEADD it received (the poison's template)."""

    member_id: str
    bot_id: int
    user_id: int
    template: dict | None = None


@dataclass
class Injected:
    at: float  # seconds since the chaos started
    kind: str
    detail: str = ""


@dataclass
class FaultInjector:
    stack: Stack
    redis: PrivateRedis
    control: httpx.Client
    rng: random.Random
    lease_seconds: float
    deck: tuple[str, ...] = DECK
    rule_seconds: float = 5.0
    started: float = field(default_factory=time.monotonic)
    counts: Counter = field(default_factory=Counter)
    timeline: list[Injected] = field(default_factory=list)
    poison_keys: set[str] = field(default_factory=set)
    _deck: list[str] = field(default_factory=list)
    _endpoint_turn: Counter = field(default_factory=Counter)
    _expiring_rules: list[tuple[float, int]] = field(default_factory=list)
    _poisons: int = 0

    def now(self) -> float:
        return time.monotonic() - self.started

    def record(self, kind: str, detail: str = "") -> None:
        self.counts[kind] += 1
        self.timeline.append(Injected(self.now(), kind, detail))

    def next_kind(self) -> str:
        if not self._deck:
            self._deck = list(self.deck)
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    def inject(self, kind: str, targets: list[Target]) -> None:
        if kind in KILLS:
            self._kill(kind)
        elif kind in RULES:
            self._rule(kind)
        elif kind == "poison_nul_text":
            self._poison_nul(self.rng.choice(targets))
        elif kind == "poison_huge_event_id":
            self._poison_huge_id(self.rng.choice([t for t in targets if t.template] or targets))

    # --- processes -----------------------------------------------------------------------------------
    def _kill(self, kind: str) -> None:
        if kind == "kill_worker":
            name = self.rng.choice([n for n in self.stack.apps if n.startswith("qcluster")])
            if self.stack.kill_worker(name, self.rng):
                self.record(kind, name)
            return
        running = [
            name
            for name, app in self.stack.apps.items()
            if name.startswith("qcluster") == (kind == "kill_qcluster") and app.process is not None
        ]
        if running:
            name = self.rng.choice(running)
            self.stack.kill_app(name, restart_in=self.rng.uniform(0.2, 3.0))
            self.record(kind, name)

    def restart_redis(self) -> None:
        """SIGKILL redis-server and start it again on its port: the queued tasks are gone with it."""
        self.redis.kill()
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.redis.start()
        self.record("redis_restart")

    # --- the platform misbehaving --------------------------------------------------------------------
    def _endpoint_for(self, kind: str) -> tuple[str, str]:
        turn = self._endpoint_turn[kind]
        self._endpoint_turn[kind] += 1
        return ENDPOINTS[turn % len(ENDPOINTS)]

    def _rule(self, kind: str) -> None:
        method, path = self._endpoint_for(kind)
        rule: dict = {"method": method, "path": path}
        if kind == "latency_above_lease":
            rule["latencyMs"] = round((self.lease_seconds + self.rng.uniform(1.0, 4.0)) * 1000)
        elif kind == "rate_limit_storm":
            rule.update(errorRate=self.rng.uniform(0.7, 1.0), errorCode="RATE_LIMIT")
        elif kind == "server_error":
            code = self.rng.choice(["INTERNAL_ERROR", "BITRIX_UNAVAILABLE", "BITRIX_ERROR", "QUEUE_TIMEOUT"])
            rule.update(errorRate=self.rng.uniform(0.4, 0.9), errorCode=code)
        elif kind == "dropped_connection":
            rule["dropRate"] = self.rng.uniform(0.4, 0.9)
        elif kind == "answer_lost":
            rate = self.rng.uniform(0.4, 0.9)
            server_error = {"errorRate": rate, "errorCode": "INTERNAL_ERROR"}
            lost = self.rng.choice([{"dropRate": rate}, {"garbageRate": rate}, server_error])
            rule.update(afterAction=True, **lost)
        elif kind == "html_answer":
            rule.update(garbageRate=self.rng.uniform(0.4, 0.9), garbageKind="html")
        else:
            rule.update(garbageRate=self.rng.uniform(0.4, 0.9), garbageKind=self.rng.choice(["text", "json"]))
        # Latency is held longer: a cycle must start inside the window to be slowed past its lease.
        hold = self.rule_seconds * (2 if kind == "latency_above_lease" else 1)
        for struck in (path, *ALSO_STRUCK.get(path, ())):
            answer = self.control.post("/_sandbox/faults", json={**rule, "path": struck})
            answer.raise_for_status()
            self._expiring_rules.append((time.monotonic() + hold, answer.json()["data"]["id"]))
        self.record(kind, f"{method} {path}")

    def expire_rules(self, *, everything: bool = False) -> None:
        now = time.monotonic()
        keep = []
        for until, rule_id in self._expiring_rules:
            if everything or until <= now:
                self.control.delete(f"/_sandbox/faults/{rule_id}")
            else:
                keep.append((until, rule_id))
        self._expiring_rules = keep

    # --- poison events -------------------------------------------------------------------------------
    def _poison_nul(self, target: Target) -> None:
        self._poisons += 1
        body = {"userId": target.user_id, "botId": target.bot_id, "text": f"poison \u0000 {self._poisons}"}
        answer = self.control.post("/_sandbox/act/messages", json=body)
        answer.raise_for_status()
        for event in answer.json()["data"]["events"]:
            self.poison_keys.add(f"{target.member_id}:{event['botId']}:{event['eventId']}")
        self.record("poison_nul_text", str(target.bot_id))

    def _poison_huge_id(self, target: Target) -> None:
        if target.template is None:
            return
        self._poisons += 1
        event_id = BIGINT_MAX + self._poisons
        data = copy.deepcopy(target.template)
        data["message"]["text"] = f"poison huge id {self._poisons}"
        body = {"botId": target.bot_id, "type": "ONIMBOTV2MESSAGEADD", "data": data, "eventId": event_id}
        self.control.post("/_sandbox/act/raw-events", json=body).raise_for_status()
        self.poison_keys.add(f"{target.member_id}:{target.bot_id}:{event_id}")
        self.record("poison_huge_event_id", str(target.bot_id))

    # --- reading back --------------------------------------------------------------------------------
    def near(self, *, start: float, end: float) -> Counter:
        """Fault kinds injected between `start` and `end` (seconds since the chaos started)."""
        return Counter(item.kind for item in self.timeline if start <= item.at <= end)
