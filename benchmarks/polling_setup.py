"""The polling benchmark's setup: portals and bots seeded and installed, and the lines saying what ran."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks.machine import commit, describe_machine

ROOT = Path(__file__).resolve().parents[1]


def setup_django(env: dict[str, str]) -> None:
    """Set up Django in this (the benchmark's) process on the run's settings, with a migrated database.

    The benchmark provisions its bots itself, as setup: its own calls spend no request budget.
    """
    os.environ.update({k: v for k, v in env.items() if k.startswith(("VIBE_", "BOTCORE_", "DJANGO_"))})
    os.environ["VIBE_BUDGET_PER_SECOND"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed_bots(control: httpx.Client, app_key: str, *, count: int, start: int) -> list[tuple[int, int]]:
    """`count` portals, each with an admin whose session is stored (as a gateway visit would) and whose bot
    is provisioned; returns (platform bot id, admin id) per portal."""
    from django_q.brokers import get_broker

    from botcore.services.bots import provision_bot
    from tenants.testing import store_sandbox_session

    bots = []
    for index in range(start, start + count):
        portal = control.post("/_sandbox/portals", json={"domain": f"bench{index}.bitrix24.com"}).json()[
            "data"
        ]["portal"]
        admin = control.post(
            f"/_sandbox/portals/{portal['id']}/users", json={"name": f"Admin {index}", "isAdmin": True}
        ).json()["data"]["user"]
        session = control.post("/_sandbox/sessions", json={"appKey": app_key, "userId": admin["id"]}).json()[
            "data"
        ]
        stored = store_sandbox_session(portal=portal, user=admin, session=session)
        bot = provision_bot(stored)
        bots.append((bot.vibe_bot_id, admin["id"]))
    get_broker().purge_queue()  # the install signals queued provisioning again: it is done already
    from django.db import connections

    connections.close_all()  # the measured processes own the database from here
    return bots


def describe_run(args: argparse.Namespace) -> str:
    """Commit, machine, backend and settings: enough to tell whether two figures are comparable."""
    from django.conf import settings

    from botcore import conf

    q = settings.Q_CLUSTER
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = "Redis" if "redis" in q else "ORM broker"
    rate = f"{args.rate_limit:g}/s per key" if args.rate_limit else "off"
    budget = f"{args.rate_limit * 0.9:g}/s" if args.rate_limit else "off"
    lines = [
        f"polling benchmark at {commit()}, {datetime.now():%Y-%m-%d %H:%M}",
        describe_machine(),
        f"backend: {database} + {broker}, {q['workers']} workers, bulk {q.get('bulk')},"
        f" timeout {q.get('timeout')}s" + (f", empty queue read every {q['poll']:g}s" if "orm" in q else ""),
        (
            f"load: {'sweep ' + args.sweep_sizes if args.sweep else args.bots} bots, active {args.active:g}, "
            f"a message every ~{args.message_every:g}s per active dialog, +{args.latency_ms:g} ms platform "
            f"latency, rate limit {rate}; windows idle {args.idle_duration:g}s, active {args.duration:g}s, "
            f"drain deadline {args.drain_deadline:g}s; {args.rounds} round(s); engine {args.design}, sandbox "
            f"dialects {args.dialect or 'none'}"
        ),
        (
            f"poll settings: fast {conf.poll_fast_seconds():g}s, slow {conf.poll_slow_seconds():g}s,"
            " long-poll "
            f"{conf.poll_long_poll_seconds():g}s, batch {conf.poll_batch_size()}, in flight "
            f"{conf.max_cycles_in_flight()}, lease {conf.lease_seconds():g}s, deadline "
            f"{conf.cycle_deadline_seconds():g}s, budget {budget}"
        ),
    ]
    return "\n".join(lines)
