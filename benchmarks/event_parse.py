"""What reading the wire format costs per object: parse_event per event and from_payload per result.

    .venv/bin/python benchmarks/event_parse.py [--repeat 2000] [--rounds 7]

No network and no database: it parses the contract's eight event fixtures (tests/fixtures/vibe), the same
events with every scalar sent as a string (the webhook-style payload the tolerant reading coerces), and
the results a poller and its skills read most (a bot, a command, a chat, a sent message), `--repeat` times
per round. It prints what it ran (commit, Python, the parsing library and its version, cores, load) and,
per kind of object, the median and the best round in CPU microseconds per object (this process's CPU
time, which other work on the machine skews far less than wall time); the baseline to compare
against is the same script run at another commit (README, Benchmarks). CPU figures on a shared machine
are indicative: re-run on a quiet one.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import commit, describe_machine  # noqa: E402
from botcore.vibe.models import Bot, Chat, Command, SentMessage  # noqa: E402

try:
    from botcore.vibe.parse import parse_event
except ImportError:  # a commit before botcore.vibe.parse (the baseline the README compares with)
    from botcore.vibe.events import parse_event  # type: ignore[attr-defined,no-redef]

FIXTURES = ROOT / "tests" / "fixtures" / "vibe"


def stringly(value: Any) -> Any:
    """Every number and boolean as the string a webhook-style payload carries ("42", "Y")."""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return {k: stringly(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringly(v) for v in value]
    return value


def workloads() -> dict[str, tuple[Callable[[Any], object], list[Any]]]:
    events = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))]
    message = next(e for e in events if e["type"] == "ONIMBOTV2MESSAGEADD")
    bot = dict(message["data"]["bot"])
    command = {"id": 5, "botId": 42, "command": "/help", "title": {"en": "Help", "ru": "Помощь"},
               "params": {"en": "topic"}, "common": "N", "hidden": False, "extranetSupport": "N"}  # fmt: skip
    chat = {"id": 88, "dialogId": "chat88", "type": "chat", "name": "Sales team", "owner": 1,
            "managerList": [1, 2], "userCounter": "5", "textFieldEnabled": "Y"}  # fmt: skip
    return {
        "event (8 types)": (parse_event, events),
        "event, string scalars": (parse_event, [stringly(copy.deepcopy(e)) for e in events]),
        "ONIMBOTV2MESSAGEADD": (parse_event, [message]),
        "Bot": (Bot.from_payload, [bot]),
        "Command": (Command.from_payload, [command]),
        "Chat": (Chat.from_payload, [chat]),
        "SentMessage": (SentMessage.from_payload, [{"id": 1501, "uuidMap": {}}]),
    }


def library() -> str:
    """The parsing library, where the tree reads payloads with one (botcore/vibe/wire.py)."""
    if (ROOT / "botcore" / "vibe" / "wire.py").exists():
        return f"pydantic {metadata.version('pydantic')}"
    return "hand-written mappings"


def describe() -> str:
    return f"event_parse at {commit()}; parsing: {library()}\n{describe_machine()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2000, help="passes over each workload per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(describe())
    print(f"{args.rounds} rounds of {args.repeat} passes; CPU µs per object: median of rounds · best round")
    for name, (parse, items) in workloads().items():
        for item in items:
            parse(item)  # warm up, and fail here rather than inside a timed loop
        per_object = []
        for _ in range(args.rounds):
            started = time.process_time()
            for _ in range(args.repeat):
                for item in items:
                    parse(item)
            per_object.append((time.process_time() - started) / (args.repeat * len(items)) * 1e6)
        print(f"  {name:<24} {statistics.median(per_object):8.2f} · {min(per_object):8.2f}")


if __name__ == "__main__":
    main()
