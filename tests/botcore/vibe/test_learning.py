"""The budget that learns the limit: cut on 429, raised additively, under the ceiling, by priority, shared."""

from __future__ import annotations

import itertools
import os
import time
import uuid

import httpx
import pytest
import redis
import time_machine
from pyrate_limiter.buckets import InMemoryStateStore

from botcore import conf
from botcore.vibe import Priority, SharedBudget, VibeClient, learned_budget, learning
from botcore.vibe.budget import key_digest
from botcore.vibe.key_budgets import learned_store
from botcore.vibe.learned_budget import LearnedBudget, learned_rates, poll_budget_for_key
from botcore.vibe.learning import BACKOFF, RECOVER_SECONDS, LearnedState, MemoryLearnedStore
from botcore.vibe.outage_log import OUTAGE_LOG_EVERY_SECONDS, OutageLog
from tests import run_redis

CEILING = 9.0


def state(rate: float = CEILING, **fields: float) -> LearnedState:
    return LearnedState(rate=rate, since=1000.0, **fields)  # type: ignore[arg-type]


# --- the learning rule (pure) ---------------------------------------------------------------------------
def test_a_429_cuts_the_rate_multiplicatively():
    cut = learning.cut(state(), now=1001.0, sent_at=1000.5, basis=None)
    assert cut.rate == pytest.approx(BACKOFF * CEILING)
    assert cut.peak == CEILING and cut.cut_at == 1001.0


def test_a_429_cuts_to_a_share_of_what_actually_got_through():
    cut = learning.cut(state(rate=3.0), now=1001.0, sent_at=1000.5, basis=2.8)
    assert cut.rate == pytest.approx(BACKOFF * 2.8)


def test_a_429_cuts_at_most_two_steps_when_the_measure_lags():
    cut = learning.cut(state(), now=1001.0, sent_at=1000.5, basis=1.0)
    assert cut.rate == pytest.approx(BACKOFF * BACKOFF * CEILING)


def test_a_429_for_a_call_sent_before_the_last_cut_cuts_nothing():
    once = learning.cut(state(), now=1001.0, sent_at=1000.5, basis=None)
    again = learning.cut(once, now=1001.1, sent_at=1000.9, basis=None)
    assert again.rate == pytest.approx(BACKOFF * CEILING)
    later = learning.cut(again, now=1002.0, sent_at=1001.5, basis=None)
    assert later.rate == pytest.approx(BACKOFF * BACKOFF * CEILING)


def test_429s_within_the_hold_after_a_cut_cut_nothing_more():
    """A burst of refusals is one excess: the lower rate needs a moment to show before the next step."""
    once = learning.cut(state(), now=1001.0, sent_at=1001.0, basis=None)
    again = learning.cut(once, now=1001.5, sent_at=1001.2, basis=None)  # sent after the cut, within HOLD
    assert again.rate == pytest.approx(BACKOFF * CEILING)
    later = learning.cut(again, now=1001.0 + learning.HOLD_SECONDS, sent_at=1001.9, basis=None)
    assert later.rate == pytest.approx(BACKOFF * BACKOFF * CEILING)


def test_a_cut_does_not_reset_the_measured_rate():
    """What got through before a cut still counts just after it (a cascade of cuts once fed on a reset)."""
    s = state(rate=5.0, count=12, prev=3.0)  # 12 accepted over the 2.5 s of this window, 3/s before
    before = learning.measured(s, 1002.5)
    after = learning.cut(s, now=1002.5, sent_at=1002.4, basis=before)
    assert learning.measured(after, 1002.6) == pytest.approx(before, rel=0.05)


def test_the_measure_spans_a_whole_window_across_its_start():
    s = state(count=2, prev=5.0)  # a new window 0.5 s old with 2 calls, after a window at 5/s
    assert learning.measured(s, 1000.5) == pytest.approx(
        (2 + 5.0 * (learning.WINDOW - 0.5)) / learning.WINDOW
    )
    assert learning.measured(state(), 1000.2) is None  # nothing seen yet


def test_the_best_window_is_remembered_for_a_while_then_forgotten():
    s = state()
    for second in range(1, 11):  # 6/s for two windows
        s = learning.add_successes(s, count=6, now=1000.0 + second, ceiling=CEILING)
    assert s.best == pytest.approx(6.0)
    t = 1010.0
    while t < 1010.0 + learning.BEST_MEMORY + 2 * learning.WINDOW:  # then 2/s for longer than the memory
        t += 1
        s = learning.add_successes(s, count=2, now=t, ceiling=CEILING)
    assert s.best == pytest.approx(2.0)


def test_a_burst_let_through_after_a_pause_does_not_read_as_the_limit():
    """A limit of 2/s that lets a second's worth through at once: a window that starts after a pause gets
    12 calls through in 5 s. Read alone, that window's 2.4/s set the plateau at 2.28/s, over the limit,
    and the rate was refused on its way down three times; two windows in a row read 2.2/s at most."""
    s = state()
    s = learning.add_successes(s, count=12, now=1005.0, ceiling=CEILING)  # the first window
    assert s.sustained == 0.0
    s = learning.add_successes(s, count=10, now=1010.0, ceiling=CEILING)
    assert s.best == pytest.approx(2.4)  # evidence that a portal got this much through, for blame
    assert s.sustained == pytest.approx(2.2)
    s.rate = 2.3  # climbing when refused
    refused = learning.cut(s, now=1011.0, sent_at=1010.9, basis=learning.measured(s, 1011.0))
    assert learning.PLATEAU * refused.peak < 2.1


def test_a_batch_flushed_across_a_window_start_counts_only_its_share_in_the_new_window():
    """Processes flush their successes up to a couple of seconds late: counted whole in the window that
    has just started, they made a 5 s window hold 7 s of calls, and a portal seem over its limit."""
    s = state(count=0, prev=1.0)  # a window started at 1000.0
    s = learning.count_accepted(s, count=10, now=1001.0, first_at=996.0)  # 10 calls over 996..1001
    assert s.count == 2


def test_the_rate_never_falls_below_the_floor():
    low = state(rate=learning.FLOOR)
    assert learning.cut(low, now=1001.0, sent_at=1000.5, basis=None).rate == learning.FLOOR


def saturate(s: LearnedState, *, seconds: int, start: float = 1001.0) -> LearnedState:
    """Successes as they come when demand saturates the rate: `rate` of them each second."""
    for second in range(seconds):
        s = learning.add_successes(s, count=max(1, round(s.rate)), now=start + second, ceiling=CEILING)
    return s


