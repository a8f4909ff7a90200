"""What django-q2's hand-over of one poll cycle costs, step by step, on the configured broker.

    .venv/bin/python benchmarks/task_handover.py [--tasks 1000] [--rounds 2]
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python benchmarks/task_handover.py

The steps a qcluster and the poller take for each poll cycle, in one process and in order, each timed in
this process's CPU time (which other work on the machine skews far less than wall time): the poller's
`async_task` with the watch's batch (signing the task and the broker's enqueue), the pusher's dequeue and
unsigning, the pickles of the pusher's and the worker's queues, the worker's signals, the monitor's
`save_task`, acknowledgement and post_execute. The task itself is not run (benchmarks/polling.py measures
the whole). Each round runs the cycle's task with and without a one-message batch, `--tasks` of each. SQLite
(a fresh file under var/bench/) with the ORM broker, or PostgreSQL + Redis when DATABASE_URL and REDIS_URL
are set; it prints what it ran and µs a task per step, per round.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import commit, describe_machine  # noqa: E402

# One message as the platform's events answer carries it (sandbox/activity.py's shape).
MESSAGE_EVENT = {
    "eventId": 123456,
    "type": "ONIMBOTV2MESSAGEADD",
    "date": "2026-12-07T12:00:00+00:00",
    "data": {
        "bot": {"id": 1234, "code": "vibe_helper"},
        "chat": {"id": 98765, "type": "private", "dialogId": "42", "entityType": ""},
        "user": {"id": 42, "name": "Ivan Petrov", "firstName": "Ivan", "lastName": "Petrov", "isBot": False},
        "message": {
            "id": 555555,
            "chatId": 98765,
            "authorId": 42,
            "text": "hello there, what about the standup today?",
            "date": "2026-12-07T12:00:00+00:00",
            "params": {},
        },
        "language": "en",
    },
}
WATCHED = {"vibe_bot_id": 1234, "offset": 123456, "answer": {"events": [MESSAGE_EVENT], "nextOffset": 123457}}


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL"):
        workdir = ROOT / "var" / "bench"
        workdir.mkdir(parents=True, exist_ok=True)
        database = workdir / "task_handover.sqlite3"
        for stale in workdir.glob("task_handover.sqlite3*"):
            stale.unlink()
        os.environ["VIBE_SQLITE_PATH"] = str(database)
    os.environ.setdefault("VIBE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vibeapp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import ops.receivers  # noqa: F401  the signal receivers a qcluster has


def one_round(broker: Any, *, tasks: int, watched: dict | None) -> dict[str, float]:
    """CPU seconds per step over `tasks` hand-overs."""
    from django.utils import timezone
    from django_q.monitor import save_task
    from django_q.signals import post_execute, post_execute_in_worker, pre_execute
    from django_q.signing import SignedPackage
    from django_q.tasks import async_task

    spent: dict[str, float] = {}

    def timed(step: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        out = work(*args, **kwargs)
        spent[step] = spent.get(step, 0.0) + time.process_time() - started
        return out

    handed = {"watched": watched} if watched else {}
    for bot_id in range(tasks):
        timed(
            "poller: async_task (sign, enqueue)", async_task, "botcore.tasks.poll_bot", bot_id, "lease-token",
            **handed, task_name=f"poll-{bot_id}", q_options={"save": False, "broker": broker},
        )  # fmt: skip
    queued: list[bytes] = []
    while len(queued) < tasks:
        for ack_id, payload in timed("pusher: dequeue", broker.dequeue) or []:
            task = timed("pusher: unsign", SignedPackage.loads, payload)
            task["ack_id"] = ack_id
            queued.append(timed("pusher -> worker: pickle", pickle.dumps, task))
    for blob in queued:
        task = timed("worker: unpickle", pickle.loads, blob)
        timed("worker: signals", pre_execute.send, sender="django_q", func=task["func"], task=task)
        task.update(result="handled", success=True, stopped=timezone.now())
        timed("worker: signals", post_execute_in_worker.send, sender="django_q", func=task["func"], task=task)
        result = timed("worker -> monitor: pickle", pickle.dumps, task)
        done = timed("monitor: unpickle", pickle.loads, result)
        timed("monitor: save_task", save_task, done, broker)
        timed("monitor: acknowledge", broker.acknowledge, done.pop("ack_id"))
        timed("monitor: post_execute", post_execute.send, sender="django_q", task=done)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    broker = get_broker(f"{Conf.CLUSTER_NAME}-task-handover")
    backend = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"task hand-over at {commit()}: {describe_machine()}")
    print(
        f"backend: {backend} + {broker.__class__.__name__} broker, bulk {Conf.BULK}, {args.tasks} tasks a row"
    )
    broker.purge_queue()
    try:
        for round_ in range(1, args.rounds + 1):
            for label, watched in (("with a one-message batch", WATCHED), ("without a batch", None)):
                spent = one_round(broker, tasks=args.tasks, watched=watched)
                total = sum(spent.values()) * 1e6 / args.tasks
                print(f"round {round_}, {label}: {total:.0f} µs a task")
                for step, seconds in spent.items():
                    print(f"  {step:38s} {seconds * 1e6 / args.tasks:6.0f} µs")
    finally:
        broker.purge_queue()


if __name__ == "__main__":
    main()
