"""SideEffectSkill: a skill that logs every side effect it performed, keyed by event, for reliability checks.

Enable it with BOTCORE_SKILLS=botcore.skills.testing.instrumented.SideEffectSkill and point
VIBE_SIDE_EFFECT_LOG (a setting or an environment variable) at a file. For each user message it records
"handle" when handle() starts, then performs a reaction, a reply and a conversation-state write,
recording each one only after it succeeded. A line is one JSON object:

    {"key": "<portal member_id>:<vibe bot id>:<event id>", "effect": "reply", "pid": 1234}

Several processes (qcluster workers) append to the same file: each line is one write() on a descriptor
opened with O_APPEND, so lines never interleave. `read_side_effects` counts the lines back, and
`summarize_side_effects` says which keys were handled and which effects happened more than once, which is
what a test or the chaos benchmark asserts on (the platform dedupes repeated posts by templateId, so
counting messages on the platform would hide a repeat).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from botcore.conf import read_setting
from botcore.skills.base import Skill, SkillContext
from botcore.skills.events import SkillEvent
from botcore.vibe.events import EventType, MessageAddEvent

HANDLE = "handle"
SIDE_EFFECTS = ("reaction", "reply", "state")  # what the skill does, in this order


def side_effect_log_path() -> str | None:
    """Where to append; the setting wins over the environment, and neither means no log."""
    return read_setting("VIBE_SIDE_EFFECT_LOG", None) or os.environ.get("VIBE_SIDE_EFFECT_LOG") or None


def side_effect_key(*, portal_member_id: str, vibe_bot_id: int | None, event_id: int) -> str:
    return f"{portal_member_id}:{vibe_bot_id}:{event_id}"


def append_side_effect(*, path: str | os.PathLike[str], key: str, effect: str) -> None:
    """Append one line with one write(): O_APPEND makes concurrent writers' lines land whole, in turn."""
    line = json.dumps({"key": key, "effect": effect, "pid": os.getpid()}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class SideEffectSkill(Skill):
    """Every user message: handle, react, reply, write state; each logged after it succeeded."""

    name = "sideeffects"
    event_types = frozenset({EventType.MESSAGE_ADD})
    title = {"en": "Side effects", "ru": "Побочные эффекты"}
    summary = {"en": "Logs every action it performs (reliability tests)", "ru": "Записывает каждое действие"}

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        if not isinstance(event, MessageAddEvent):
            return
        key = side_effect_key(
            portal_member_id=ctx.portal_member_id,
            # The platform bot the event came to (a moved bot's drained events keep theirs).
            vibe_bot_id=event.bot.id if event.bot is not None else getattr(ctx, "vibe_bot_id", None),
            event_id=event.event_id,
        )
        path = side_effect_log_path()

        def record(effect: str, kind: str | None = None) -> None:
            # A live context replays what an earlier attempt at this event already did (ctx.effects says
            # which): only what was performed now is written down. A RecordingContext performs every call.
            effects = getattr(ctx, "effects", None)
            if kind is not None and effects is not None:
                done = [performed for name, performed in effects if name == kind]
                if not done or not done[-1]:
                    return
            if path:
                append_side_effect(path=path, key=key, effect=effect)

        record(HANDLE)
        if ctx.react("like"):
            record("reaction", "reaction")
        # The text is not echoed: a poison event's text (U+0000) must not make the reply itself fail.
        ctx.reply(f"seen event {event.event_id}")
        record("reply", "post")
        with ctx.state.update() as data:
            data["messages"] = int(data.get("messages", 0)) + 1
            data["last_event_id"] = event.event_id
        record("state", "state")  # after the block: the write is committed only when it ends


def read_side_effects(path: str | os.PathLike[str]) -> Counter[tuple[str, str]]:
    """How often each (key, effect) was recorded; a torn line is skipped, a missing file counts nothing."""
    counts: Counter[tuple[str, str]] = Counter()
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return counts
    for line in text.splitlines():
        try:
            item = json.loads(line)
            counts[(str(item["key"]), str(item["effect"]))] += 1
        except (ValueError, KeyError, TypeError):
            continue
    return counts


@dataclass(frozen=True)
class SideEffectSummary:
    handled: frozenset[str]  # keys whose handling started ("handle") or that got a reply
    replied: frozenset[str]
    repeated: Counter[tuple[str, str]]  # side effects (not "handle") performed more than once: their count
    rehandled: Counter[str]  # keys whose handle() started more than once, with the count


def summarize_side_effects(counts: Counter[tuple[str, str]]) -> SideEffectSummary:
    handled = {key for (key, effect) in counts if effect in (HANDLE, "reply")}
    replied = {key for (key, effect) in counts if effect == "reply"}
    repeated = Counter(
        {(key, effect): n for (key, effect), n in counts.items() if effect in SIDE_EFFECTS and n > 1}
    )
    rehandled = Counter({key: n for (key, effect), n in counts.items() if effect == HANDLE and n > 1})
    return SideEffectSummary(
        handled=frozenset(handled), replied=frozenset(replied), repeated=repeated, rehandled=rehandled
    )