def test_successes_raise_the_rate_additively_to_the_plateau_in_the_recovery_time():
    cut = learning.cut(state(rate=4.0), now=1000.0, sent_at=999.0, basis=None)
    third = int(RECOVER_SECONDS / 3)
    gained = [saturate(LearnedState(**vars(cut)), seconds=n).rate - cut.rate for n in (third, 2 * third)]
    # Additive: twice the time, about twice the gain (a multiplicative raise would more than double it).
    assert gained[1] == pytest.approx(2 * gained[0], rel=0.25)
    back = saturate(LearnedState(**vars(cut)), seconds=int(RECOVER_SECONDS))
    assert back.rate == pytest.approx(learning.PLATEAU * 4.0, rel=0.05)


def test_the_climb_stays_under_the_last_429_until_it_is_time_to_probe_again():
    """A limit found stays found: no probing 429 every recovery time, only every PROBE_AFTER."""
    cut = learning.cut(state(rate=4.0), now=1000.0, sent_at=999.0, basis=None)
    held = saturate(LearnedState(**vars(cut)), seconds=int(learning.PROBE_AFTER) - 10, start=1000.0)
    assert held.rate == pytest.approx(learning.PLATEAU * 4.0)
    probing = saturate(held, seconds=60, start=1000.0 + learning.PROBE_AFTER)
    assert probing.rate > 4.0


def test_a_429_well_into_the_climb_sets_the_next_plateau_a_step_lower():
    """A cut's evidence over-read the limit (a burst let through after a pause): limit 2/s, plateau
    0.95 x 2.38 = 2.26. Refused at 2.19 on the way there, the climb aimed at 0.95 x 2.19 = 2.08, still
    over, and was refused again a minute later; it now stops a step lower, under the limit."""
    cut = learning.cut(state(rate=2.97), now=1000.0, sent_at=999.0, basis=2.38)  # a burst read as the limit
    climbing = saturate(LearnedState(**vars(cut)), seconds=int(RECOVER_SECONDS * 0.7), start=1000.0)
    refused_at, refused_rate = 1000.0 + RECOVER_SECONDS, climbing.rate
    assert 2.1 < refused_rate < learning.PLATEAU * 2.38
    again = learning.cut(climbing, now=refused_at, sent_at=refused_at - 0.5, basis=2.1)
    settled = saturate(LearnedState(**vars(again)), seconds=int(RECOVER_SECONDS) + 5, start=refused_at + 1)
    assert settled.rate == pytest.approx(learning.PLATEAU**2 * refused_rate, rel=0.01)
    assert settled.rate < 2.0


def test_a_429_early_in_the_climb_keeps_the_usual_plateau():
    """Refused just after a cut (a descent while the limit is being found): the next climb aims at PLATEAU
    times the refused rate, as ever."""
    cut = learning.cut(state(rate=4.0), now=1000.0, sent_at=999.0, basis=None)
    climbing = saturate(LearnedState(**vars(cut)), seconds=3, start=1000.0)
    refused_rate = climbing.rate
    again = learning.cut(climbing, now=1005.0, sent_at=1004.5, basis=None)
    assert again.peak == pytest.approx(refused_rate)


def refused_at_the_end_of_a_descent() -> LearnedState:
    """Limit 1/s per portal, seen in a benchmark's log: the portals' rate, cut from 1.24/s to 1.00/s, climbed
    to 1.06/s and was refused, while the refused portal's windows, full of refusals and the waits they
    cost, read 0.70/s accepted and no two windows in a row were whole yet."""
    climbing = state(rate=1.0623, peak=1.2444, cut_at=991.3, hold_until=992.3, best=0.92, best_at=990.5)
    return learning.cut(climbing, now=1000.0, sent_at=999.5, basis=0.70)


def test_a_cut_read_from_windows_full_of_refusals_sets_no_plateau_the_climb_goes_on_to_the_next_429():
    """That cut falls back on its two-step floor (0.8 x 1.06 = 0.85): a plateau at 0.95 x 0.85 = 0.81/s
    held a fifth of the limit unused until PROBE_AFTER, five minutes on."""
    cut = refused_at_the_end_of_a_descent()
    assert cut.peak == pytest.approx(BACKOFF * 1.0623) and cut.tentative
    climbed = saturate(LearnedState(**vars(cut)), seconds=90, start=1001.0)
    assert climbed.rate > 1.0  # past the 0.81 a plateau would have held, up to the limit and its next 429


def test_the_429_that_ends_that_climb_sets_the_plateau_and_it_holds():
    """Refused at 1.01/s after clean windows got 1/s through: the plateau is 0.95 x 1.0 (no step down for a
    429 well into a climb: there was no plateau to over-read), and the climb stops there again."""
    cut = refused_at_the_end_of_a_descent()
    climbed = saturate(LearnedState(**vars(cut)), seconds=60, start=1001.0)
    climbed.rate = 1.01
    probed = learning.cut(climbed, now=1061.0, sent_at=1060.5, basis=1.0)
    assert probed.peak == pytest.approx(1.0) and not probed.tentative
    held = saturate(LearnedState(**vars(probed)), seconds=int(learning.PROBE_AFTER) - 10, start=1062.0)
    assert held.rate == pytest.approx(learning.PLATEAU * 1.0)


def test_the_429_that_ends_that_climb_reads_its_best_window_where_the_sustained_best_lags_the_climb():
    """Seen in the benchmark: the portals' rate climbs with every portal's calls, 0.81 to 0.96/s in nine
    seconds; refused there, the refused portal read 0.73/s and its two last windows 0.86/s, and a plateau
    of 0.95 x 0.86 = 0.81/s held until PROBE_AFTER. Its best whole window, 0.93/s, is the evidence."""
    climbing = state(
        rate=0.96,
        peak=0.85,
        cut_at=991.0,
        hold_until=992.0,
        tentative=True,
        best=0.93,
        best_at=998.0,
        sustained=0.855,
        sustained_at=998.0,
    )
    probed = learning.cut(climbing, now=1000.0, sent_at=999.5, basis=0.733)
    assert probed.peak == pytest.approx(0.93) and not probed.tentative
    # Not a best from before the tentative cut: the load's first window, a burst after a pause, over-reads.
    burst_first = state(
        rate=2.35, peak=2.3, cut_at=990.0, hold_until=991.0, tentative=True, best=2.38, best_at=985.0
    )
    assert learning.cut(burst_first, now=1000.0, sent_at=999.5, basis=2.0).peak == pytest.approx(2.0)
    descending = state(rate=0.96, peak=1.2, cut_at=999.0, hold_until=999.5, tentative=True, best=0.93)
    assert learning.cut(descending, now=1000.0, sent_at=999.8, basis=0.85).peak == pytest.approx(0.85)


