"""The polling benchmark's printout: a phase's figures, the engine against the baseline, the sweep's table."""

from __future__ import annotations

import math
import statistics


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds else math.nan


def _figure(value: float, digits: int = 2) -> str:
    """A figure to print; "n/a" for one that measured nothing (NaN, see polling_load.cpu_ms_per_answer)."""
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def _seconds(value: float) -> str:
    return "unanswered" if math.isinf(value) else f"{value:.2f}s"


def _seconds_cell(value: float) -> str:
    """A latency percentile in the sweep's 6-wide column (">drain": it falls on unanswered messages)."""
    return f"{'>drain' if math.isinf(value) else f'{value:.2f}':>6}"


def polls_per_cpu(result: dict, window: str) -> float:
    return _rate(result[f"{window}_polls"], result[f"{window}_cpu"])


def window_rates(result: dict) -> tuple[float, float]:
    """Messages a second sent, and answered, inside the active window."""
    seconds = result["active_seconds"]
    return _rate(result["sent"], seconds), _rate(result["answered_in_window"], seconds)


def print_phase(result: dict) -> None:
    name, lat = result["name"], result["latency"]
    for window, cost in (
        ("idle", f"{result['cpu_ms_idle_bot_minute']:.1f} CPU-ms per idle bot-minute"),
        ("active", f"{_figure(result['cpu_ms_per_message'], 1)} CPU-ms per answered message beyond idle"),
    ):
        print(
            f"[{name}] {window + ' window:':14} "
            f"{_rate(result[f'{window}_polls'], result[f'{window}_seconds']):7.1f} "
            f"polls/s, CPU {result[f'{window}_cpu']:.1f}s in {result[f'{window}_seconds']:.1f}s, "
            f"{polls_per_cpu(result, window):.1f} polls/CPU-s, {cost}"
        )
    print(
        f"[{name}] messages: sent {result['sent']}, answered {result['answered']}, "
        f"unanswered {result['sent'] - result['answered']} (drain {result['drained_in']:.1f}s), "
        f"send failures {result['failed_sends']}; event log: {dict(result['outcomes'])}; "
        f"platform 4xx/5xx {result['errors']} (429: {result['throttled']})"
    )
    asked_rate = result["asked_rate"]
    sent_rate, answered_rate = window_rates(result)
    # Answers lag their messages by the latency, so a side that keeps up answers a little under what is sent.
    behind = " (behind its load: the rest waited for the drain)" if answered_rate < 0.9 * sent_rate else ""
    short = (
        " (the users could not write as fast as asked: they share the cores)"
        if sent_rate < 0.9 * asked_rate
        else ""
    )
    print(
        f"[{name}] in the active window: {asked_rate:.1f} messages/s asked, {sent_rate:.1f}/s sent{short},"
        f" {answered_rate:.1f}/s answered{behind}"
    )
    # What a message costs the platform: a poll the engine repeats, or a call a skill makes twice, shows here.
    print(
        f"[{name}] platform calls in the active window: {result['active_calls']}, "
        f"{_rate(result['active_calls'], result['answered_in_window']):.2f} per message answered in it "
        f"(polls {result['active_polls']})"
    )
    print(
        f"[{name}] message-to-reply: p50 {_seconds(lat['p50'])}  p95 {_seconds(lat['p95'])}  "
        f"p99 {_seconds(lat['p99'])}  max {_seconds(lat['max'])}"
    )
    opened, answered, waited = result["opened"]
    first = result["first_latency"]
    print(
        f"[{name}] each dialog's first message (before the active window; {answered}/{opened} answered"
        f" in {waited:.1f}s): p50 {_seconds(first['p50'])}  p95 {_seconds(first['p95'])}"
        f"  max {_seconds(first['max'])}"
    )
    print(f"[{name}] machine speed just after the phase: {result['speed_after_ms']:.1f} ms")
    for label, (idle, active) in result["cpu_by_process"].items():
        note = " (the platform's, not counted in the engine's)" if label == "sandbox" else ""
        print(f"[{name}] {label} CPU: idle window {idle:.1f}s, active window {active:.1f}s{note}")
        roles = result.get("cpu_by_role", {}).get(label, {})
        if len(roles) > 1:
            split = ", ".join(
                f"{role} {seconds:.1f}s" + (f" ({count} processes)" if count > 1 else "")
                for role, (seconds, count) in sorted(roles.items(), key=lambda item: -item[1][0])
            )
            print(f"[{name}] {label} CPU in the active window by process: {split}")
    for label, (tree, single, pss) in result["rss"].items():
        print(
            f"[{name}] {label} peak RSS {tree / 2**20:.0f} MiB (process tree; PSS {pss / 2**20:.0f} MiB,"
            f" shared pages split among the processes that share them), largest {single / 2**20:.0f} MiB"
        )


