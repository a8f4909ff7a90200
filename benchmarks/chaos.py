"""Chaos benchmark: the real processes under faults, counting user messages lost and side effects repeated.

    .venv/bin/python benchmarks/chaos.py --quick             # ~4 minutes, at least 20 faults
    .venv/bin/python benchmarks/chaos.py --seed 7            # the full profile: 15 minutes, 100+ kills

Two qclusters and two pollers (`manage.py qcluster` / `runpoller`; `--design pacer`: two pacers) run on a
PostgreSQL database created for the run and a private redis-server, against the sandbox (`manage.py
runsandbox`), with SideEffectSkill (botcore/skills/testing/instrumented.py) answering every bot's messages
behind the demo bot's commands (/help, /standup: HelpSkill and StandupSkill, enabled). While users write to N
bots, and now and then type one of those commands, faults are injected (benchmarks/chaos_faults.py):
SIGKILLed workers, qclusters and pollers, platform latency above the lease, 429 storms, 5xx, dropped
connections, HTML and garbage answers on each endpoint the skill uses, answers lost after the platform acted,
poison events (U+0000 text, an eventId beyond bigint), a session expiring mid-run and renewed, Redis
restarts. Then it drains until every message
is answered (or the drain deadline passes) and prints what it injected and, last, `lost=N repeated=M
faults=K`: lost = user messages whose reply is neither in the skill's log nor in the chat (poison events not
counted), repeated = side effects (reply, reaction, state write) of one event performed more than once,
faults = everything injected. Before it, `commands lost=N repeated=M`, apart so that the message figures
stay those of the runs before: a command is lost when no answer to it was posted (no message of the bot's
names it as answerTo), repeated when more than one was (posts the sandbox made, not what a skill believes
it did). PostgreSQL must accept `postgres` on 127.0.0.1:5432 (trust).

Side by side with another run or the test suite, give each its own ports, database, Redis db and queue
name (--sandbox-port, --redis-port, --redis-db, --pg-database, --q-name); unset, ports are free ones picked
at start and the others random names.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chaos_faults import ALL_KINDS, DECK, FaultInjector, Target  # noqa: E402
from benchmarks.chaos_report import (  # noqa: E402
    Sent,
    command_answers_on_the_platform,
    print_report,
    replies_on_the_platform,
)
from benchmarks.chaos_stack import PrivateRedis, ScratchDatabase, Stack, free_port  # noqa: E402
from benchmarks.machine import commit, describe_machine  # noqa: E402

PROFILES = {
    # portals, seconds of chaos, seconds between faults, messages per second, drain deadline, redis restarts
    "quick": dict(portals=4, duration=150, fault_every=4.0, rate=1.0, drain=90, redis_restarts=1),
    "full": dict(portals=10, duration=900, fault_every=3.0, rate=2.0, drain=300, redis_restarts=3),
}
# The demo bot's skills (settings.BOTCORE_SKILLS' defaults, echo's place taken by SideEffectSkill); the
# commands users type, on a clock and a random stream of their own: they draw nothing from the stream a
# seed's messages and faults come from.
SKILLS = (
    "botcore.skills.builtin.help.HelpSkill",
    "botcore.skills.builtin.standup.StandupSkill",
    "botcore.skills.testing.instrumented.SideEffectSkill",
)
COMMANDS = ("help", "standup")
COMMANDS_PER_MESSAGE = 0.25  # one command for every four messages


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short profile (a few minutes)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the schedule of messages and faults")
    parser.add_argument("--portals", type=int, help="portals (one bot each); default by profile")
    parser.add_argument("--duration", type=float, help="seconds of chaos; default by profile")
    parser.add_argument("--workers", type=int, default=2, help="django-q2 workers per qcluster")
    parser.add_argument(
        "--design", choices=("poller", "pacer"), default="poller", help="what hands bots to their cycles"
    )
    parser.add_argument("--lease", type=float, default=10.0, help="BOTCORE_LEASE_SECONDS for the run")
    parser.add_argument(
        "--task-timeout",
        type=int,
        default=8,
        help="django-q2's task timeout (VIBE_Q_TIMEOUT); below the lease, as botcore.E010 requires",
    )
    parser.add_argument(
        "--deadline", type=float, default=5.0, help="BOTCORE_CYCLE_DEADLINE_SECONDS; below the task timeout"
    )
    parser.add_argument("--pg", default="127.0.0.1:5432", help="PostgreSQL host:port (user postgres, trust)")
    parser.add_argument(
        "--pg-database",
        help="the database created for the run and dropped after it (it must not exist yet); "
        "default vibe_chaos_<random>",
    )
    parser.add_argument("--sandbox-port", type=int, help="the sandbox's port; default a free one")
    parser.add_argument("--redis-port", type=int, help="the private redis-server's port; default a free one")
    parser.add_argument("--redis-db", type=int, default=0, help="the Redis database number the app uses")
    parser.add_argument("--q-name", help="django-q2's queue name (VIBE_Q_NAME); default chaos-<random>")
    parser.add_argument(
        "--keep-logs",
        nargs="?",
        const="",
        metavar="DIR",
        help="keep the processes' logs (path printed), in DIR if given (created); with it, what the event "
        "log, the ledger and the platform's calls hold of each lost command (lost-commands.json)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the processes' VIBE_LOG_LEVEL (INFO says more of posts in doubt)",
    )
    parser.add_argument(
        "--without", default="", help=f"fault kinds left out, comma-separated: {', '.join(ALL_KINDS)}"
    )
    parser.add_argument(
        "--dialect", default="", help="the sandbox speaks these dialects (comma-separated; docs/sandbox.md)"
    )
    args = parser.parse_args()
    args.without = {kind.strip() for kind in args.without.split(",") if kind.strip()}
    if args.without - set(ALL_KINDS):
        parser.error(f"--without: unknown fault kinds {', '.join(sorted(args.without - set(ALL_KINDS)))}")
    profile = PROFILES["quick" if args.quick else "full"]
    args.profile = "quick" if args.quick else "full"
    for name, value in profile.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return args


def describe_run(args: argparse.Namespace) -> str:
    return (
        f"chaos benchmark, {args.profile} profile: commit {commit()}, "
        f"PostgreSQL + Redis, 2 qclusters x {args.workers} workers"
        f" + 2 {args.design}s, "
        f"{args.portals} portals, {args.duration:g}s of chaos, lease {args.lease:g}s, "
        f"task timeout {args.task_timeout}s, cycle deadline {args.deadline:g}s, seed {args.seed}, "
        f"{', '.join('/' + name for name in COMMANDS)} typed {COMMANDS_PER_MESSAGE:g} a message"
        + (f", without {', '.join(sorted(args.without))}" if args.without else "")
        + (f", dialect {args.dialect}" if args.dialect else "")
        + f"\n{describe_machine()}"
    )


def child_env(
    args: argparse.Namespace, *, workdir: Path, db: ScratchDatabase, redis: PrivateRedis, sandbox_port: int
) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DATABASE_URL": db.url,
        "REDIS_URL": redis.url,
        "VIBE_BASE_URL": f"http://127.0.0.1:{sandbox_port}/v1",
        "VIBE_FERNET_KEYS": Fernet.generate_key().decode(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "VIBE_VAR_DIR": str(workdir),
        "VIBE_Q_NAME": args.q_name or f"chaos-{uuid.uuid4().hex[:8]}",
        "VIBE_Q_WORKERS": str(args.workers),
        "VIBE_Q_TIMEOUT": str(args.task_timeout),
        "VIBE_Q_RETRY": str(args.task_timeout + 4),
        "BOTCORE_LEASE_SECONDS": str(args.lease),
        "BOTCORE_CYCLE_DEADLINE_SECONDS": str(args.deadline),
        "BOTCORE_SKILLS": ",".join(SKILLS),
        "VIBE_SIDE_EFFECT_LOG": str(workdir / "side-effects.jsonl"),
        # The product's cadence (1 s / 15 s, backoff capped at 300 s) compressed about 7x, as the run is.
        "BOTCORE_POLL_FAST_SECONDS": "0.3",
        "BOTCORE_POLL_SLOW_SECONDS": "2",
        "BOTCORE_BACKOFF_MAX_SECONDS": "40",
        "BOTCORE_ENQUEUE_LEASE_SECONDS": "4",
        "VIBE_BUDGET_PER_SECOND": "200",  # 429s come from the injected storms, not from pacing
        "TENANTS_TOKEN_MIN_REMAINING_SECONDS": "5",  # so that a session can expire within the run
        "VIBE_LOG_LEVEL": args.log_level,
        "PYTHONUNBUFFERED": "1",
    }


def seed_portals(control: httpx.Client, count: int) -> tuple[str, list[dict]]:
    """One app; N portals, each with an admin and that admin's session."""
    app = control.post("/_sandbox/apps", json={"name": "Chaos app"}).json()["data"]
    tenants = []
    for index in range(count):
        domain = f"chaos{index}.bitrix24.com"
        portal = control.post("/_sandbox/portals", json={"domain": domain}).json()["data"]["portal"]
        admin = control.post(
            f"/_sandbox/portals/{portal['id']}/users", json={"name": f"Admin {index}", "isAdmin": True}
        ).json()["data"]["user"]
        tenants.append({"portal": portal, "admin": admin})
    return app["key"], tenants


