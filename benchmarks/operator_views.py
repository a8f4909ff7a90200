"""The operators' views at scale: the fleet dashboard, the event log's admin list and search, and the operator
API's event pages, each timed on a small log and again on a big one, in the same run.

    .venv/bin/python benchmarks/operator_views.py        # 300,000 events, a SQLite file of its own
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trial_bench \\
        .venv/bin/python benchmarks/operator_views.py --events 450000    # an empty PostgreSQL database

It migrates the database it is given (SQLite: a new file in a temporary directory; PostgreSQL: an empty
database, which it fills), stores `--bots` portals with a bot each, and `--events` events as the poll cycles
would: `--last-hour` of them received in the last hour, the rest over the fortnight before (the retention), a
few percent failed with a platform's or a skill's error, one failure carrying a rare word. First it fills a
hundredth of that and times every view (the baseline: the same views, the same code, the same machine, a small
log), then fills the rest and times them again. Printed per view: the median of `--repeat` requests on each,
and the big log's over the small one's. A view whose work does not grow with the log stays near 1x; one that
reads the whole log grows with it (100x at most). Absolute figures move with the machine (machine.py).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import commit, describe_machine  # noqa: E402

SKILLS = ("echo", "help", "standup")
# What failed events say: the platform's refusals, a skill's own error, and one rare word to search for.
ERRORS = (
    "VibeRateLimitError: 429 RATE_LIMITED (retry after {n} s)",
    "VibeServerError: 502 from the platform on imbot.v2.Chat.Message.send",
    "skill standup: KeyError 'participants' in options of portal {n}",
    "VibeTransportError: ReadTimeout after 10.0 s (attempt {n})",
)
RARE_WORD = "zanzibar"
COMMON_WORD = "429"


def _setup_django(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")
    os.environ.setdefault("VIBE_VAR_DIR", str(workdir))
    os.environ["VIBE_API_RATE"] = ""  # the benchmark's requests are not an abuser's
    os.environ.setdefault("VIBE_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _fill(*, bots: list, events: int, last_hour: int, now, rng: random.Random, first_id: int) -> None:
    """Store `events` events of `bots`: `last_hour` in the last hour, the rest over the 14 days before."""
    from botcore.models import EventLogEntry

    fortnight = timedelta(days=14).total_seconds()
    batch = []
    for number in range(events):
        seconds_ago = rng.uniform(0, 3600) if number < last_hour else rng.uniform(3600, fortnight)
        roll = rng.random()
        status, error, skill, duration = (
            EventLogEntry.Status.HANDLED,
            "",
            rng.choice(SKILLS),
            rng.randint(5, 900),
        )
        if roll < 0.03:
            status, error = EventLogEntry.Status.FAILED, rng.choice(ERRORS).format(n=rng.randint(1, 999))
        elif roll < 0.05:
            status, skill, duration = EventLogEntry.Status.RECEIVED, "", None
        elif roll < 0.10:
            status, skill = EventLogEntry.Status.IGNORED, ""
        bot = bots[number % len(bots)]
        batch.append(
            EventLogEntry(
                bot=bot,
                vibe_bot_id=bot.vibe_bot_id,
                vibe_event_id=first_id + number,
                event_type="ONIMBOTV2MESSAGEADD",
                payload={
                    "type": "ONIMBOTV2MESSAGEADD",
                    "data": {"message": {"id": number, "text": "ok " * 30}},
                },
                status=status,
                skill=skill,
                error=error,
                attempts=1,
                received_at=now - timedelta(seconds=seconds_ago),
                duration_ms=duration,
            )
        )
        if len(batch) == 5000:
            EventLogEntry.objects.bulk_create(batch)
            batch = []
    EventLogEntry.objects.bulk_create(batch)


def _analyze() -> None:
    """PostgreSQL's table as autovacuum leaves it after a bulk load: its statistics, and its visibility map
    (which index-only scans need). Without it a run measured whether autovacuum had come by: the same
    commit's deep offset page took 0.7 s in one run and 2.1 s in another. SQLite keeps no statistics unless
    told (the app never tells it)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def _views(total: int) -> dict[str, str]:
    """Each view's URL. Deep offsets sit near the end of the log as it is when timed."""
    from botcore.models import EventLogEntry

    deep = max(total - 100, 0)
    failed = EventLogEntry.objects.filter(status=EventLogEntry.Status.FAILED).count()
    views = {
        "fleet dashboard": "/admin/fleet/",
        "fleet API": "/api/ops/fleet/",
        "admin log, first page": "/admin/botcore/eventlogentry/",
        "admin log, failed": "/admin/botcore/eventlogentry/?status__exact=failed",
        f"admin log, search {COMMON_WORD!r}": f"/admin/botcore/eventlogentry/?q={COMMON_WORD}",
        f"admin log, search {RARE_WORD!r}": f"/admin/botcore/eventlogentry/?q={RARE_WORD}",
        "API events, first page": "/api/ops/events/",
        "API events, offset: the log's end": f"/api/ops/events/?offset={deep}",
        "API failed, offset: their end": f"/api/ops/events/?status=failed&offset={max(failed - 20, 0)}",
    }
    views.update(_cursor_views())
    return views