def polls_ratio(engine: dict, baseline: dict, window: str) -> float:
    """Engine polls per CPU-second over the baseline's in `window`; NaN where the baseline has no rate (with
    long-polls held across a whole window a side may finish no poll in it; a tiny run may spend no CPU)."""
    theirs = polls_per_cpu(baseline, window)
    return polls_per_cpu(engine, window) / theirs if theirs and math.isfinite(theirs) else math.nan


def print_ratio(engine: dict, baseline: dict) -> None:
    print(
        f"engine polls per CPU-second / the same-work baseline's: "
        f"active {_figure(polls_ratio(engine, baseline, 'active'))}, "
        f"idle {_figure(polls_ratio(engine, baseline, 'idle'))} (goal >= 0.7)"
    )
    # The same comparison per message: the polls above count alike only while both sides poll alike.
    print(
        f"baseline CPU-ms per message / the engine's: "
        f"{_figure(_rate(baseline['cpu_ms_per_message'], engine['cpu_ms_per_message']))}"
    )
    after_engine, after_baseline = engine["speed_after_ms"], baseline["speed_after_ms"]
    if max(after_engine, after_baseline) > 1.2 * min(after_engine, after_baseline):
        print(
            f"  the machine's speed moved between the phases ({after_engine:.1f} ms after the engine's,"
            f" {after_baseline:.1f} after the baseline's): the ratios carry that drift; compare runs"
        )


def _series(values: list[float], unit: str = "", digits: int = 2) -> str:
    """The rounds' values in order, then their median: `0.73 0.66 0.80 -> median 0.73`."""
    shown = " ".join(f"{value:.{digits}f}" if math.isfinite(value) else "n/a" for value in values)
    finite = [value for value in values if math.isfinite(value)]
    middle = f"{statistics.median(finite):.{digits}f}{unit}" if finite else "n/a"
    return f"{shown} -> median {middle}"


def print_rounds(results: list[dict], names: list[str]) -> None:
    """Each figure of every round, and its median: a single round's ratio moves ~10 % with the host alone."""
    by_name = {name: [r for r in results if r["name"] == name] for name in names}
    print(
        f"\n--- {len(by_name[names[0]])} rounds, in alternating order: each round's figure, then the median"
    )
    if "baseline" in by_name:
        pairs = list(zip(by_name["engine"], by_name["baseline"], strict=True))
        for window in ("active", "idle"):
            ratios = [polls_ratio(engine, baseline, window) for engine, baseline in pairs]
            series = _series(ratios)
            print(f"engine polls per CPU-second / the baseline's, {window} window: {series} (goal >= 0.7)")
    for name, phases in by_name.items():
        unanswered = sum(r["sent"] - r["answered"] for r in phases)
        print(
            f"[{name}] p95 message-to-reply: {_series([r['latency']['p95'] for r in phases], ' s')}; "
            f"p99: {_series([r['latency']['p99'] for r in phases], ' s')}; "
            f"unanswered in all rounds: {unanswered}"
        )
        per_message = _series([r["cpu_ms_per_message"] for r in phases], digits=1)
        print(f"[{name}] CPU-ms per answered message: {per_message}")
        speeds = _series([r["speed_after_ms"] for r in phases], digits=1)
        print(f"[{name}] machine speed after each phase (ms; lower is faster): {speeds}")


def print_sweep(rows: list[list[dict]]) -> None:
    print(
        "\nbots   phase     CPU-ms/idle bot-min  CPU-ms/message  sent/s  answered/s  p50     p95     p99"
        "     answered/sent"
    )
    for results in rows:
        for r in results:
            lat, (sent_rate, answered_rate) = r["latency"], window_rates(r)
            print(
                f"{r['bots']:<6} {r['name']:9} {r['cpu_ms_idle_bot_minute']:19.2f}"
                f" {_figure(r['cpu_ms_per_message'], 1):>15}  {sent_rate:6.1f}  {answered_rate:10.1f}  "
                f"{_seconds_cell(lat['p50'])}  {_seconds_cell(lat['p95'])}  {_seconds_cell(lat['p99'])}"
                f"  {r['answered']}/{r['sent']}"
            )
    print(">drain: the percentile falls on messages still unanswered at the drain's deadline")