def store_session(control: httpx.Client, *, app_key: str, tenant: dict, ttl: float | None = None):
    """A fresh session for the portal's admin, stored as a gateway visit would store it."""
    from tenants.testing import store_sandbox_session

    body = {"appKey": app_key, "userId": tenant["admin"]["id"], **({"ttlSeconds": ttl} if ttl else {})}
    session = control.post("/_sandbox/sessions", json=body).json()["data"]
    return store_sandbox_session(portal=tenant["portal"], user=tenant["admin"], session=session)


def enable_standup(portal) -> None:
    """Standup on, as a portal's admin turns it on (its /standup registered with the bot); its question is
    set to a weekday three days off, so that no run of it intercepts the benchmark's messages."""
    from botcore.services.skill_configs import configure_skill

    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(datetime.date.today().weekday() + 3) % 7]
    configure_skill(
        portal, skill_name="standup", is_enabled=True, options={"chat": "chat1", "weekdays": weekday}
    )


def provision(control: httpx.Client, *, app_key: str, tenants: list[dict]) -> list[Target]:
    from django_q.brokers import get_broker

    from botcore.services.bots import provision_bot

    targets = []
    for tenant in tenants:
        portal = store_session(control, app_key=app_key, tenant=tenant)
        enable_standup(portal)
        bot = provision_bot(portal)
        targets.append(
            Target(
                member_id=tenant["portal"]["memberId"], bot_id=bot.vibe_bot_id, user_id=tenant["admin"]["id"]
            )
        )
    get_broker().purge_queue()  # the install signals queued provisioning again: it is done already
    return targets


