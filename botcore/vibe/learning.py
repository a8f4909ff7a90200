"""The request rate learned from the platform's 429s: cut on a refusal, raised slowly while calls succeed.

The platform's real limit is unknown (10/s per key is hearsay, imbot.v2 says 2/s per application, and it
may count per portal), and a key's limit is a field its owner sets. So VIBE_BUDGET_PER_SECOND is only a
ceiling, and the rate the budget paces to is learned, AIMD-style (the way TCP finds a link's capacity):
- a 429 cuts the rate to BACKOFF times what was getting through when it came: the accepted rate of the
  last WINDOW seconds, or the scope's sustained best of the last BEST_MEMORY seconds if that is higher
  (a window full of refusals under-reads the limit), never deeper than BACKOFF squared times the rate in
  force. The sustained best is read over two windows in a row: the platform lets a burst through after a
  pause (the sandbox a second's worth), which makes one window read up to a fifth over the limit, and a
  plateau set from one window was refused again and again on its way down;
- accepted calls raise it a little, so that it climbs back to PLATEAU times the rate of the last 429 in
  about RECOVER_SECONDS (PLATEAU squared where that 429 came CLIMBED_AFTER or more into the climb the cut
  before set: that climb's plateau was over the limit), whether demand saturates the rate or calls come
  now and then (they earn the time since the last one told, up to RECOVER_SECONDS, or the time they take
  at the rate, whichever is more), and stays there: probing above it again only PROBE_AFTER seconds
  after that 429 (a limit found stays found, and the key's owner may still raise it), so a limit costs
  one 429 per probe, not one every minute and a half;
- except after a deep descent, a storm's: when what got through before the cuts (`before`, their best
  evidence) is more than a step over the last 429, the first probe comes FIRST_PROBE_AFTER seconds after
  it, and each probe the limit refuses short of a step past that 429 doubles the wait for the next, up to
  PROBE_AFTER (a limit really lowered costs a 429 after 1, 2 and 4 minutes, then one every five, where it
  cost one every five from the start; a soak's storm held replies 2.5 s apart for the five minutes);
  probe_wait() decides;
- past the plateau, the climb's excess over it doubles every PROBE_DOUBLING seconds on top of the
  additive pace: near the plateau that is the additive pace (a limit still there refuses the probe once),
  and a limit that has gone (a storm of 429s over, a limit raised) is found again in minutes: from a
  plateau of 1.5/s to 90 % of a 9/s ceiling in about a minute and a half of probing, where the additive
  pace took twelve (`benchmarks/rate_limits.py --storm`). A probe that reaches the ceiling forgets the
  plateau;
- a probe a step past the last 429 without a refusal after a deep descent shows the storm is over: the
  climb doubles back to the rate before it every RETURN_DOUBLING seconds (what got through then is known
  to go through; a limit that came back only part of the way refuses the return once, a step over it at
  most), then probes on from there as above;
- a 429 while next to nothing got through (under FLOOR: refusals of a platform busy for other reasons) is
  no limit found: the cut keeps the peak and pace the climb aims back near, and is tentative (below);
- except after a cut with no evidence of its own: at the end of a descent every window in sight holds
  refusals and the waits they cost, the accepted rate reads far under the limit (0.70/s for a limit of
  1/s per portal), and the cut falls back on its two-step floor (BACKOFF times the refused rate). A
  plateau set from that sat a fifth under the limit until PROBE_AFTER. Such a cut is marked tentative:
  the climb after it goes on past the plateau, at the same additive pace, to the next 429, and that 429,
  measured over windows the climb kept clean, sets the plateau (without the step down for a 429 well
  into a climb: there was no plateau to over-read). A limit found this way costs one 429 more, once;
- past the plateau, one caller at a time climbs (the portals' rate: one portal, the prober; the others
  hold at the plateau): every portal sending at the one rate they share reached the limit together, and a
  probe cost a 429 per portal within the same second (five for five portals). The prober is the first
  portal whose calls would raise the rate past the plateau, until a cut, or until it has been quiet for
  PROBER_LAPSE seconds (another portal then takes over). Once the prober is a step (1 / BACKOFF) past the
  rate of the last 429, that limit has moved, and the others follow a step under the prober;
- one cut per hold: a 429 for a call sent before the last cut of either rate, or within HOLD_SECONDS of
  it, is the excess already acted upon, so a burst of refusals costs one step, not a cascade of them
  before the lower rate has had time to show.

Two rates are learned per key, because the limit may count per key or per key and portal:
- "key": every call of the key, all portals together;
- "portals": what each portal of the key may send on its own, paced separately for each portal with no
  burst (a limit of 1/s per portal refuses two calls of one portal a little under a second apart). One
  value serves every portal (the limit per portal is the same field for all of them), so a portal seen
  for the first time starts at what the others have learned.
A 429 in a portal cuts one of the two (blame()). Where demand is spread over portals the two readings
look alike (five portals refused at 1/s each, or a key refused at 5/s), so the rule goes by what each
rate has been seen to let through, which is a floor under its limit:
- the portals' rate first, as long as it is above BACKOFF times the best any single portal got through
  (cutting it is then nearly free where the limit is the key's: no portal was sending that fast);
- the key's once the portals' rate is down there: a limit per portal would not refuse a portal below
  the rate a portal got through just before, a limit on the key would;
- the key's, too, once it has been cut and climbed past what it sustained lately, when the refused
  portal sent well under the portals' pace (key_outgrew).
A 429 outside any portal cuts the key (a personal key acts in one portal only and is learned as a key
alone). Cutting the key on each portal's refusal, as this module once did, spiralled it down to a
fraction of the portals' summed limit. The price of going portals first: where the limit is the key's
and demand is spread over many portals, the portals' rate settles near one portal's share, and a portal
whose demand later grows alone climbs back from there at the additive pace.

The state is a short string per scope, in Redis (read-modify-write under WATCH) or in the budget's
database table (budget_store), updated on a 429 and, for successes, at most once a FLUSH_SECONDS per
process (a process calling less often tells each success at once).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

BACKOFF = 0.8
PLATEAU = 0.95  # of the rate of the last 429: where the climb after a cut stops
RECOVER_SECONDS = 30.0  # from BACKOFF to PLATEAU times that rate while demand saturates the budget
PROBE_AFTER = 300.0  # seconds after a cut before the rate climbs past the plateau again (the longest wait)
# After a deep descent (a storm's: the cuts took the rate more than a step under what got through before
# them) the first probe comes this long after the last cut, and each probe the limit refuses where it stood
# doubles the wait before the next, up to PROBE_AFTER.
FIRST_PROBE_AFTER = 60.0
PROBE_DOUBLING = RECOVER_SECONDS  # seconds in which a probe's excess over the plateau doubles
RETURN_DOUBLING = 10.0  # seconds in which the climb back to the rate before a storm doubles, once it is over
STOOD_MAX = 8  # probes refused in a row counted (FIRST_PROBE_AFTER doubled that often is past PROBE_AFTER)
FLOOR = 0.2  # requests/s: never learn a rate so low that a bot stops answering altogether
WINDOW = 5.0  # seconds over which an accepted rate is measured
FLUSH_SECONDS = 1.0
HOLD_SECONDS = 1.0  # the least time between two cuts
# A 429 this long after the last cut, or longer, comes well into the climb back (not in the descent that
# finds a limit, cut after cut): that climb's plateau is too high. Time, not the rate: the portals' rate
# climbs with every portal's calls, several times faster than the key's.
CLIMBED_AFTER = RECOVER_SECONDS / 2
BEST_MEMORY = 120.0  # seconds a best accepted rate is remembered as evidence of a limit
PROBER_LAPSE = 5.0  # seconds without a success from the prober before another caller probes in its stead
_FORMAT = "v7"  # the encoding's version: a state of another version is forgotten (learning restarts)


class Scope(enum.Enum):
    KEY = "key"
    PORTALS = "portals"


@dataclasses.dataclass
class LearnedState:
    """One scope's learned rate and the measurements it is cut from. Times are wall-clock seconds."""

    rate: float
    peak: float = 0.0  # the rate the last cut started from: the climb aims back near it
    cut_at: float = 0.0
    hold_until: float = 0.0  # no further cut before this
    count: int = 0  # calls accepted in the current window
    since: float = 0.0  # the current window's start
    prev: float = 0.0  # the previous window's accepted rate
    best: float = 0.0  # the highest accepted rate of a whole window, within BEST_MEMORY (blame's evidence)
    best_at: float = 0.0
    sustained: float = 0.0  # the highest of two whole windows in a row, within BEST_MEMORY (a cut's floor)
    sustained_at: float = 0.0
    tentative: bool = False  # the last cut had no evidence of its own: the climb after it sets no plateau
    prober: float = 0.0  # the caller (caller_id) climbing past the plateau, 0 for none
    prober_at: float = 0.0  # its last success
    raised_at: float = 0.0  # the last success told (raise_rate): the climb is credited the time since
    before: float = 0.0  # what got through before the cuts (their best evidence): a storm's climb returns
    stood: int = 0  # probes in a row the limit refused where the last 429 was: each doubles the next wait

    def encode(self) -> str:
        return ",".join([_FORMAT, *(f"{value:.4f}" for value in dataclasses.astuple(self))])

    @classmethod
    def decode(cls, text: str | bytes | None, *, ceiling: float) -> LearnedState:
        if isinstance(text, bytes):
            text = text.decode()
        fields = (text or "").split(",")
        try:
            if fields[0] != _FORMAT or len(fields) != 1 + len(dataclasses.fields(cls)):
                raise ValueError("another version")
            values: dict[str, Any] = {
                field.name: float(value)
                for field, value in zip(dataclasses.fields(cls), fields[1:], strict=True)
            }
            integers = {"count": int(values["count"]), "stood": int(values["stood"])}
            state = cls(**values | integers | {"tentative": bool(values["tentative"])})
        except (ValueError, TypeError, IndexError):
            return cls(rate=ceiling, since=time.time())
        state.rate = min(state.rate, ceiling)  # a lowered setting applies at once
        return state