def climb_by_two(s: LearnedState, *, seconds: int, start: float) -> LearnedState:
    acme, globex = learning.caller_id("acme"), learning.caller_id("globex")
    for second in range(seconds):
        for caller in (acme, globex):
            s = learning.raise_rate(s, count=1, now=start + second, ceiling=CEILING, caller=caller)
    return s


def test_past_the_plateau_one_portal_probes_and_the_others_hold_at_it():
    """Five portals at the one rate they share reached the limit in the same second: a 429 each."""
    acme, globex = learning.caller_id("acme"), learning.caller_id("globex")
    s = climb_by_two(refused_at_the_end_of_a_descent(), seconds=30, start=1001.0)
    assert learning.PLATEAU * s.peak < s.rate < s.peak / BACKOFF and s.prober == acme
    assert learning.pace(s, caller=acme, now=1031.0) == s.rate
    assert learning.pace(s, caller=globex, now=1031.0) == pytest.approx(learning.PLATEAU * s.peak)


def test_once_the_prober_is_a_step_past_the_last_429_the_others_follow_a_step_under_it():
    """No 429 a step past the rate of the last one: that limit has moved (a storm of 429s is over, the key's
    owner raised it), and the others held at its plateau used a fraction of what the platform now lets
    through. They follow a step under the prober, so that the 429 ending the probe is still its alone."""
    acme, globex = learning.caller_id("acme"), learning.caller_id("globex")
    s = climb_by_two(refused_at_the_end_of_a_descent(), seconds=60, start=1001.0)
    assert s.rate > s.peak / BACKOFF and s.prober == acme
    assert learning.pace(s, caller=acme, now=1061.0) == s.rate
    assert learning.pace(s, caller=globex, now=1061.0) == pytest.approx(BACKOFF * s.rate)


def storm_cut() -> LearnedState:
    """A minute of 429s (an outside trial's soak): what got through, 1.48/s, read as the limit."""
    return learning.cut(state(rate=1.6), now=1000.0, sent_at=999.5, basis=1.48)


def test_after_a_storm_of_429s_the_probe_finds_the_ceiling_again_in_minutes():
    """The platform refused calls for a minute, then let the ceiling through again. The additive climb
    past the plateau took 26 minutes back from 1.18/s to 9/s; the probe's excess doubles instead."""
    cut = storm_cut()
    assert not cut.tentative
    held = saturate(LearnedState(**vars(cut)), seconds=int(learning.PROBE_AFTER), start=1000.0)
    assert held.rate == pytest.approx(learning.PLATEAU * 1.48)
    probed = saturate(held, seconds=180, start=1000.0 + learning.PROBE_AFTER)
    assert probed.rate == CEILING


def against_platform(
    s: LearnedState, *, limit, start: float, seconds: int
) -> tuple[LearnedState, list[tuple[float, float]]]:
    """The key's calls as its budget sends them, demand saturating the learned rate, to a platform whose
    limit at each second is limit(now): what it lets through counts as accepted, and a second sent over it
    meets 429s (one per call over, at least one), the first of them told to the budget (as LearnedBudget
    does: cut from the accepted rate measured). Returns the state and the 429s met: (second, rate sent)."""
    refused: list[tuple[float, float]] = []
    due = 0.0  # calls owed: the budget spaces them at its rate, fractions carried to the next second
    for second in range(seconds):
        now = start + second
        allowed = limit(now)
        due += min(s.rate, allowed)
        count = int(due)
        due -= count
        if count:
            s = learning.add_successes(s, count=count, now=now, ceiling=CEILING)
        if s.rate > allowed:
            refused += [(now, s.rate)] * max(1, round(s.rate - allowed))
            s = learning.cut(s, now=now + 0.5, sent_at=now + 0.2, basis=learning.measured(s, now + 0.5))
    return s, refused


STORM_START, STORM_SECONDS, STORM_LIMIT = 1000.0, 60.0, 1.5


def busy_then_storm() -> LearnedState:
    """A minute of demand at the ceiling, the platform letting all of it through."""
    calm = LearnedState(rate=CEILING, since=STORM_START - 60)
    s, refused = against_platform(calm, limit=lambda now: 100.0, start=STORM_START - 60, seconds=60)
    assert not refused and s.rate == CEILING and s.sustained > 0.9 * CEILING
    return s


def test_after_a_storm_of_429s_the_rate_is_back_near_the_ceiling_within_two_minutes_of_its_end():
    """A soak's storm: for a minute the platform let only 1.5/s through, then the ceiling again. The budget
    held at the storm's plateau for five minutes after its last 429 before it probed (389 s back to 90 % in
    the benchmark, replies one every 2.5 s meanwhile). The cuts took it far under what got through before
    them, so it probes a minute after the last 429, and once a step past that 429 the limit is gone: back
    to the rate before the storm, doubling every RETURN_DOUBLING seconds."""
    storm_end = STORM_START + STORM_SECONDS

    def platform(now: float) -> float:
        return STORM_LIMIT if STORM_START <= now < storm_end else 100.0

    s, refused = against_platform(busy_then_storm(), limit=platform, start=STORM_START, seconds=600)
    assert refused and all(at < storm_end for at, _ in refused)  # no 429 once the storm is over
    s = busy_then_storm()
    back = None
    for second in range(600):
        s, _ = against_platform(s, limit=platform, start=STORM_START + second, seconds=1)
        if STORM_START + second >= storm_end and s.rate >= 0.9 * CEILING:
            back = STORM_START + second - storm_end
            break
    assert back is not None and back <= 120, back


