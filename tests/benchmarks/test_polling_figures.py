"""The polling benchmark's derived figures: a side that measured nothing prints "n/a", never a number, and a
latency percentile that falls on unanswered messages prints ">drain", never "inf"."""

from __future__ import annotations

import math
import re

import pytest

from benchmarks.polling_load import cpu_ms_per_answer
from benchmarks.polling_report import print_ratio, print_sweep


def _phase(name: str, cpu_ms_per_message: float) -> dict:
    return {
        "name": name, "bots": 10_000, "cpu_ms_idle_bot_minute": 1.9, "cpu_ms_per_message": cpu_ms_per_message,
        "sent": 7_555, "answered": 2_729, "answered_in_window": 264, "active_seconds": 203.1,
        "latency": {"p50": math.inf, "p95": math.inf, "p99": math.inf}, "speed_after_ms": 3.3,
        "active_polls": 67_923, "active_cpu": 55.9, "idle_polls": 6_578, "idle_cpu": 6.3,
    }  # fmt: skip


def test_the_cpu_beyond_idle_is_divided_among_the_answers_of_the_window():
    # 30 s active at 10 CPU-s, idle 1 CPU-s in 20 s: 1.5 CPU-s of it is the idle rate, 8.5 the answers'.
    figure = cpu_ms_per_answer(
        active_cpu=10.0, active_seconds=30.0, idle_cpu=1.0, idle_seconds=20.0, answered=850
    )

    assert figure == pytest.approx(10.0)


def test_a_side_that_spent_no_more_than_its_idle_rate_measured_nothing():
    # The 10,000-bot sweep's baseline, held up by the saturated platform: 55.9 CPU-s in a 203 s window
    # against 6.3 in 20 s idle printed -29.4 CPU-ms per message.
    figure = cpu_ms_per_answer(
        active_cpu=55.9, active_seconds=203.1, idle_cpu=6.3, idle_seconds=20.0, answered=264
    )

    assert math.isnan(figure)


def test_a_window_without_an_answer_measured_nothing():
    figure = cpu_ms_per_answer(
        active_cpu=10.0, active_seconds=30.0, idle_cpu=1.0, idle_seconds=20.0, answered=0
    )

    assert math.isnan(figure)


def test_the_printout_says_n_a_where_a_figure_measured_nothing(capsys):
    engine, baseline = _phase("engine", 22.7), _phase("baseline", math.nan)

    print_sweep([[engine, baseline]])
    print_ratio(engine, baseline)

    out = capsys.readouterr().out
    assert re.search(r"\bnan\b", out) is None
    assert "baseline CPU-ms per message / the engine's: n/a" in out
    baseline_row = next(line for line in out.splitlines() if line.startswith("10000  baseline"))
    assert baseline_row.split()[3] == "n/a"


def test_the_sweep_table_says_past_the_drain_where_a_percentile_falls_on_unanswered_messages(capsys):
    engine = _phase("engine", 22.7)
    engine["latency"] = {"p50": 0.31, "p95": 12.3, "p99": math.inf}

    print_sweep([[engine]])

    out = capsys.readouterr().out
    assert re.search(r"\binf\b", out) is None
    row = next(line for line in out.splitlines() if line.startswith("10000  engine"))
    assert row.split()[6:9] == ["0.31", "12.30", ">drain"]
    assert ">drain:" in out  # the table says what the word means