def measured(state: LearnedState, now: float) -> float | None:
    """The accepted rate of the last WINDOW seconds (the current window and the share of the previous one
    it overlaps), or None before a first window has been seen."""
    elapsed = now - state.since
    if elapsed >= WINDOW:
        return state.count / elapsed
    if state.prev:
        return (state.count + state.prev * (WINDOW - elapsed)) / WINDOW
    return state.count / elapsed if elapsed >= 1.0 and state.count >= 2 else None


def note_best(state: LearnedState, rate: float, *, now: float, pair: float | None = None) -> LearnedState:
    """Keep `rate` (a window's) as the best and `pair` (two windows' in a row) as the sustained best, each
    if it is the highest seen or the one it would replace is older than BEST_MEMORY."""
    if rate >= state.best or now - state.best_at > BEST_MEMORY:
        state.best, state.best_at = rate, now
    if pair is not None and (pair >= state.sustained or now - state.sustained_at > BEST_MEMORY):
        state.sustained, state.sustained_at = pair, now
    return state


def count_accepted(
    state: LearnedState, *, count: int, now: float, first_at: float | None = None
) -> LearnedState:
    """Count `count` calls accepted from `first_at` to `now` in the measuring window (the share of them
    before the window's start belongs to a window already closed, and is left out); when the window
    closes, its rate may be the best, and with the previous one's the sustained best (pair_rate)."""
    if first_at is not None and first_at < state.since < now:
        count = round(count * (now - state.since) / (now - first_at))
    state.count += count
    elapsed = now - state.since
    if elapsed >= WINDOW:
        pair = pair_rate(state.prev, state.count / elapsed)
        state.prev = state.count / elapsed
        note_best(state, state.prev, now=now, pair=pair)
        state.count, state.since = 0, now
    return state