def _cursor_views() -> dict[str, str]:
    """The API's cursor pages, where it has them: the second page, and one near the end of the log."""
    from django.test import Client

    try:
        from ops.api import EventCursorPage
    except ImportError:
        return {}
    from rest_framework.pagination import Cursor

    from botcore.models import EventLogEntry

    client = _client()
    second = client.get("/api/ops/events/").json()["next"]
    oldest = EventLogEntry.objects.order_by("received_at", "pk").values_list("received_at", flat=True)[100]
    pager = EventCursorPage()
    pager.base_url = "http://testserver/api/ops/events/"
    deep = pager.encode_cursor(Cursor(offset=0, reverse=False, position=oldest.isoformat()))
    assert isinstance(client, Client)
    return {"API events, cursor page 2": second, "API events, cursor near the end": deep}


def _client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.filter(
        username="bench"
    ).first() or get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password")
    client = Client()
    client.force_login(user)
    return client


def _time_views(views: dict[str, str], repeat: int) -> dict[str, float]:
    client = _client()
    medians = {}
    for name, url in views.items():
        answer = client.get(url)  # a first request warms the caches (templates, the database's pages)
        assert answer.status_code == 200, (name, answer.status_code, answer.content[:300])
        spent = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(url)
            spent.append(time.perf_counter() - started)
        medians[name] = statistics.median(spent) * 1000
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument(
        "--last-hour", type=int, default=None, help="of them, received in the last hour (a third)"
    )
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    last_hour = args.events // 3 if args.last_hour is None else args.last_hour

    workdir = Path(tempfile.mkdtemp(prefix="operator-views-"))
    _setup_django(workdir)
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from botcore.models import Bot, EventLogEntry
    from tenants.models import Portal

    call_command("migrate", verbosity=0)
    if EventLogEntry.objects.exists():
        sys.exit("the database holds events already: give the benchmark an empty one")
    print(f"commit {commit()}, {connection.vendor}, {describe_machine()}")
    rng = random.Random(7)
    now = timezone.now()
    portals = Portal.objects.bulk_create(
        Portal(member_id=f"bench-{n}", vibe_portal_id=f"vp-{n}", domain=f"p{n}.bitrix24.com", name=f"P{n}")
        for n in range(args.bots)
    )
    bots = Bot.objects.bulk_create(
        Bot(portal=portal, code="bot", name="Bench bot", status=Bot.Status.ACTIVE, vibe_bot_id=n + 1)
        for n, portal in enumerate(portals)
    )

    small, small_hour = args.events // 100, last_hour // 100
    started = time.perf_counter()
    _fill(bots=bots, events=small, last_hour=small_hour, now=now, rng=rng, first_id=0)
    EventLogEntry.objects.filter(
        pk=EventLogEntry.objects.filter(status="failed").order_by("pk")[0].pk
    ).update(error=f"skill echo: ValueError {RARE_WORD}")
    _analyze()
    baseline = _time_views(_views(small), args.repeat)
    _fill(
        bots=bots,
        events=args.events - small,
        last_hour=last_hour - small_hour,
        now=now,
        rng=rng,
        first_id=small,
    )
    _analyze()
    print(
        f"filled {args.events:,} events ({last_hour:,} in the last hour) of {args.bots:,} bots in"
        f" {time.perf_counter() - started:.0f} s; baseline: the first {small:,} ({small_hour:,})"
    )
    big_views = _views(args.events)
    big = _time_views(big_views, args.repeat)
    print(f"{'view':48} {'small ms':>9} {'big ms':>9} {'big/small':>9}")
    for name in big_views:
        before = baseline.get(name)
        ratio = f"{big[name] / before:8.1f}x" if before else "        -"
        print(f"{name:48} {before or float('nan'):9.1f} {big[name]:9.1f} {ratio}")
    print(f"median of {args.repeat} requests each (Django's test client in this process, no network)")
    connection.close()
    shutil.rmtree(workdir)  # the SQLite file (PostgreSQL's database is the caller's to drop)


if __name__ == "__main__":
    main()