def send_message(control: httpx.Client, target: Target, text: str, *, at: float) -> list[Sent]:
    """The user writes `text` to the bot; a registered command ("/help") raises a COMMANDADD, counted as a
    command (a MESSAGEADD the `command-message` dialect raises before it is not counted at all)."""
    body = {"userId": target.user_id, "botId": target.bot_id, "text": text}
    answer = control.post("/_sandbox/act/messages", json=body)
    answer.raise_for_status()
    data = answer.json()["data"]
    commands = [e for e in data["events"] if e["type"] == "ONIMBOTV2COMMANDADD"]
    sent = []
    for event in commands or data["events"]:
        key = f"{target.member_id}:{event['botId']}:{event['eventId']}"
        if event["type"] == "ONIMBOTV2COMMANDADD":
            name = str(event["data"]["command"]["command"]).lstrip("/")
            sent.append(
                Sent(
                    key=key,
                    bot_id=target.bot_id,
                    event_id=event["eventId"],
                    at=at,
                    command=name,
                    message_id=data["message"]["id"],
                )
            )
        elif event["type"] == "ONIMBOTV2MESSAGEADD":
            target.template = target.template or event["data"]
            sent.append(Sent(key=key, bot_id=target.bot_id, event_id=event["eventId"], at=at))
    return sent


def run_chaos(
    args,
    *,
    stack: Stack,
    injector: FaultInjector,
    control: httpx.Client,
    targets: list[Target],
    app_key: str,
    tenants: list[dict],
    rng: random.Random,
) -> list[Sent]:
    """Users write while faults are injected; returns every user message sent, with its event."""
    sent: list[Sent] = []
    commanding = random.Random(f"{args.seed}:commands")  # apart from the messages' and faults' stream
    victim = tenants[0]  # its session expires at 30% of the run and is renewed at 55%
    renewed = "session_expiry" in args.without
    if not renewed:
        store_session(control, app_key=app_key, tenant=victim, ttl=args.duration * 0.3 + 5)
        injector.record("session_expiry", victim["portal"]["memberId"])
    # Redis restarts from 40% to 75% of the run, never at the renewal (55%) nor at the very end.
    restarts = 0 if "redis_restart" in args.without else args.redis_restarts
    redis_at = [args.duration * (0.4 + 0.35 * i / max(1, restarts - 1)) for i in range(restarts)]
    next_fault = args.fault_every
    next_message = 0.0
    next_command = commanding.expovariate(args.rate * COMMANDS_PER_MESSAGE)
    messages = 0
    while (now := injector.now()) < args.duration:
        try:
            while next_message <= now:
                target = rng.choice(targets)
                messages += 1
                sent += send_message(control, target, f"chaos {messages}", at=now)
                next_message += rng.expovariate(args.rate)
            while next_command <= now:
                target = commanding.choice(targets)
                sent += send_message(control, target, "/" + commanding.choice(COMMANDS), at=now)
                next_command += commanding.expovariate(args.rate * COMMANDS_PER_MESSAGE)
            if now >= next_fault and injector.deck:
                next_fault += args.fault_every * rng.uniform(0.5, 1.5)
                injector.inject(injector.next_kind(), targets)
        except httpx.HTTPError as error:  # the sandbox is busy: this tick's message or fault is skipped
            print(f"  control API: {type(error).__name__} at {now:.0f}s", file=sys.stderr)
        if redis_at and now >= redis_at[0]:
            redis_at.pop(0)
            injector.restart_redis()
        if not renewed and now >= args.duration * 0.55:
            store_session(control, app_key=app_key, tenant=victim)
            renewed = True
        injector.expire_rules()
        stack.supervise()
        time.sleep(0.05)
    return sent