def pair_rate(previous: float, latest: float) -> float | None:
    """The accepted rate of two windows in a row, what a sustained best is made of; None after a first
    window (which starts with whatever burst the platform allows after a quiet spell)."""
    return (previous + latest) / 2 if previous else None


def raise_rate(
    state: LearnedState, *, count: int, now: float, ceiling: float, caller: float = 0.0
) -> LearnedState:
    """Raise the rate for `count` accepted calls of `caller` (caller_id; 0: the scope's only caller): to the
    plateau, then past it only once a probe is due (probe_due), by one caller; a step past the last 429
    after a storm, back to the rate before it, doubling."""
    if not state.peak:
        state.rate = ceiling  # never refused: nothing to climb back to
        return state
    slope = (PLATEAU - BACKOFF) * max(state.peak, FLOOR) / RECOVER_SECONDS  # requests/s gained per second
    probing = probe_due(state, now)
    top = ceiling if probing else max(state.rate, PLATEAU * state.peak)
    # Past the plateau, the farther the climb has gone without a 429, the less the last one says about the
    # limit (the platform was busy, the key's owner raised it): the excess doubles every PROBE_DOUBLING
    # seconds on top of the additive pace. Near the plateau it is that pace, so a limit that stayed where
    # it was still costs one 429 a probe; one that moved is found in minutes, not the half-hour the
    # additive pace took from a low plateau (1.18/s back to a 9/s ceiling after a minute of 429s).
    slope += max(0.0, state.rate - PLATEAU * state.peak) * math.log(2) / PROBE_DOUBLING
    # The seconds of climb these calls earn: as many as they take at the rate (demand saturating it), or the
    # time since the last success was told where demand is thinner, up to RECOVER_SECONDS. Counted by calls
    # alone, a portal writing now and then climbed back at a fraction of the pace (a poll every 25 s earned
    # 5 s at the floor): an hour after a burst of 429s it still sent a reply's calls seconds apart.
    since_last = min(RECOVER_SECONDS, now - max(state.raised_at, state.cut_at))
    earned = max(count / max(state.rate, FLOOR), since_last)
    raised = min(ceiling, top, state.rate + slope * earned)
    if probing and state.peak / BACKOFF <= state.rate < state.before:
        # A step past the last 429 after a storm and no refusal: the storm is over (a limit that stood would
        # have refused the probe on its way here). What got through before it is known to go through, so the
        # climb doubles back there every RETURN_DOUBLING seconds (a doubling at most per success told),
        # where the probe's pace took a minute and a half more from here to the ceiling. A limit that came
        # back only part of the way refuses the return once, a step over it at most.
        doubled = state.rate * 2 ** (min(earned, RETURN_DOUBLING) / RETURN_DOUBLING)
        raised = max(raised, min(ceiling, state.before, doubled))
    if caller and raised > PLATEAU * state.peak:
        if another_probes(state, caller=caller, now=now):
            return state  # this one holds at the plateau (pace); the time since is the prober's to earn
        state.prober, state.prober_at = caller, now
    state.rate, state.raised_at = raised, now
    if raised >= ceiling:
        # Up to the ceiling without a 429: no limit under it is known any more, so no plateau holds anyone.
        state.peak, state.tentative, state.prober, state.before, state.stood = 0.0, False, 0.0, 0.0, 0
    return state


