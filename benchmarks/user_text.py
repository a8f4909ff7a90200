"""What a user's text costs the markup helpers every reply runs on it, shaped against them or not.

    .venv/bin/python benchmarks/user_text.py [--chars 20000,100000] [--rounds 5]

A skill that repeats what a person wrote escapes it (bbcode.escape, also inside bbcode.shorten's bisection)
and, in a group chat, takes the bot's mention out (bbcode.unmention). Each runs a regular expression over
the text, and one that backtracks across the text turns a long message of the wrong shape into seconds of a
worker's CPU (blank lines: ~200 s for 100,000 characters before the line-level patterns stopped at line
ends; unclosed mentions: ~13 s). For each shape and size it prints the median CPU ms of escape, shorten and
unmention, and the ratio to plain prose of the same length measured in the same run (1.0 is as cheap as
prose; a quadratic pattern shows as a ratio that grows with the size). No network, no database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import commit, describe_machine  # noqa: E402
from botcore.vibe import bbcode as bb  # noqa: E402

SHAPES: dict[str, str] = {
    "plain prose (the baseline)": "the quick brown fox jumps over the lazy dog ",
    "blank lines": "\n",
    "indented blank lines": " \n",
    "unclosed mentions": "[USER=1]",
    "brackets": "[",
    "dashes on new lines": "\n-",
    "quote marks on new lines": "\n>",
}

HELPERS: dict[str, Callable[[str], object]] = {
    "escape": bb.escape,
    "shorten": lambda text: bb.shorten(text, bb.MAX_TEXT_CHARS),
    "unmention": lambda text: bb.unmention(text, addressee=1),
}


def cpu_ms(helper: Callable[[str], object], text: str, rounds: int) -> float:
    runs = []
    for _ in range(rounds):
        started = time.process_time()
        helper(text)
        runs.append((time.process_time() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", default="20000,100000", help="text lengths, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(size) for size in args.chars.split(",")]
    print(f"user text benchmark at {commit()}: {describe_machine()}")
    print(f"median CPU ms of {args.rounds} rounds; (x N) = N times plain prose of the same length")
    for size in sizes:
        texts = {name: (unit * (size // len(unit) + 1))[:size] for name, unit in SHAPES.items()}
        plain = {
            name: cpu_ms(helper, texts["plain prose (the baseline)"], args.rounds)
            for name, helper in HELPERS.items()
        }
        print(f"--- {size:,} characters")
        for shape, text in texts.items():
            cells = []
            for name, helper in HELPERS.items():
                spent = cpu_ms(helper, text, args.rounds)
                cells.append(f"{name} {spent:8.2f} (x {spent / max(plain[name], 0.001):5.1f})")
            print(f"{shape:28} " + "  ".join(cells))


if __name__ == "__main__":
    main()
