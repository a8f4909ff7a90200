"""The real pieces together: sandbox on loopback, real qcluster and poller processes, the real database.

No event is lost and none handled twice while workers and pollers are SIGKILLed mid-cycle, and two
qclusters with two pollers never run one bot's cycles at once. The pacer (the per-task design the poller
replaced, still runnable) is held to the same.
"""

from __future__ import annotations

import itertools
import random
import time

import pytest

from botcore.models import EventLogEntry
from botcore.services.bots import provision_bot
from botcore.skills.testing.instrumented import read_side_effects, summarize_side_effects
from tests.botcore.livestack import LiveStack, wait_for

pytestmark = [pytest.mark.slow]


@pytest.fixture
def stack(sandbox_portal, sandbox):
    stack = LiveStack(base_url=sandbox.base_url, app_key=sandbox_portal.app_key)
    yield stack
    stack.stop()


def echoes_of(sandbox_portal, bot, texts):
    sent = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    return {text: sum(1 for s in sent if f"[i]{text}[/i]" in s.lower()) for text in texts}


def test_the_demo_flow_answers_through_real_workers(sandbox_portal, stack):
    bot = provision_bot(sandbox_portal.portal)
    stack.start("qcluster")
    stack.start("poller")
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="привет 🙂")
    wait_for(
        lambda: echoes_of(sandbox_portal, bot, ["привет 🙂"])["привет 🙂"] == 1, timeout=30, what="the echo"
    )


@pytest.mark.parametrize(("design", "run"), [("poller", 0), ("poller", 1), ("poller", 2), ("pacer", 0)])
def test_no_event_is_lost_or_handled_twice_when_workers_and_pollers_are_killed(
    sandbox_portal, sandbox, settings, tmp_path, design, run
):
    """Counted where the effects happen: the instrumented skill writes down each reply, reaction and state
    write it performed, so a repeat shows even where the platform would dedupe the message."""
    log_path = tmp_path / "effects.jsonl"
    settings.BOTCORE_SKILLS = ["botcore.skills.testing.instrumented.SideEffectSkill"]
    stack = LiveStack(
        base_url=sandbox.base_url,
        app_key=sandbox_portal.app_key,
        extra_env={
            "BOTCORE_SKILLS": "botcore.skills.testing.instrumented.SideEffectSkill",
            "VIBE_SIDE_EFFECT_LOG": str(log_path),
        },
    )
    rng = random.Random(run)
    bot = provision_bot(sandbox_portal.portal)
    try:
        stack.start("qcluster")
        stack.start(design)
        texts = [f"m{run}-{i}" for i in range(24)]
        for index, text in enumerate(texts):
            sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
            time.sleep(rng.uniform(0.02, 0.15))
            if index % 8 == 3:
                victim = rng.choice(["qcluster", design])
                stack.kill(victim)  # SIGKILL, mid-whatever it was doing
                time.sleep(rng.uniform(0.0, 0.5))
                stack.start(victim)
        messages = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
        wait_for(
            lambda: (
                not EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.RECEIVED).exists()
                and messages.count() == len(texts)
            ),
            timeout=120,
            what="every message stored and handled",
        )
    finally:
        stack.stop()
    summary = summarize_side_effects(read_side_effects(log_path))
    keys = {
        f"{sandbox_portal.portal.member_id}:{bot.vibe_bot_id}:{e}"
        for e in messages.values_list("vibe_event_id", flat=True)
    }
    assert keys <= summary.replied, f"never answered: {sorted(keys - summary.replied)}"
    assert not summary.repeated, f"performed more than once: {dict(summary.repeated)}"
    assert not EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.FAILED).exists()


@pytest.mark.parametrize("design", ["poller", "pacer"])
def test_two_qclusters_and_two_pollers_never_run_one_bots_cycles_at_once(
    sandbox_portal, stack, sandbox, design
):
    bot = provision_bot(sandbox_portal.portal)
    # Slow answers widen the window in which an overlap would show.
    sandbox_portal.control.post("/_sandbox/faults", json={"path": "*", "latencyMs": 150})
    since = max((c["seq"] for c in sandbox_portal.calls(bot.vibe_bot_id)), default=0)  # provisioning's
    for name in ("qcluster1", "qcluster2", f"{design}1", f"{design}2"):
        stack.start(name)

    def cycle_calls() -> list[dict]:
        # Every call a cycle makes (its poll, when it polls, and its skill's), one after another: two cycles
        # of the bot at once would overlap. A poller's watch (it asks the platform to hold: `timeout`) only
        # looks and acknowledges nothing new: it may overlap anything.
        return [
            c
            for c in sandbox_portal.calls(bot.vibe_bot_id)
            if c["seq"] > since and not (c["path"].endswith("/events") and "timeout" in c["query"])
        ]

    # At least 12 s of messages, and on until five cycle calls (processes start slowly on a busy host).
    started = time.monotonic()
    while time.monotonic() - started < 12 or (len(cycle_calls()) < 5 and time.monotonic() - started < 90):
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="tick")
        time.sleep(0.5)
    calls = cycle_calls()
    assert len(calls) >= 5
    intervals = sorted((c["at"], c["at"] + (c.get("durationMs") or 150) / 1000) for c in calls)
    overlaps = [(a, b) for a, b in itertools.pairwise(intervals) if b[0] < a[1] - 0.01]
    assert not overlaps, f"{len(overlaps)} overlapping cycle calls"