def probe_due(state: LearnedState, now: float) -> bool:
    """The climb may go past the plateau: at once after a tentative cut, else probe_wait() after the cut."""
    return state.tentative or now - state.cut_at >= probe_wait(state)


def probe_wait(state: LearnedState) -> float:
    """Seconds after a cut before the climb probes past the plateau again.

    PROBE_AFTER where the last 429 came near what got through before it: the limit found is where the
    budget had been sending (the steady limit's sawtooth), and a probe sooner would only be refused (a limit
    found stays found; its owner may still raise it). After a deep descent (what got through before the
    cuts was more than a step over the last 429: a storm of 429s, a busy platform) the limit found is more
    likely a passing one, and every minute held at its plateau is a minute of replies seconds apart once
    the platform has recovered (a soak's storm: 389 s back to 90 % of the ceiling, five minutes of it this
    wait): FIRST_PROBE_AFTER, doubled for each probe the limit refused where it stood (a limit really
    lowered costs a 429 after 1, 2 and 4 minutes, then one every PROBE_AFTER as before)."""
    if state.before <= state.peak / BACKOFF:
        return PROBE_AFTER
    return min(PROBE_AFTER, FIRST_PROBE_AFTER * 2.0**state.stood)


def pace(state: LearnedState, *, caller: float, now: float) -> float:
    """The rate `caller` sends at: the scope's, but only the prober (or a caller taking over from a prober
    that went quiet) goes past the plateau."""
    plateau = PLATEAU * state.peak
    if not state.peak or state.rate <= plateau or not another_probes(state, caller=caller, now=now):
        return state.rate
    # A probe a step past the last 429's rate without a refusal shows the limit has moved: the others follow
    # a step under the prober, not held at a plateau the limit has left behind (after a storm of 429s, at a
    # fifth of the ceiling while the prober alone climbed to it); a step under, so that the 429 ending the
    # probe is still the prober's alone.
    return BACKOFF * state.rate if BACKOFF * state.rate >= state.peak else plateau


