"""Rate-limit benchmark: the real qcluster and poller against a sandbox whose limit the backend is never told.

    .venv/bin/python benchmarks/rate_limits.py            # limits 1, 2, 5, 10/s, per key and per key+portal
    .venv/bin/python benchmarks/rate_limits.py --quick    # limits 1 and 5/s, shorter runs
    .venv/bin/python benchmarks/rate_limits.py --design pacer   # the per-task design the poller replaced
    .venv/bin/python benchmarks/rate_limits.py --storm    # recovery after a minute of 429s (~11 min)

The backend is configured for 9 requests/s (VIBE_BUDGET_PER_SECOND, the ceiling) whatever the sandbox
does. Each configuration starts from that ceiling (the learned rates are forgotten), sends messages to 25
active dialogs (5 users on each of 5 portals) faster than the limit lets the bot answer them, then stops
sending and waits until every message is answered. Figures per configuration:
- 429/min: the platform's 429s after the first 30 s (learning), per minute, up to the last answer;
- answered: messages the bot echoed back / messages sent;
- used: requests the platform accepted per second from 30 s to the end of the load (demand exceeds the
  limit throughout: messages alone come at 1.3 times it), over the limit usable: the platform's limit
  for the key (per key), or the portals' limits summed (per key+portal), and never more than the 9/s
  ceiling the backend is allowed.
After each configuration it prints a trace, every 5 s of the load: the learned rates (the key's / each
portal's), the requests the platform accepted per second and its 429s in those 5 s.
`--storm` measures something else: the recovery after a storm of 429s. The sandbox lets the ceiling
through, then for a minute only 1.5 requests/s per key (the platform busy, what a soak trial met), then the
ceiling again, while messages come at a third of the ceiling throughout (demand a little over it, a message
costing three or four calls). Figures: seconds from the storm's end until the platform accepts 80 % of the
ceiling over 5 s again, and until the key's learned rate is back at 90 % of it; 429s after the storm;
messages answered. The baselines are the same recovery computed, from the learned state read at the storm's
end, by the climbs the learning used before: held at the plateau for PROBE_AFTER after the last 429, then
the probe's doubling (FIRST_PROBE_AFTER = PROBE_AFTER, no return to the rate before the storm), and the
additive climb before that doubling (PROBE_DOUBLING infinite too); the current climb's own prediction beside
them.
Runs on a fresh SQLite database under var/bench-rate/ (or DATABASE_URL/REDIS_URL when set); the engine's
warnings and each configuration's platform call log (calls-<mode>-<limit>.jsonl) are kept there too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from polling import build_environment  # noqa: E402

from benchmarks.machine import commit, describe_machine  # noqa: E402
from benchmarks.polling_setup import setup_django  # noqa: E402
from vibeapp.children import stop_groups  # noqa: E402

CEILING = 9.0
LEARNING_SECONDS = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="limits 1 and 5/s, 50 s of load each")
    parser.add_argument("--limits", default="1,2,5,10")
    parser.add_argument(
        "--modes", default="key,portal", help="key: limit per key; portal: per key and portal"
    )
    parser.add_argument(
        # Two minutes: a 429 rate per minute and a share used "after the first 30 s" are read over 90 s
        # of steady load, not the half-minute right after learning (mostly the climb back from its cut).
        "--load-seconds",
        type=float,
        default=120.0,
        help="seconds of messages per configuration",
    )
    parser.add_argument("--storm", action="store_true", help="recovery after a minute of 429s (above)")
    parser.add_argument("--portals", type=int, default=5)
    parser.add_argument("--dialogs", type=int, default=25)
    # A cycle mostly waits for its portal's budget: with limits per portal, a worker per portal keeps it busy.
    parser.add_argument("--workers", type=int, default=6, help="django-q2 workers")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--sandbox-port", type=int, default=8191)
    parser.add_argument(
        "--design",
        choices=["poller", "pacer"],
        default="poller",
        help="what watches the bots (as shipped: poller)",
    )
    parser.add_argument(
        "--workdir", default=str(ROOT / "var" / "bench-rate"), help="emptied first: SQLite file and logs"
    )
    args = parser.parse_args()
    if args.quick:
        args.limits, args.load_seconds = "1,5", 50.0
    return args


def seed(control: httpx.Client, args: argparse.Namespace) -> tuple[str, list[dict], list[list[int]]]:
    """One app; portals, each with an admin (whose session installs it) and colleagues to talk to the bot."""
    app = control.post("/_sandbox/apps", json={"name": "Rate app"}).json()["data"]
    tenants, users = [], []
    per_portal = max(1, args.dialogs // args.portals)
    for index in range(args.portals):
        portal = control.post("/_sandbox/portals", json={"domain": f"rate{index}.bitrix24.com"}).json()[
            "data"
        ]["portal"]
        people = [
            control.post(
                f"/_sandbox/portals/{portal['id']}/users",
                json={"name": f"User {index}.{n}", "isAdmin": n == 0},
            ).json()["data"]["user"]
            for n in range(per_portal)
        ]
        session = control.post(
            "/_sandbox/sessions", json={"appKey": app["key"], "userId": people[0]["id"]}
        ).json()["data"]
        tenants.append({"portal": portal, "admin": people[0], "session": session})
        users.append([person["id"] for person in people])
    return app["key"], tenants, users


def forget_learned(app_key: str) -> None:
    """Every configuration starts from the ceiling: drop what the last one learned (and its pacing state)."""
    from django.db import connection

    from botcore.vibe.budget import key_digest
    from botcore.vibe.budget_store import CREATE_TABLE, TABLE

    digests = [key_digest(app_key), key_digest(f"pacer:{app_key}")]
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
        for digest in digests:
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE name LIKE %s OR name LIKE %s", [f"learn:{digest}%", f"{digest}%"]
            )
    if os.environ.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        for digest in digests:
            for name in [
                *client.scan_iter(f"vibe:learn:{digest}*"),
                *client.scan_iter(f"vibe:budget:{digest}*"),
            ]:
                client.delete(name)


def answered(control: httpx.Client, bots: list[int], texts: set[str]) -> int:
    """How many of `texts` the bots echoed back (the echo skill quotes the text in its answer)."""
    seen = set()
    for bot_id in bots:
        for message in control.get(f"/_sandbox/bots/{bot_id}/messages").json()["data"]["messages"]:
            seen.update(re.findall(r"rate-[0-9a-f]{10}", message.get("text") or ""))
    return len(seen & texts)


def learned_rates(app_key: str) -> tuple[float, float, float]:
    """The learned rates (the key's, each portal's) as the backend's processes share them, and the best
    a single portal was measured to get through (what decides whether a portal's 429 cuts the key)."""
    key, portals = read_learned(app_key), read_learned(app_key, ":portals")
    return key.rate, portals.rate, portals.best


def read_learned(app_key: str, scope: str = ""):
    """The learned state of the key (or, `scope` ":portals", of its portals) as the processes share it."""
    from botcore.vibe.budget import key_digest
    from botcore.vibe.key_budgets import learned_store, resolve_backend
    from botcore.vibe.learning import LearnedState

    backend = resolve_backend()
    store = learned_store(backend, os.environ.get("REDIS_URL", "") if backend == "redis" else "")
    return LearnedState.decode(store.read(f"{key_digest(app_key)}{scope}"), ceiling=CEILING)


def send_message(control: httpx.Client, dialog: tuple[int, int]) -> str:
    """A user's message to the bot of `dialog` (bot, user); its text, which the echo quotes back."""
    bot_id, user_id = dialog
    text = f"rate-{uuid.uuid4().hex[:10]}"
    control.post("/_sandbox/act/messages", json={"userId": user_id, "botId": bot_id, "text": text})
    return text


def run_one(
    control: httpx.Client,
    *,
    app_key: str,
    mode: str,
    limit: float,
    args: argparse.Namespace,
    dialogs: list[tuple[int, int]],
    bots: list[int],
) -> dict:
    control.post("/_sandbox/dialects", json={"dialects": ["portal-rate-limit"] if mode == "portal" else []})
    control.post("/_sandbox/rate-limit", json={"key": app_key, "perSecond": limit})
    forget_learned(app_key)
    usable = min(CEILING, limit if mode == "key" else limit * args.portals)
    rng = random.Random(f"{mode}{limit}")
    sent: set[str] = set()
    samples: list[tuple[float, int, int]] = []  # (seconds since start, accepted so far, 429s so far)
    learned: list[tuple[float, float, float]] = []

    def sample(started: float) -> None:
        by_status = control.get("/_sandbox/stats").json()["data"]["byStatus"]
        throttled = by_status.get("429", 0)
        samples.append((time.monotonic() - started, sum(by_status.values()) - throttled, throttled))
        learned.append(learned_rates(app_key))

    calls_before = sum(control.get("/_sandbox/stats").json()["data"]["byStatus"].values())
    started = time.monotonic()
    sample(started)
    interval = 1 / (1.3 * usable)  # messages alone come faster than the limit lets them be answered
    next_at, next_sample = started, started + 1
    while time.monotonic() - started < args.load_seconds:
        now = time.monotonic()
        if now >= next_at:
            sent.add(send_message(control, rng.choice(dialogs)))
            next_at += interval
        if now >= next_sample:
            sample(started)
            next_sample += 1
        time.sleep(0.01)
    load_end = len(samples) - 1
    drain_deadline = time.monotonic() + max(90.0, 2 * len(sent) / usable)
    done = 0
    while time.monotonic() < drain_deadline:
        done = answered(control, bots, sent)
        sample(started)
        if done == len(sent):
            break
        time.sleep(2)
    keep_calls(control, since=calls_before, path=Path(args.workdir) / f"calls-{mode}-{limit:g}.jsonl")
    after = [s for s in samples if s[0] >= LEARNING_SECONDS]
    first = after[0]
    minutes = max((samples[-1][0] - first[0]) / 60, 1e-9)
    load = [s for s in after if s[0] <= samples[load_end][0]]
    used = (load[-1][1] - load[0][1]) / max(load[-1][0] - load[0][0], 1e-9) if len(load) > 1 else float("nan")
    return {
        "mode": "key" if mode == "key" else "key+portal",
        "limit": limit,
        "usable": usable,
        "429_first_30s": first[2] - samples[0][2],
        "429_per_min": (samples[-1][2] - first[2]) / minutes,
        "sent": len(sent),
        "answered": done,
        "used": used,
        "used_share": used / usable,
        "seconds": samples[-1][0],
        # The learned rates (key, each portal), averaged over the measured part of the load.
        "learned": [
            statistics.fmean(pair[n] for pair, s in zip(learned, samples, strict=True) if s in load)
            for n in (0, 1)
        ],
        "trace": trace(samples[: load_end + 1], learned),
    }


STORM_LIMIT = 1.5  # requests/s per key let through during the storm
STORM_SECONDS = 60.0
STORM_AFTER = 20.0  # seconds of load at the ceiling before the storm
RECOVERED_SHARE = 0.8  # of the ceiling, accepted over 5 s: the platform's view of "back to normal"
RECOVERY_LIMIT = 900.0  # seconds after the storm the run waits for the recovery at most


def run_storm(control: httpx.Client, *, app_key: str, dialogs: list, bots: list[int]) -> dict:
    """The recovery after a minute of 429s (module doc); the baseline computed from the state at its end."""
    control.post("/_sandbox/dialects", json={"dialects": []})
    set_key_limit(control, app_key, None)  # the sandbox's default: far over the ceiling
    forget_learned(app_key)
    rng = random.Random("storm")
    sent: set[str] = set()
    samples: list[tuple[float, int, int]] = []
    learned: list[tuple[float, float, float]] = []
    interval = 3 / CEILING  # a third of the ceiling in messages: a little over it in calls
    started = time.monotonic()
    phase, storm_end_state, ended_at, read_at = "before", None, 0.0, 0.0
    accepted_back = rate_back = None
    next_at = next_sample = started
    while True:
        now = time.monotonic()
        elapsed = now - started
        if phase == "before" and elapsed >= STORM_AFTER:
            set_key_limit(control, app_key, STORM_LIMIT)
            phase = "storm"
        elif phase == "storm" and elapsed >= STORM_AFTER + STORM_SECONDS:
            set_key_limit(control, app_key, None)
            storm_end_state = read_learned(app_key)
            read_at = time.time()
            phase, ended_at = "after", elapsed
        if now >= next_at:
            sent.add(send_message(control, rng.choice(dialogs)))
            next_at += interval
        if now >= next_sample:
            by_status = control.get("/_sandbox/stats").json()["data"]["byStatus"]
            throttled = by_status.get("429", 0)
            samples.append((elapsed, sum(by_status.values()) - throttled, throttled))
            learned.append(learned_rates(app_key))
            next_sample += 1
            if phase == "after" and len(samples) > 5:
                (t0, ok0, _), (t1, ok1, _) = samples[-6], samples[-1]
                if accepted_back is None and (ok1 - ok0) / (t1 - t0) >= RECOVERED_SHARE * CEILING:
                    accepted_back = t1 - ended_at
                if rate_back is None and learned[-1][0] >= 0.9 * CEILING:
                    rate_back = t1 - ended_at
            if phase == "after" and (
                (accepted_back is not None and rate_back is not None) or elapsed - ended_at > RECOVERY_LIMIT
            ):
                break
        time.sleep(0.01)
    throttled_at_end = next(s[2] for s in samples if s[0] >= ended_at)
    drain_deadline = time.monotonic() + 300
    done = answered(control, bots, sent)
    while done < len(sent) and time.monotonic() < drain_deadline:
        time.sleep(2)
        done = answered(control, bots, sent)
    assert storm_end_state is not None
    return {
        "accepted_back": accepted_back,
        "rate_back": rate_back,
        "429_after": samples[-1][2] - throttled_at_end,
        "sent": len(sent),
        "answered": done,
        "state": storm_end_state,
        "additive": simulated_recovery(storm_end_state, read_at=read_at, **HELD, PROBE_DOUBLING=math.inf),
        "held": simulated_recovery(storm_end_state, read_at=read_at, **HELD),
        "model": simulated_recovery(storm_end_state, read_at=read_at),
        "trace": trace(samples, learned),
    }


def set_key_limit(control: httpx.Client, app_key: str, per_second: float | None) -> None:
    """The sandbox's limit for the key (None: its default, which runsandbox set far over the ceiling)."""
    control.post("/_sandbox/rate-limit", json={"key": app_key, "perSecond": per_second}).raise_for_status()


# The learning's constants as they were before the storm's quicker probes (baseline models, below).
HELD = {"FIRST_PROBE_AFTER": 300.0, "RETURN_DOUBLING": math.inf}


def simulated_recovery(state, *, read_at: float, **constants: float) -> float | None:
    """Seconds from `read_at` (the storm's end, wall clock) until the learned rate `state` is at 90 % of the
    ceiling, demand saturating it and no 429, by the learning's own functions; `constants` replace the
    learning's (HELD: the climb before the quicker probes; PROBE_DOUBLING math.inf too: the additive climb
    past the plateau, as before the probe's doubling)."""
    from botcore.vibe import learning

    saved = {name: getattr(learning, name) for name in constants}
    for name, value in constants.items():
        setattr(learning, name, value)
    try:
        s = learning.LearnedState(**vars(state))
        for second in range(4 * 3600):
            if s.rate >= 0.9 * CEILING:
                return float(second)
            s = learning.add_successes(s, count=max(1, round(s.rate)), now=read_at + second, ceiling=CEILING)
        return None
    finally:
        for name, value in saved.items():
            setattr(learning, name, value)


def keep_calls(control: httpx.Client, *, since: int, path: Path) -> None:
    """The platform's log of this configuration's calls (arrival, route, status), one JSON line each: the
    spacing of the calls a 429 refused shows whether the budget or the network let them come too close."""
    calls = control.get("/_sandbox/calls", params={"since": since}).json()["data"]["calls"]
    with path.open("w", encoding="utf-8") as file:
        for call in calls:
            line = {name: call.get(name) for name in ("seq", "at", "method", "path", "status", "botId")}
            file.write(json.dumps({**line, "timeout": call.get("query", {}).get("timeout")}) + "\n")


def trace(samples: list[tuple[float, int, int]], learned: list[tuple[float, float, float]]) -> str:
    """Every 5 s of the load: the learned rates (key/each portal, then the best a portal got through), then
    accepted/s and 429s in those 5 s."""
    steps = []
    for n in range(5, len(samples), 5):
        (t0, ok0, no0), (t1, ok1, no1) = samples[n - 5], samples[n]
        key, portal, best = learned[n]
        steps.append(f"{key:.2f}/{portal:.2f}<{best:.2f} ({(ok1 - ok0) / (t1 - t0):.1f}/s, {no1 - no0}x429)")
    return " ".join(steps)


def format_row(row: dict) -> str:
    return (
        f"| {row['mode']} | {row['limit']:g}/s | {row['usable']:g}/s | {row['429_first_30s']} | "
        f"{row['429_per_min']:.2f} | {row['answered']}/{row['sent']} | {row['used']:.2f} | "
        f"{row['used_share']:.0%} | {row['learned'][0]:.2f} / {row['learned'][1]:.2f} |"
    )


def install_and_provision(tenants: list[dict]) -> list[tuple[int, int]]:
    """Store each admin's session (as a gateway visit would), provision its bot; (bot vibe id, admin id)."""
    from django_q.brokers import get_broker

    from botcore.services.bots import provision_bot
    from tenants.testing import store_sandbox_session

    bots = []
    for tenant in tenants:
        stored = store_sandbox_session(
            portal=tenant["portal"], user=tenant["admin"], session=tenant["session"]
        )
        bots.append((provision_bot(stored).vibe_bot_id, tenant["admin"]["id"]))
    get_broker().purge_queue()  # the install signals queued provisioning again: it is done already
    return bots


def main() -> None:
    args = parse_args()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = build_environment(
        argparse.Namespace(workers=args.workers, rate_limit=0, fast=0.5, slow=10, long_poll=None), workdir
    )
    env["VIBE_BUDGET_PER_SECOND"] = str(CEILING)  # the ceiling; the sandbox's real limit is never told
    env.pop("VIBE_SQLITE_PATH", None) if os.environ.get("DATABASE_URL") else env.update(
        VIBE_SQLITE_PATH=str(workdir / "rate.sqlite3")
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    backend = (
        f"{database} + {'Redis (budget and broker)' if os.environ.get('REDIS_URL') else 'database budget'}"
    )
    print(
        f"rate-limit benchmark: commit {commit()}, {backend}, {args.workers} workers, "
        f"engine {args.design}, ceiling {CEILING:g}/s, {args.dialogs} dialogs on {args.portals} portals, "
        f"+{args.latency_ms:g} ms latency\n{describe_machine()}"
    )
    sandbox = subprocess.Popen(
        [*manage, "runsandbox", "--port", str(args.sandbox_port), "--rate-limit", "100000"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    processes = [sandbox]
    try:
        for _ in range(100):
            try:
                httpx.get(f"{sandbox_url}/v1")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        control = httpx.Client(base_url=sandbox_url, timeout=30)
        app_key, tenants, users = seed(control, args)
        env.update(VIBE_APP_KEY=app_key, VIBE_BASE_URL=f"{sandbox_url}/v1")
        setup_django(env)
        provisioned = install_and_provision(tenants)
        bots = [bot_id for bot_id, _ in provisioned]
        dialogs = [
            (bot_id, user) for (bot_id, _), people in zip(provisioned, users, strict=True) for user in people
        ]
        control.post("/_sandbox/faults", json={"latencyMs": args.latency_ms})
        # The engine's warnings and errors are kept with the run, in the work directory.
        qcluster = subprocess.Popen(
            [*manage, "qcluster"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "qcluster.log").open("ab"),
            start_new_session=True,
        )
        watcher = subprocess.Popen(
            [*manage, f"run{args.design}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / f"{args.design}.log").open("ab"),
            start_new_session=True,
        )
        processes += [qcluster, watcher]
        if args.storm:
            print_storm(run_storm(control, app_key=app_key, dialogs=dialogs, bots=bots))
            return
        rows = []
        for mode in args.modes.split(","):
            for limit in (float(value) for value in args.limits.split(",")):
                row = run_one(
                    control, app_key=app_key, mode=mode, limit=limit, args=args, dialogs=dialogs, bots=bots
                )
                rows.append(row)
                print(
                    f"  done: {row['mode']} {limit:g}/s in {row['seconds']:.0f}s; {format_row(row)}\n"
                    f"    every 5 s, learned key/portal<portal best (accepted/s, 429s): {row['trace']}",
                    flush=True,
                )
        print()
        print(
            "| limit counts per | limit | usable | 429s in first 30 s | 429/min after | answered "
            "| used/s | used | learned rate, key / each portal |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            print(format_row(row))
    finally:
        # Each process leads its own group (qcluster forks workers): SIGTERM to the leader, which stops what
        # it forked, then SIGKILL to any group still alive after the grace period (vibeapp/children.py).
        stop_groups(processes, grace=15)


def print_storm(row: dict) -> None:
    def seconds(value: float | None) -> str:
        return "not within the run" if value is None else f"{value:.0f} s"

    state = row["state"]
    print(
        f"  storm: {STORM_SECONDS:g} s at {STORM_LIMIT:g}/s per key, then the ceiling again; learned at its"
        f" end: rate {state.rate:.2f}/s, last 429's rate {state.peak:.2f}/s"
        f"{' (tentative)' if state.tentative else ''}\n"
        f"    every 5 s, learned key/portal<portal best (accepted/s, 429s): {row['trace']}\n"
    )
    print("| after the storm | seconds |")
    print("|---|---|")
    print(f"| accepted >= {RECOVERED_SHARE:.0%} of the ceiling over 5 s | {seconds(row['accepted_back'])} |")
    print(f"| learned key rate >= 90 % of the ceiling | {seconds(row['rate_back'])} |")
    print(
        f"| the same, the current climb's model from the state at the storm's end | {seconds(row['model'])} |"
    )
    print(f"| the same, the model of the climb held for PROBE_AFTER (baseline) | {seconds(row['held'])} |")
    print(f"| the same, the additive climb's model | {seconds(row['additive'])} |")
    if row["rate_back"] and row["held"]:
        print(f"\nrecovery / held baseline: {row['rate_back'] / row['held']:.2f}")
    print(f"429s after the storm: {row['429_after']}; answered {row['answered']}/{row['sent']}")


if __name__ == "__main__":
    main()