@pytest.mark.parametrize("settled", [STORM_LIMIT, 4.0])
def test_a_limit_really_lowered_costs_few_429s_each_probe_spaced_further(settled):
    """The same descent, but the platform's limit stays low (the key's owner lowered it: 1.5/s), or comes
    back only part of the way (4/s): the probes a storm earns cost one 429 each where the limit stands,
    their spacing doubles (1, 2, 4, then 5 minutes), and none goes far over the limit."""

    def platform(now: float) -> float:
        return 100.0 if now < STORM_START else STORM_LIMIT if now < STORM_START + STORM_SECONDS else settled

    s, refused = against_platform(busy_then_storm(), limit=platform, start=STORM_START, seconds=900)
    climb = [(at, rate) for at, rate in refused if at >= STORM_START + 30]  # after the descent
    # 15 minutes: probes at 1, 2, 4 and 5 minutes' spacing where the limit stood (one 429 each), and, where it
    # came back to 4/s, the return's overshoot found it (a few 429s at once) before the same probes.
    assert len(climb) <= 7, climb
    assert all(rate <= settled / BACKOFF for _, rate in climb), climb
    probes = sorted({round(at) for at, _ in climb})
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert all(gap >= 55 for gap in gaps), probes
    assert learning.PLATEAU * BACKOFF * settled <= s.rate <= settled


def test_a_429_near_what_got_through_before_it_keeps_the_five_minute_hold():
    """Only a deep descent probes sooner: a 429 at the rate that was getting through (an isolated one, a
    steady limit's sawtooth) holds the climb at its plateau for PROBE_AFTER, as ever."""
    busy = busy_then_storm()
    cut = learning.cut(
        busy, now=STORM_START, sent_at=STORM_START - 0.5, basis=learning.measured(busy, STORM_START)
    )
    assert learning.probe_wait(cut) == learning.PROBE_AFTER
    held = saturate(LearnedState(**vars(cut)), seconds=int(learning.PROBE_AFTER) - 10, start=STORM_START + 1)
    assert held.rate == pytest.approx(learning.PLATEAU * cut.peak)


def test_a_probe_that_reaches_the_ceiling_forgets_the_plateau():
    acme, globex = learning.caller_id("acme"), learning.caller_id("globex")
    s = climb_by_two(storm_cut(), seconds=300, start=1000.0 + learning.PROBE_AFTER)
    assert s.rate == CEILING and not s.peak
    assert learning.pace(s, caller=globex, now=1600.0) == CEILING
    assert learning.raise_rate(s, count=1, now=1601.0, ceiling=CEILING, caller=acme).rate == CEILING


def test_a_limit_that_stayed_still_costs_one_429_a_probe():
    """Near the plateau the probe climbs at the additive pace: a limit a little over the last 429's rate
    refuses it once, and the climb after that cut holds under it until the next probe."""
    limit, cuts = 1.52, 0
    s = LearnedState(**vars(storm_cut()))
    start = 1000.0 + learning.PROBE_AFTER
    for second in range(int(learning.PROBE_AFTER)):
        now = start + second
        if s.rate > limit:
            s, cuts = learning.cut(s, now=now, sent_at=now - 0.5, basis=limit), cuts + 1
        else:
            s = learning.add_successes(s, count=max(1, round(s.rate)), now=now, ceiling=CEILING)
    assert cuts == 1 and s.rate < limit


def test_a_quiet_prober_hands_the_probe_over_and_a_cut_ends_it():
    acme, globex = learning.caller_id("acme"), learning.caller_id("globex")
    s = learning.raise_rate(
        refused_at_the_end_of_a_descent(), count=60, now=1001.0, ceiling=CEILING, caller=acme
    )
    assert s.prober == acme
    later = 1001.0 + learning.PROBER_LAPSE
    assert learning.pace(s, caller=globex, now=later) == s.rate  # acme went quiet
    s = learning.raise_rate(s, count=1, now=later, ceiling=CEILING, caller=globex)
    assert s.prober == globex
    s = learning.cut(s, now=later + 1, sent_at=later + 0.5, basis=1.0)
    assert not s.prober and learning.pace(s, caller=acme, now=later + 1) == s.rate


def test_the_prober_survives_the_shared_store_and_callers_are_told_apart():
    assert learning.caller_id("acme") != learning.caller_id("globex")
    s = refused_at_the_end_of_a_descent()
    s.prober, s.prober_at = learning.caller_id("acme"), 1001.5
    assert LearnedState.decode(s.encode(), ceiling=CEILING).prober == learning.caller_id("acme")


def test_a_cut_with_evidence_of_its_own_sets_its_plateau_as_before():
    cut = learning.cut(state(rate=1.05), now=1000.0, sent_at=999.5, basis=0.97)
    assert not cut.tentative
    held = saturate(LearnedState(**vars(cut)), seconds=90, start=1001.0)
    assert held.rate == pytest.approx(learning.PLATEAU * 0.97)


def test_the_tentative_mark_survives_the_shared_store():
    cut = refused_at_the_end_of_a_descent()
    stored = LearnedState.decode(cut.encode(), ceiling=CEILING)
    assert stored.tentative and stored.encode() == cut.encode()


def test_the_rate_never_rises_above_the_ceiling():
    assert saturate(state(rate=CEILING - 0.01, peak=CEILING), seconds=600).rate == CEILING


def test_a_lowered_ceiling_applies_at_once():
    assert LearnedState.decode(state(rate=8.0).encode(), ceiling=3.0).rate == 3.0


def test_unreadable_state_starts_at_the_ceiling():
    assert LearnedState.decode("garbage", ceiling=CEILING).rate == CEILING
    assert LearnedState.decode(None, ceiling=CEILING).rate == CEILING


# --- priorities -------------------------------------------------------------------------------------------
def budget_at(per_second: float) -> SharedBudget:
    return SharedBudget(name="p", per_second=per_second, burst=1, max_wait=10, store=InMemoryStateStore())


def test_a_best_effort_call_goes_when_the_budget_is_idle():
    assert budget_at(5).acquire(priority=Priority.BEST_EFFORT) is True


def take_the_slot_meanwhile(budget, monkeypatch) -> list[bool]:
    """While a call waits for its slot, a reply arrives and takes that slot (as one that waits wakes
    first): the budget is short. Returns what the reply got."""
    real_sleep, replies = time.sleep, []

    def sleep_then_reply(seconds: float) -> None:
        real_sleep(seconds)
        if not replies:
            replies.append(budget.acquire())  # the slot is free by now: no sleep of its own

    monkeypatch.setattr("botcore.vibe.budget.time.sleep", sleep_then_reply)
    return replies


def test_a_best_effort_call_waits_its_turn_when_the_budget_is_only_busy():
    budget = budget_at(4)
    assert budget.acquire() is True
    assert budget.acquire(priority=Priority.BEST_EFFORT) is True  # a quarter second late, nobody else