def another_probes(state: LearnedState, *, caller: float, now: float) -> bool:
    """A caller other than `caller` is climbing past the plateau, and has not gone quiet (PROBER_LAPSE)."""
    return state.prober not in (0.0, caller) and now - state.prober_at < PROBER_LAPSE


def caller_id(name: str) -> float:
    """A short number naming a caller (a portal) in the shared state; never 0, exact in the encoding."""
    return float(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=3).digest(), "big") + 1)


def add_successes(
    state: LearnedState, *, count: int, now: float, ceiling: float, first_at: float | None = None
) -> LearnedState:
    """Both of the above, for a scope whose own calls are counted (the key)."""
    counted = count_accepted(state, count=count, now=now, first_at=first_at)
    return raise_rate(counted, count=count, now=now, ceiling=ceiling)


def blame(
    *,
    key: LearnedState,
    portals: LearnedState | None,
    now: float,
    sent_at: float,
    portal_rate: float | None = None,
) -> Scope | None:
    """Which rate a 429 for a call sent at `sent_at` cuts (module doc); None: the excess is already met.

    `portals` is the portals' state (its best: the best a single portal got through), None outside a
    portal; `portal_rate` the refused portal's own accepted rate lately, where measured."""
    scopes = [key] if portals is None else [key, portals]
    if any(sent_at < scope.cut_at or now < scope.hold_until for scope in scopes):
        return None
    if portals is None or portals.rate <= max(FLOOR, BACKOFF * portals.best):
        return Scope.KEY
    if key_outgrew(key, now) and portal_rate is not None and portal_rate < BACKOFF * portals.rate:
        return Scope.KEY
    return Scope.PORTALS


def key_outgrew(key: LearnedState, now: float) -> bool:
    """The key's rate, once cut (its limit is being learned), has climbed past the most it has sustained
    lately. A 429 then, for a portal well under its own pace, is the key's: a limit per portal refuses a
    portal near its pace, and the portals' rate cut in its stead (portals first) cost a 429 of its own."""
    fresh = key.sustained > 0 and now - key.sustained_at <= BEST_MEMORY
    return key.peak > 0 and fresh and key.rate > key.sustained


