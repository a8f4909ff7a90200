"""The polling benchmark's same-work baseline: one asyncio process polls every bot at the engine's cadence
(long-polling as the engine does where the platform holds the answer),
stores each batch with the engine's store_batch and hands it to the same skills with handle_pending.

What it leaves out is what the engine adds around that work: the pacer, the task queue, leases, the
per-cycle bookkeeping of an empty poll (an empty poll here is one HTTP call and nothing else). Run by
benchmarks/polling.py with the engine stopped, against the same database and sandbox; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpcore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def handle_batch(bot_id: int, vibe_bot_id: int, data: dict, clients: dict) -> None:
    """Store the batch and hand its events to the skills: the engine's own services, without a lease."""
    from botcore.models import Bot
    from botcore.services.eventlog import store_batch
    from botcore.services.executor import handle_pending
    from botcore.services.platform import client_for_bot
    from botcore.vibe.parse import read_event_batch

    batch = read_event_batch(data, bot_id=vibe_bot_id)  # the client's one reading, as the engine's poll
    store_batch(bot_id, batch, vibe_bot_id=vibe_bot_id, lease_token=None)
    bot = Bot.objects.select_related("portal").get(pk=bot_id)
    if bot_id not in clients:
        clients[bot_id] = client_for_bot(bot)
    handle_pending(bot, client=clients[bot_id], lease_token=None)


async def poll_all(bots: list[dict], stop: asyncio.Event) -> None:
    from botcore import conf
    from botcore.vibe.watch import WatchClients

    fast, slow, limit = conf.poll_fast_seconds(), conf.poll_slow_seconds(), conf.poll_batch_size()
    hold = conf.poll_long_poll_seconds()  # long-polls as the engine's poller does, where the platform holds
    params = {"limit": limit, **({"timeout": f"{hold:g}"} if hold else {})}
    loop = asyncio.get_running_loop()
    clients: dict = {}
    base = conf.vibe_base_url().rstrip("/")
    host = urlsplit(base).netloc
    timeouts = {"connect": conf.vibe_connect_timeout(), "read": 40.0, "write": 40.0, "pool": 40.0}
    # The poller's own pools (8 bots each, one TLS context), called as the poller calls them (httpcore):
    # one pool of a thousand connections would make httpcore scan them all at every answer, a cost the
    # baseline must not carry if it is to be a baseline.
    pools = WatchClients(base_url=base, connect_timeout=conf.vibe_connect_timeout())
    try:

        async def poll_forever(bot: dict) -> None:
            offset, quiet_since = bot["offset"], bot["last_event_at"] or time.time() - 4 * slow
            await asyncio.sleep(random.uniform(0, slow))  # the engine's bots are not all due at once either
            while not stop.is_set():
                started = time.monotonic()
                try:
                    answer = await pools.for_bot(bot["id"]).request(
                        "GET",
                        f"{base}/bots/{bot['vibe_bot_id']}/events?{urlencode({'offset': offset, **params})}",
                        headers=[("Host", host), *bot["headers"].items()],
                        extensions={"timeout": timeouts},
                    )
                    data = json.loads(answer.content).get("data") or {}
                except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, ValueError):
                    await asyncio.sleep(fast)
                    continue
                if data.get("events"):
                    await loop.run_in_executor(
                        None, handle_batch, bot["id"], bot["vibe_bot_id"], data, clients
                    )
                    offset = max(offset, int(data.get("nextOffset") or 0))
                    quiet_since = time.time()
                    delay = 0.0 if data.get("hasMore") else fast
                elif hold and time.monotonic() - started >= hold / 2:
                    delay = 0.0  # the platform held the answer: that was the wait
                else:  # the engine's adaptive cadence (botcore.services.polling.quiet_interval)
                    delay = min(slow, max(fast, (time.time() - quiet_since) / 4))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass

        await asyncio.gather(*(poll_forever(bot) for bot in bots))
    finally:
        await pools.aclose()


def load_bots() -> list[dict]:
    from botcore import conf
    from botcore.models import Bot
    from botcore.services.platform import get_bot_credential

    bots = []
    for bot in Bot.objects.select_related("portal").filter(
        status=Bot.Status.ACTIVE, vibe_bot_id__isnull=False
    ):
        credential = get_bot_credential(bot)
        headers = (
            {"X-Api-Key": credential.secret}
            if credential.kind == "personal"
            else {"X-Api-Key": conf.vibe_app_key(), "Authorization": f"Bearer {credential.secret}"}
        )
        last = bot.last_event_at.timestamp() if bot.last_event_at else None
        bots.append(
            {
                "id": bot.pk,
                "vibe_bot_id": bot.vibe_bot_id,
                "offset": bot.event_offset or 0,
                "headers": headers,
                "last_event_at": last,
            }
        )
    return bots


async def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")
    import django

    django.setup()
    loop = asyncio.get_running_loop()
    # Skills block on their platform calls: as many threads as an asyncio design would run skills at once.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    bots = await loop.run_in_executor(None, load_bots)
    from botcore.poller_gc import collect_rarely

    collect_rarely()  # the poller's policy: a full collection would pause this loop as it paused the poller
    print(f"baseline polling {len(bots)} bots", flush=True)
    await poll_all(bots, stop)


if __name__ == "__main__":
    asyncio.run(main())