def test_a_best_effort_call_is_skipped_when_a_reply_takes_the_slot_it_waited_for(monkeypatch):
    budget = budget_at(4)
    budget.acquire()
    replies = take_the_slot_meanwhile(budget, monkeypatch)
    assert budget.acquire(priority=Priority.BEST_EFFORT) is False
    assert replies == [True]


class Slept(BaseException):
    """Ends a wait at its first sleep; a BaseException, so the budget's outage handling lets it pass."""


def first_wait(priority: Priority, monkeypatch) -> float:
    """How long a call of `priority` first sleeps on a budget just spent (recorded, not slept)."""
    budget = budget_at(2)
    budget.acquire()
    waits: list[float] = []

    def record_sleep(seconds: float) -> None:
        waits.append(seconds)
        raise Slept  # one wait is all this test needs

    monkeypatch.setattr("botcore.vibe.budget.time.sleep", record_sleep)
    with pytest.raises(Slept):
        budget.acquire(priority=priority)
    return waits[0]


def test_a_poll_waiting_for_the_same_slot_as_a_reply_lets_the_reply_go_first(monkeypatch):
    assert first_wait(Priority.POLL, monkeypatch) > first_wait(Priority.REPLY, monkeypatch)


def test_setting_a_bot_up_waits_behind_replies_and_polls(monkeypatch):
    """From an outside probe: one portal's admin switching a skill on and off again and again re-registered
    its commands at the shared app key's rate, and every other portal's replies waited behind them."""
    setup = first_wait(Priority.SETUP, monkeypatch)
    assert setup > first_wait(Priority.POLL, monkeypatch) > first_wait(Priority.REPLY, monkeypatch)


def test_a_skill_runs_posts_wait_behind_replies_and_polls_and_setting_bots_up_behind_them(monkeypatch):
    """At 09:30 every portal's standup asks its people at once: hundreds of posts on the one app key, each
    as urgent as a reply, and the replies of everyone else's chats waited behind them for the key's slots."""
    run = first_wait(Priority.RUN, monkeypatch)
    assert first_wait(Priority.SETUP, monkeypatch) > run > first_wait(Priority.POLL, monkeypatch)