def cut(state: LearnedState, *, now: float, sent_at: float, basis: float | None) -> LearnedState:
    """Cut to BACKOFF times what got through: `basis` (the accepted rate), or the sustained best, or the rate.

    A 429 for a call sent before the last cut, or one within the hold, cuts nothing (checked again here:
    two processes may both have been told to cut)."""
    if sent_at < state.cut_at or now < state.hold_until:
        return state
    # A window full of refusals under-reads the limit, and the measure lags a rising demand: the scope's
    # sustained best is a floor under the limit, and no cut goes more than two steps below the rate in force.
    # The climb after a tentative cut, refused past where a plateau would have stopped it, has found the
    # limit: its windows, kept clean and after no pause, are evidence, its best whole one too (the sustained
    # best lags a climb as fast as the portals' rate: 0.86/s for a refusal at 0.96/s), but not a best from
    # before that cut (the first window of a load, a burst let through after a pause, read 2.38/s for a
    # limit of 2/s: a plateau over the limit, refused every 20 s); and this cut is not tentative again
    # (one probe, not a cycle).
    probed = state.tentative and state.rate > PLATEAU * state.peak
    climb_best = state.best if probed and state.best_at > state.cut_at else 0.0
    evidence = None if basis is None else max(basis, state.sustained, climb_best)
    two_steps = BACKOFF * state.rate
    start = state.rate if evidence is None else min(state.rate, max(evidence, two_steps))
    # Nothing got through to speak of (under the floor, which no learned rate goes below): the 429 says
    # nothing of a rate the scope could keep to (refusals of a platform busy for other reasons, a burst of
    # them). Such a cut is no limit found: it keeps the peak the climb aims back near and its pace, and the
    # climb goes on to the next 429. Cut after cut set the peak from them, a burst of ten spurious 429s left
    # a portal at the floor, climbing back at a pace set by the floor: 0.8/s an hour later.
    if evidence is not None and evidence < FLOOR:
        state.tentative = True
        state.prober = state.prober_at = 0.0
        state.peak = max(state.peak, start)
        state.rate = max(FLOOR, BACKOFF * start)
        state.cut_at = now
        state.hold_until = now + HOLD_SECONDS
        return state
    # Refused well into the climb back to the plateau the last cut set (not in a descent, not probing past
    # it): that plateau is over the limit (its evidence over-read it: a burst let through after a pause),
    # so this climb stops a step lower. Aimed at PLATEAU times the refused rate, it was refused again.
    climbed = (
        state.peak > 0
        and not state.tentative
        and now - state.cut_at >= CLIMBED_AFTER
        and not probe_due(state, now)
    )
    # A probe refused past the plateau but short of a step past the last 429: that limit stands, and the
    # next probe waits twice as long (probe_wait). The 429 ending the climb after a tentative cut is the rest
    # of the probe (or descent) that cut ended, and counts as nothing more; any other cut found a limit of its
    # own, not yet probed.
    short_of_a_step = PLATEAU * state.peak < state.rate < state.peak / BACKOFF
    if not probed:
        stood = state.peak > 0 and not state.tentative and probe_due(state, now) and short_of_a_step
        state.stood = min(STOOD_MAX, state.stood + 1) if stood else 0
    state.before = max(state.before, evidence or 0.0)
    state.tentative = evidence is not None and evidence < two_steps and not probed
    state.prober = state.prober_at = 0.0
    state.peak = PLATEAU * start if climbed else start
    state.rate = max(FLOOR, BACKOFF * start)
    state.cut_at = now
    state.hold_until = now + HOLD_SECONDS
    return state


class LearnedStore(Protocol):
    def read(self, name: str) -> str | None: ...

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        """Replace the text under `name` by change(old text) atomically; return the new text."""


class MemoryLearnedStore:
    """This process only: benchmarks, scripts and tests."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def read(self, name: str) -> str | None:
        return self._values.get(name)

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        with self._lock:
            self._values[name] = value = change(self._values.get(name))
        return value


class RedisLearnedStore:
    """One string per scope; concurrent writers retry under WATCH (redis-py's transaction helper)."""

    def __init__(self, client: Any, *, prefix: str = "vibe:learn:") -> None:
        self.client = client
        self.prefix = prefix

    def read(self, name: str) -> str | None:
        value = self.client.get(self.prefix + name)
        return value.decode() if isinstance(value, bytes) else value

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        key = self.prefix + name
        result: list[str] = []

        def step(pipe: Any) -> None:
            old = pipe.get(key)
            new = change(old.decode() if isinstance(old, bytes) else old)
            pipe.multi()
            pipe.set(key, new, ex=86400)  # an unused key's learning lapses after a day
            result[:] = [new]

        self.client.transaction(step, key)
        return result[0]


class DatabaseLearnedStore:
    """A row per scope in the budget's own table (budget_store), prefixed "learn:"."""

    def __init__(self, *, alias: str = "default") -> None:
        self.alias = alias

    def read(self, name: str) -> str | None:
        from botcore.vibe.budget_store import read_text

        return read_text(f"learn:{name}", alias=self.alias)

    def update(self, name: str, change: Callable[[str | None], str]) -> str:
        from botcore.vibe.budget_store import update_text

        return update_text(f"learn:{name}", change, alias=self.alias)