def drain(args, *, stack: Stack, injector: FaultInjector, sent: list[Sent], log_path: Path) -> float:
    """Clear the faults, bring every process back, and wait until each message got its reply."""
    from botcore.skills.testing.instrumented import read_side_effects, summarize_side_effects

    injector.expire_rules(everything=True)
    stack.ensure_all_running()
    started = time.monotonic()
    commands = [item for item in sent if item.command]
    messages = [item for item in sent if not item.command]
    while time.monotonic() - started < args.drain:
        replied = summarize_side_effects(read_side_effects(log_path)).replied
        unlogged = [item for item in messages if item.key not in replied]
        # A post left in doubt is in the chat though the skill's log lacks it (chaos_report counts so too).
        messages_done = not unlogged or all(replies_on_the_platform(injector.control, unlogged).values())
        if messages_done and all(command_answers_on_the_platform(injector.control, commands).values()):
            break
        stack.supervise()
        time.sleep(1.0)
    time.sleep(3.0)  # a last repeat in flight still lands in the log
    return time.monotonic() - started


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    if args.keep_logs:
        workdir = Path(args.keep_logs).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="vibe-chaos-"))
    pg_host, _, pg_port = args.pg.partition(":")
    db_name = args.pg_database or f"vibe_chaos_{uuid.uuid4().hex[:10]}"
    db = ScratchDatabase(host=pg_host, port=int(pg_port or 5432), user="postgres", name=db_name)
    redis = PrivateRedis(workdir, port=args.redis_port, db=args.redis_db)
    sandbox_port = args.sandbox_port or free_port()
    env = child_env(args, workdir=workdir, db=db, redis=redis, sandbox_port=sandbox_port)
    stack = Stack(env=env, workdir=workdir, sandbox_port=sandbox_port)
    # SIGTERM and SIGHUP end the run the way Ctrl-C does, through the cleanup below.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    print(describe_run(args), flush=True)
    try:
        db.create()
        redis.start()
        stack.start_sandbox()
        control = httpx.Client(base_url=stack.sandbox_url, timeout=30)
        if args.dialect:
            control.post("/_sandbox/dialects", json={"dialects": args.dialect}).raise_for_status()
        app_key, tenants = seed_portals(control, args.portals)
        env["VIBE_APP_KEY"] = app_key
        prefixes = ("VIBE_", "BOTCORE_", "DJANGO_", "TENANTS_", "DATABASE_URL", "REDIS_URL")
        os.environ.update({k: v for k, v in env.items() if k.startswith(prefixes)})
        os.environ["VIBE_BUDGET_PER_SECOND"] = "0"  # setup here is not the load under test
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        targets = provision(control, app_key=app_key, tenants=tenants)
        for name in ("qcluster1", "qcluster2", f"{args.design}1", f"{args.design}2"):
            stack.add_app(name)
        deck = tuple(kind for kind in DECK if kind not in args.without)
        injector = FaultInjector(
            stack=stack, redis=redis, control=control, rng=rng, lease_seconds=args.lease, deck=deck
        )
        warm_up = [item for t in targets for item in send_message(control, t, "warm-up", at=0.0)]
        warm_up += [item for t in targets for item in send_message(control, t, "/help", at=0.0)]
        print(f"setup done: {len(targets)} bots provisioned; chaos for {args.duration:g}s", flush=True)
        sent = warm_up + run_chaos(
            args,
            stack=stack,
            injector=injector,
            control=control,
            targets=targets,
            app_key=app_key,
            tenants=tenants,
            rng=rng,
        )
        log_path = workdir / "side-effects.jsonl"
        drained = drain(args, stack=stack, injector=injector, sent=sent, log_path=log_path)
        stack.stop_apps()
        print_report(
            args,
            injector=injector,
            stack=stack,
            sent=sent,
            control=control,
            log_path=log_path,
            drained=drained,
            keep_dir=workdir if args.keep_logs is not None else None,
        )
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        stack.stop()
        redis.stop()
        db.drop()
        if args.keep_logs is not None:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