def recording_client(budget, *, status: int = 200, **options) -> tuple[VibeClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if status == 429:
            return httpx.Response(
                429, json={"success": False, "error": {"code": "RATE_LIMIT", "message": "slow"}}
            )
        # An events answer carries its list of events (parse.events_of refuses one without).
        data = {"events": []} if request.url.path.endswith("/events") else {}
        return httpx.Response(200, json={"success": True, "data": data})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    client = VibeClient(
        api_key="vibe_api_x", base_url="http://platform.test/v1", http=http, budget=budget, max_attempts=1,
        **options,
    )  # fmt: skip
    return client, sent


def test_a_skipped_best_effort_call_sends_nothing_and_raises_nothing(monkeypatch):
    budget = budget_at(4)
    budget.acquire()
    client, sent = recording_client(budget)
    take_the_slot_meanwhile(budget, monkeypatch)
    assert client.show_typing(7, dialog_id="12") is None
    budget.acquire()
    take_the_slot_meanwhile(budget, monkeypatch)
    client.mark_read(7, dialog_id="12")
    assert sent == []


class RecordingBudget:
    def __init__(self) -> None:
        self.priorities: list[Priority] = []
        self.outcomes: list[bool] = []

    def acquire(self, *, priority: Priority = Priority.REPLY) -> bool:
        self.priorities.append(priority)
        return True

    def record(self, *, limited: bool) -> None:
        self.outcomes.append(limited)


def test_the_transport_tells_the_budget_each_calls_priority_and_outcome():
    budget = RecordingBudget()
    client, _ = recording_client(budget)
    client.send_message(7, dialog_id="12", text="hi")
    client.get_events(7)
    client.show_typing(7, dialog_id="12")
    client.register_command(7, command="ping", title={"en": "Ping"})
    client.delete_command(7, 3)
    assert budget.priorities == [
        Priority.REPLY,
        Priority.POLL,
        Priority.BEST_EFFORT,
        Priority.SETUP,
        Priority.SETUP,
    ]
    assert budget.outcomes == [False] * 5
    limited, _ = recording_client(budget, status=429)
    with pytest.raises(Exception):  # noqa: B017 - the 429 itself is tested in test_errors
        limited.list_bots()
    assert budget.outcomes[-1] is True


def test_a_client_for_a_skill_run_sends_its_posts_at_the_runs_priority_and_the_rest_at_their_own():
    budget = RecordingBudget()
    client, _ = recording_client(budget, default_priority=Priority.RUN)
    client.send_message(7, dialog_id="12", text="today's question")
    client.get_events(7)
    client.register_command(7, command="ping", title={"en": "Ping"})
    assert budget.priorities == [Priority.RUN, Priority.POLL, Priority.SETUP]


# --- shared by every process ------------------------------------------------------------------------------
def make_budget(name: str, store, *, portal: str | None = None) -> LearnedBudget:
    return LearnedBudget(
        name=name,
        portal=portal,
        ceiling=CEILING,
        burst=1,
        max_wait=10,
        make_store=lambda _: InMemoryStateStore(),
        learned=store,
    )


def redis_learned():
    """A learned store in the run's Redis (tests/run_redis.py), its keys deleted after the test."""
    return learning.RedisLearnedStore(run_redis.client(), prefix=f"{run_redis.PREFIX}vibe:learn:")


def test_the_redis_store_these_tests_use_is_the_runs_own_db():
    """The run's Redis is REDIS_URL's db (CI gives each run its own): these tests wrote to db 0 whatever it
    said, so two runs on different dbs shared their keys there, and left them behind (3 a run, a day each)."""
    store, name = redis_learned(), uuid.uuid4().hex
    store.update(name, lambda old: "1")
    runs_db = redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    assert runs_db.get(store.prefix + name) == b"1"


# The database's need is marked on its parameter, where pytest-django looks before the run: asked for from
# inside the fixture (getfixturevalue), no test database was made for a run of these tests alone, and they
# ran on the database of DATABASE_URL itself, inside a transaction of pytest-django's.
@pytest.fixture(params=["redis", pytest.param("database", marks=pytest.mark.django_db(transaction=True))])
def shared_store(request):
    return redis_learned if request.param == "redis" else learning.DatabaseLearnedStore


def test_a_429_seen_by_one_budget_slows_another_sharing_the_key(shared_store):
    name = uuid.uuid4().hex[:24]
    first, second = make_budget(name, shared_store()), make_budget(name, shared_store())
    assert second.rates()[0] == CEILING
    first.acquire()
    first.record(limited=True)
    second._cached_at = 0.0
    assert second.rates()[0] == pytest.approx(BACKOFF * CEILING)


def test_successes_of_two_budgets_raise_one_shared_rate(shared_store):
    name = uuid.uuid4().hex[:24]
    first, second = make_budget(name, shared_store()), make_budget(name, shared_store())
    first.acquire()
    first.record(limited=True)
    cut = first.rates()[0]
    for budget in (first, second):
        for _ in range(20):
            budget.record(limited=False)
        budget._flush()
    raised = learning.LearnedState.decode(shared_store().read(name), ceiling=CEILING)
    assert raised.rate > cut and raised.count == 40


@pytest.mark.django_db(transaction=True)
def test_a_learned_rate_read_on_a_fresh_database_leaves_the_callers_transaction_usable(monkeypatch):
    """The first process on a fresh database reads a learned rate (a reply's templateId, the admin's
    figures) inside a transaction of its own, before anything made the table: on PostgreSQL the failed
    SELECT aborted that transaction, and every later statement of it failed."""
    from django.db import connection, transaction

    from botcore.vibe import budget_store
    from tenants.models import Portal

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {budget_store.TABLE}")
    monkeypatch.setattr(budget_store, "_tables_made", set())  # a process that has not made it either
    with transaction.atomic():
        assert learning.DatabaseLearnedStore().read(uuid.uuid4().hex[:24]) is None
        assert Portal.objects.count() == 0  # InternalError: current transaction is aborted


def test_a_429_cuts_the_per_portal_rate_that_every_portal_of_the_key_shares():
    store = MemoryLearnedStore()
    name = uuid.uuid4().hex[:24]
    acme, globex = make_budget(name, store, portal="acme"), make_budget(name, store, portal="globex")
    acme.acquire()
    acme.record(limited=True)
    globex._cached_at = 0.0
    assert globex.rates()[1] == pytest.approx(BACKOFF * CEILING)


def test_a_first_429_in_a_portal_cuts_only_the_portals():
    """Before the key's rate is measured, the portals' rate is cut: far above what one portal sends, it
    costs nothing where the limit is the key's, and cutting the key would starve every other portal."""
    store = MemoryLearnedStore()
    budget = make_budget(uuid.uuid4().hex[:24], store, portal="acme")
    budget.acquire()
    budget.record(limited=True)
    assert budget.rates() == (CEILING, pytest.approx(BACKOFF * CEILING))


def refused_in_portal(*, portals_rate: float, portal_best: float) -> tuple[float, float]:
    """A 429 in a portal when the portals' rate is `portals_rate` and the best a single portal got
    through lately is `portal_best` (the key at 6/s, refused at 5/s before): the rates after it."""
    store = MemoryLearnedStore()
    name = uuid.uuid4().hex[:24]
    with time_machine.travel(1_800_000_000.0, tick=False):
        now = time.time()
        key = LearnedState(rate=6.0, peak=6.25, cut_at=now - 60, since=now - 3, count=15, prev=5.0)
        key.best, key.best_at = 5.0, now - 10
        portals = LearnedState(rate=portals_rate, since=now - 3)
        portals.best, portals.best_at = portal_best, now - 10
        store.update(name, lambda _: key.encode())
        store.update(f"{name}:portals", lambda _: portals.encode())
        budget = make_budget(name, store, portal="acme")
        budget.acquire()
        budget.record(limited=True)
        return budget.rates()


def test_a_429_while_the_portals_rate_is_above_what_a_portal_got_through_cuts_only_the_portals():
    """No portal sent that fast: cutting the portals' rate first is free where the limit is the key's."""
    assert refused_in_portal(portals_rate=3.5, portal_best=2.0) == (6.0, pytest.approx(BACKOFF * 3.5))


def test_a_429_once_the_portals_rate_is_down_to_what_a_portal_got_through_cuts_only_the_key():
    """A limit per portal would not refuse below what a portal got through: it is the key's limit."""
    rates = refused_in_portal(portals_rate=1.5, portal_best=2.0)
    assert rates == (pytest.approx(BACKOFF * 5.0), 1.5)  # 5/s: what the key got through


def test_a_429_once_the_key_climbed_past_what_it_sustained_cuts_the_key_not_a_portal_well_under_its_pace():
    """Limit 2/s per key: the key, cut before, climbed to 2.23/s past the 2.1/s it sustained; a portal
    sending 0.4/s, far under the portals' 0.95/s, is refused. Portals first, the portals' rate was cut
    (0.95 was just over 0.8 x the best window of 1.18) and the key refused again 5 s later."""
    now = 2000.0
    key = LearnedState(
        rate=2.23, peak=2.38, cut_at=now - 35, since=now - 2, sustained=2.1, sustained_at=now - 8
    )
    portals = LearnedState(rate=0.95, peak=1.0, cut_at=now - 40, since=now - 2, best=1.18, best_at=now - 30)
    assert learning.blame(key=key, portals=portals, now=now, sent_at=now - 0.1, portal_rate=0.4) is (
        learning.Scope.KEY
    )
    # A portal refused near its own pace is the portals' (a limit per portal refuses there) ...
    assert learning.blame(key=key, portals=portals, now=now, sent_at=now - 0.1, portal_rate=0.9) is (
        learning.Scope.PORTALS
    )
    # ... and so is any refusal while the key was never cut (a limit per portal leaves the key alone).
    never_cut = LearnedState(rate=9.0, since=now - 2, sustained=4.8, sustained_at=now - 8)
    assert learning.blame(key=never_cut, portals=portals, now=now, sent_at=now - 0.1, portal_rate=0.4) is (
        learning.Scope.PORTALS
    )


def test_a_429_outside_any_portal_cuts_the_key_and_one_already_acted_upon_cuts_nothing():
    key = state(rate=4.0)
    assert learning.blame(key=key, portals=None, now=1002.0, sent_at=1001.9) is learning.Scope.KEY
    portals = learning.cut(state(), now=1001.0, sent_at=1000.9, basis=None)
    assert learning.blame(key=key, portals=portals, now=1001.5, sent_at=1001.2) is None  # within the hold
    assert learning.blame(key=key, portals=portals, now=1003.0, sent_at=1000.95) is None  # sent before it
    assert learning.blame(key=key, portals=portals, now=1003.0, sent_at=1002.9) is learning.Scope.PORTALS


def test_a_cut_never_goes_below_the_best_that_got_through():
    """Refusals stall the callers, so a window full of them under-reads the limit: the best does not."""
    cut = learning.cut(state(rate=4.0, sustained=3.5), now=1001.0, sent_at=1000.5, basis=1.0)
    assert cut.rate == pytest.approx(BACKOFF * 3.5)


def test_the_portals_best_is_the_best_a_single_portal_got_through():
    store = MemoryLearnedStore()
    name = uuid.uuid4().hex[:24]
    with time_machine.travel(1_800_000_000.0, tick=False) as clock:
        budgets = [make_budget(name, store, portal=portal) for portal in ("acme", "globex")]
        for _second in range(int(learning.WINDOW) + 2):  # acme gets 3 calls through a second, globex 1
            clock.shift(1)
            for budget, calls in zip(budgets, (3, 1), strict=True):
                for _ in range(calls):
                    budget.record(limited=False)
                budget._flush()
        portals = LearnedState.decode(store.read(f"{name}:portals"), ceiling=CEILING)
        key = LearnedState.decode(store.read(name), ceiling=CEILING)
    assert portals.best == pytest.approx(3.0, rel=0.2)
    assert key.best == pytest.approx(4.0, rel=0.2)


def test_only_one_portal_of_a_key_climbs_past_the_plateau():
    store = MemoryLearnedStore()
    name = uuid.uuid4().hex[:24]
    with time_machine.travel(1_800_000_000.0, tick=False) as clock:
        budgets = [make_budget(name, store, portal=f"portal-{n}") for n in range(5)]
        cut = refused_at_the_end_of_a_descent()
        for field in ("cut_at", "hold_until", "since", "best_at"):
            setattr(cut, field, getattr(cut, field) - 1000.0 + time.time())
        store.update(f"{name}:portals", lambda _: cut.encode())
        for _second in range(30):
            clock.shift(1)
            for budget in budgets:
                budget.record(limited=False)
                budget._flush()
        paces = []
        for budget in budgets:
            budget._cached_at = 0.0
            paces.append(budget.rates()[1])
    plateau = learning.PLATEAU * cut.peak
    assert sorted(paces)[:4] == [pytest.approx(plateau, rel=1e-3)] * 4 and max(paces) > plateau


class Clock:
    """One clock for time.time() and time.monotonic(), moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def test_calls_a_quiet_process_held_since_an_earlier_spell_do_not_inflate_the_measured_rate(monkeypatch):
    """A process keeps its last successes until its next call: counted then, they would land in a window
    they do not belong to (and a portal would seem to get through more than its limit lets it)."""
    clock = Clock()
    monkeypatch.setattr(learned_budget, "time", clock)
    monkeypatch.setattr(learning, "time", clock)
    store = MemoryLearnedStore()
    name = uuid.uuid4().hex[:24]
    budget = make_budget(name, store)
    start = clock.now
    budget.record(limited=False)  # the first call of a spell is told at once
    clock.now += 0.1
    for _ in range(3):
        budget.record(limited=False)  # the cycle's next calls, held: a flush is due only a second on
    clock.now += 30  # the process then handles other portals for half a minute
    budget.record(limited=False)  # a new spell: the three held ones are told, but not measured
    clock.now += 1.5
    budget.record(limited=False)
    state = LearnedState.decode(store.read(name), ceiling=CEILING)
    # Measured: the first call and the two of this spell (the window closed on them), not the three held.
    assert round(state.prev * (clock.now - start)) + state.count == 3


def test_calls_spread_thin_over_many_processes_are_all_measured(monkeypatch):
    """At a low limit shared by the poller and the workers, each process calls every few seconds: held
    until its next call, every success was stale and none was measured, so the learned rate read a
    fraction of what got through and settled far under the limit."""
    clock = Clock()
    monkeypatch.setattr(learned_budget, "time", clock)
    monkeypatch.setattr(learning, "time", clock)
    store = MemoryLearnedStore()
    name = uuid.uuid4().hex[:24]
    processes = [make_budget(name, store) for _ in range(4)]
    start = clock.now
    for call in range(16):  # 1 call/s in all, each process every 4 s
        processes[call % 4].record(limited=False)
        clock.now += 1.0
    state = LearnedState.decode(store.read(name), ceiling=CEILING)
    assert learning.measured(state, clock.now) == pytest.approx(1.0, rel=0.25)
    assert state.best == pytest.approx(1.0, rel=0.25)
    assert clock.now - start == 16


def test_once_a_portal_limit_is_learned_a_best_effort_call_goes_only_into_an_idle_budget():
    """A bot's cycle is often its portal's only caller: nobody else waits, so 'skipped when another takes
    the slot' never skips, and typing and a reaction before each reply tripled the calls per message (a
    1/s limit per portal left a quarter of the messages unanswered)."""
    budget = make_budget(uuid.uuid4().hex[:24], MemoryLearnedStore(), portal="p1")
    budget.acquire()
    budget.record(limited=True)  # the portals' rate is cut
    assert budget.rates()[1] < CEILING
    budget.acquire()  # the reply just sent
    assert budget.acquire(priority=Priority.BEST_EFFORT) is False  # the typing before the next one
    time.sleep(2.5 / budget.rates()[1])  # its slot, then a full interval, with no call
    assert budget.acquire(priority=Priority.BEST_EFFORT) is True


def test_a_429_is_judged_by_when_its_own_call_was_sent_not_by_the_threads_last_admission(monkeypatch):
    """The poller admits every watch on one thread, and a long-poll answers long after others were admitted
    there: its 429 must count as sent when it was, or an excess already acted upon cuts again."""
    clock = Clock()
    monkeypatch.setattr(learned_budget, "time", clock)
    monkeypatch.setattr(learning, "time", clock)
    store = MemoryLearnedStore()
    name = uuid.uuid4().hex[:24]
    budget = make_budget(name, store)
    budget.acquire()  # watch A
    sent_a = clock.now
    clock.now += 0.1
    budget.acquire()  # watch B
    clock.now += 0.4
    budget.record(limited=True, sent_at=sent_a + 0.1)  # B refused: the one cut
    clock.now += 1.5  # past the hold
    budget.acquire()  # watch C, admitted on the same thread
    clock.now += 0.1
    budget.record(limited=True, sent_at=sent_a)  # A refused, sent before the cut
    assert LearnedState.decode(store.read(name), ceiling=CEILING).rate == pytest.approx(BACKOFF * CEILING)


def test_best_effort_calls_are_skipped_when_short_even_before_any_429(monkeypatch):
    """Demand above the ceiling with no 429 at all (a platform limit above it) is short too: typing and
    reactions waiting like polls cost three calls a message, and messages went unanswered."""
    budget = make_budget(uuid.uuid4().hex[:24], MemoryLearnedStore())
    assert budget.rates() == (CEILING, CEILING)  # nothing learned
    budget.acquire()
    assert budget.acquire(priority=Priority.BEST_EFFORT) is True  # busy, not short: a moment late
    replies = take_the_slot_meanwhile(budget.key_budget, monkeypatch)
    assert budget.acquire(priority=Priority.BEST_EFFORT) is False
    assert replies == [True]


def test_a_spent_poll_share_says_no_rather_than_raising(settings):
    """The poller asked it before every watch and took a raise for a failed watch: under a low learned rate
    its bots were logged as failing and rescheduled out of their turn."""
    settings.VIBE_BUDGET_PER_SECOND = 1
    share = poll_budget_for_key(uuid.uuid4().hex, backend="local")
    assert share.acquire(priority=Priority.POLL) is True
    assert share.acquire(priority=Priority.POLL) is False


def test_learned_rates_and_the_pacers_share_follow_the_key(settings):
    settings.REDIS_URL = run_redis.URL
    settings.VIBE_BUDGET_BACKEND = "redis"
    settings.VIBE_BUDGET_PER_SECOND = CEILING
    key = "vibe_app_" + uuid.uuid4().hex
    run_redis.client(f"vibe:*{key_digest(key)}*")  # the product's own keys, deleted after the test
    assert learned_rates(key).key == CEILING
    budget = make_budget(key_digest(key), learned_store("redis", run_redis.URL))
    budget.acquire()
    budget.record(limited=True)
    assert learned_rates(key).key == pytest.approx(BACKOFF * CEILING)
    assert key not in repr(budget)
    share = poll_budget_for_key(key).budget.per_second  # type: ignore[attr-defined]
    assert share == pytest.approx(BACKOFF * CEILING * conf.poll_budget_share())


# --- against the sandbox -----------------------------------------------------------------------------------
def test_429s_stop_once_the_budget_has_learned_a_low_limit(world):
    world.control.post("/rate-limit", {"key": world.personal_key, "perSecond": 4})
    budget = make_budget(uuid.uuid4().hex[:24], MemoryLearnedStore())
    client = world.client("personal", budget=budget, max_attempts=6, retry_max_wait=2)
    for _ in range(60):
        client.list_bots()
    statuses = [call["status"] for call in world.control.calls(limit=1000) if call["path"].endswith("/bots")]
    first, last = statuses[:-30], statuses[-30:]  # the last 30 calls come after learning
    assert 429 in first  # it did have to learn: the ceiling (9/s) is above the limit
    # Learned: the 429s stop. The additive increase probes above the limit again in time (the bar is at most
    # one 429 a minute), and a loaded machine stretches these ~8 s, so one probe is allowed.
    assert last.count(429) <= 1, statuses
    # The limit admits a burst of 4, so a window can get a little more than 4/s through.
    assert budget.rates()[0] < 4 * 1.1


def test_a_burst_of_429s_that_let_nothing_through_finds_no_limit_and_a_quiet_portal_climbs_back():
    """From an outside trial: ten 429s in ninety seconds on a portal's polls, while next to nothing else went
    out, cut its rate cut after cut to the floor, each cut taken for a limit found: twelve minutes on the
    portal still sent a reply's calls seconds apart (0.59/s). Nothing got through, so nothing was learned:
    the climb aims back where it was, and a portal writing now and then climbs back as time passes."""
    s = state()
    now = 1000.0
    for _ in range(10):
        s = learning.cut(s, now=now, sent_at=now - 0.5, basis=0.0)
        now += 9.0
    assert s.tentative and s.peak >= BACKOFF * CEILING
    for second in range(1, 301):  # a poll every 25 s, a reply's three calls every minute
        count = (second % 25 == 0) + 3 * (second % 60 == 0)
        if count:
            s = learning.add_successes(s, count=count, now=now + second, ceiling=CEILING)
    assert s.rate > 0.5 * CEILING


def test_calls_now_and_then_earn_the_time_since_the_last_but_never_more_than_the_recovery_time():
    cut = learning.cut(state(rate=4.0), now=1000.0, sent_at=999.0, basis=1.0)  # tentative: climbs on past
    assert cut.tentative and cut.rate == pytest.approx(BACKOFF * BACKOFF * 4.0)
    slope = (learning.PLATEAU - BACKOFF) * cut.peak / RECOVER_SECONDS
    once = learning.add_successes(LearnedState(**vars(cut)), count=1, now=1010.0, ceiling=CEILING)
    assert once.rate == pytest.approx(cut.rate + slope * 10.0)  # 10 s since the cut, not one call's 0.4 s
    later = learning.add_successes(LearnedState(**vars(once)), count=1, now=2000.0, ceiling=CEILING)
    assert later.rate == pytest.approx(once.rate + slope * RECOVER_SECONDS)  # not 990 s' worth


def test_a_store_outage_is_one_warning_a_while_not_one_per_call(caplog, monkeypatch):
    """With Redis down every call the poller made logged `could not learn`: ~2,500 WARNINGs over three
    minutes of an on-call trial. One line every OUTAGE_LOG_EVERY_SECONDS says it, counting the rest."""

    class DownStore:
        def __getattr__(self, name):
            def refuse(*args, **kwargs):
                raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

            return refuse

    clock = [5000.0]
    monkeypatch.setattr(learned_budget.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(learned_budget, "_learn_failures", OutageLog())
    budget = make_budget(f"k-{uuid.uuid4().hex[:6]}", DownStore())
    with caplog.at_level("WARNING", logger="botcore.vibe.learned_budget"):
        for _ in range(20):
            budget.record(limited=False)
            clock[0] += 1.5
        clock[0] += OUTAGE_LOG_EVERY_SECONDS
        budget.record(limited=False)
    lines = [r.getMessage() for r in caplog.records if "could not learn" in r.getMessage()]
    assert len(lines) == 2
    assert "ConnectionError" in lines[0]
    assert "19 more since" in lines[1]
