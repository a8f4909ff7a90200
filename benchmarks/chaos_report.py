"""The chaos benchmark's report: what was injected, what was lost or repeated, and the likeliest reasons why.

Lost and repeated are read from the side-effect log the instrumented skill wrote where each effect
happened; the reasons from the event log and the bots' rows in the database, and from which faults were
injected in the seconds after a lost or repeated message was sent.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.chaos_faults import FaultInjector
from benchmarks.chaos_stack import Stack

WINDOW = 30.0  # seconds after a message in which a fault may have touched its handling


@dataclass(frozen=True)
class Sent:
    key: str  # "<member id>:<vibe bot id>:<event id>", as the skill logs it
    bot_id: int
    event_id: int
    at: float  # seconds since the chaos started (0 for the warm-up)
    command: str = ""  # a command's name ("help"); empty for a plain message, answered by the skill's reply
    message_id: int = 0  # the user's message on the platform: a command's answer names it (answerTo)


def _why_lost(items: list[Sent], *, poisoned_bots: set[int]) -> Counter:
    """For each lost message: failed (with the error's start), stored but never handled, or never stored."""
    from botcore.models import EventLogEntry

    reasons: Counter = Counter()
    for item in items:
        entry = (
            EventLogEntry.objects.filter(bot__vibe_bot_id=item.bot_id, vibe_event_id=item.event_id)
            .values("status", "error", "attempts")
            .first()
        )
        if entry is None:
            behind = " (its bot was sent a poison event)" if item.bot_id in poisoned_bots else ""
            reasons[f"never stored in the event log{behind}"] += 1
        elif entry["status"] == EventLogEntry.Status.FAILED:
            reasons[f"failed after {entry['attempts']} attempt(s): {_gist(entry['error'])}"] += 1
        else:  # a handled event's note: a post left in doubt, say (botcore.services.executor)
            note = f": {_gist(entry['error'])}" if entry["error"] else ""
            reasons[f"stored, status {entry['status']}{note}"] += 1
    return reasons


def _gist(error: str | None) -> str:
    """An error's first line with its ids stripped, so that one cause on many messages is one line."""
    return re.sub(r"\d+", "N", (error or "").split("\n")[0])[:90]


def failed_events(items: list[Sent]) -> Counter:
    """The sent messages whose events the event log holds as failed, by the error's gist: the skill never
    finished their handling (its state write, say), answered or not (a reply can land before its attempt
    dies), which `lost` alone does not show."""
    from botcore.models import EventLogEntry

    wanted = {(item.bot_id, item.event_id) for item in items}
    rows = EventLogEntry.objects.filter(status=EventLogEntry.Status.FAILED).values_list(
        "bot__vibe_bot_id", "vibe_event_id", "error"
    )
    return Counter(_gist(error) for bot_id, event_id, error in rows if (bot_id, event_id) in wanted)


def _bots_in_trouble(control: httpx.Client) -> list[str]:
    from botcore.models import Bot

    pending = {b["id"]: b["pendingEvents"] for b in control.get("/_sandbox/bots").json()["data"]["bots"]}
    lines = []
    for bot in Bot.objects.order_by("pk"):
        queued = pending.get(bot.vibe_bot_id, 0)
        if queued or bot.status != Bot.Status.ACTIVE:
            why = bot.broken_reason or bot.last_error
            reason = why.splitlines()[0][:80] if why else ""
            lines.append(
                f"  bot {bot.vibe_bot_id}: {bot.status}, offset {bot.event_offset}, {queued} events "
                f"still queued on the platform{'; ' + reason if reason else ''}"
            )
    return lines


def print_report(
    args,
    *,
    injector: FaultInjector,
    stack: Stack,
    sent: list[Sent],
    control: httpx.Client,
    log_path: Path,
    drained: float,
    keep_dir: Path | None = None,
) -> None:
    from botcore.skills.testing.instrumented import SIDE_EFFECTS, read_side_effects, summarize_side_effects

    commands = [item for item in sent if item.command]
    sent = [item for item in sent if not item.command]  # the plain messages: the figures of every run before
    summary = summarize_side_effects(read_side_effects(log_path))
    on_platform = replies_on_the_platform(control, sent)
    # A reply the skill's log does not hold may still be in the chat: a post left in doubt, not sent again.
    unlogged = [item for item in sent if item.key not in summary.replied]
    lost = [item for item in unlogged if not on_platform[item.key]]
    never_handled = [item for item in lost if item.key not in summary.handled]
    by_key = {item.key: item for item in sent}

    print(f"\nfaults injected ({sum(injector.counts.values())}):")
    for kind, count in sorted(injector.counts.items()):
        print(f"  {kind:24} {count:5d}")
    statuses = control.get("/_sandbox/stats").json()["data"]["byStatus"]
    print("  the platform answered: " + ", ".join(f"{code} x{n}" for code, n in sorted(statuses.items())))
    exits = {name: app.exits for name, app in stack.apps.items() if app.exits}
    if exits:
        print(f"  processes that died by themselves (restarted): {exits}")

    poison_handled = sum(1 for key in injector.poison_keys if key in summary.handled)
    print(
        f"\nuser messages sent {len(sent)}, answered {len(sent) - len(lost)}, lost {len(lost)} "
        f"(never handled {len(never_handled)}, handled but never answered "
        f"{len(lost) - len(never_handled)}); "
        f"drained in {drained:.0f}s of at most {args.drain}s"
    )
    print(
        f"poison events {len(injector.poison_keys)}, handled by the skill {poison_handled} "
        "(not counted as lost)"
    )
    if lost:
        print("why the lost were lost:")
        poisoned = {int(key.split(":")[1]) for key in injector.poison_keys}
        for reason, count in _why_lost(lost, poisoned_bots=poisoned).most_common(8):
            print(f"  {count:5d}  {reason}")
        print(f"  faults in the {WINDOW:g}s after a lost message was sent: {_near(injector, lost)}")

    print(
        f"\nside effects repeated: {len(summary.repeated)} "
        f"({sum(summary.repeated.values()) - len(summary.repeated)} extra performances); "
        f"events handled more than once: {len(summary.rehandled)}"
    )
    for effect in SIDE_EFFECTS:
        pairs = [pair for pair in summary.repeated if pair[1] == effect]
        if pairs:
            most = max(summary.repeated[pair] for pair in pairs)
            print(f"  {effect:9} repeated on {len(pairs)} events, at most {most} times")
    repeated_sent = [by_key[key] for key in {key for key, _ in summary.repeated} if key in by_key]
    if repeated_sent:
        print(
            f"  faults in the {WINDOW:g}s after a repeated message was sent: {_near(injector, repeated_sent)}"
        )

    doubled = [key for key, count in on_platform.items() if count > 1]
    print(
        f"replies the platform holds more than once: {len(doubled)}"
        + (f" (events {doubled[:10]})" if doubled else "")
    )
    # Counted answered by the skill's log though the platform holds no reply: a send whose answer was read as
    # made when it was not (an answer whose data was a list was, before it was read as a post in doubt).
    logged_unposted = [item for item in sent if item.key in summary.replied and not on_platform[item.key]]
    if logged_unposted:
        print(
            f"replies the skill's log holds that the platform never posted: {len(logged_unposted)} "
            f"(counted answered above; events {[item.event_id for item in logged_unposted][:10]})"
        )
    in_doubt = len(unlogged) - len(lost)
    if in_doubt:
        print(
            f"replies the platform holds that the skill's log lacks: {in_doubt} (a post left in doubt and "
            "not sent again, or its worker killed between the post and the log's line)"
        )
    failed = failed_events(sent)
    print(f"user messages whose event failed in the event log: {sum(failed.values())}")
    for reason, count in failed.most_common(8):
        print(f"  {count:5d}  {reason}")
    commands_lost, commands_repeated = _print_commands(injector, control, commands, keep_dir=keep_dir)

    trouble = _bots_in_trouble(control)
    if trouble:
        print("bots not active or with events left on the platform:")
        print("\n".join(trouble))
    repeated = len(summary.repeated) + len(doubled)
    print(f"commands lost={commands_lost} repeated={commands_repeated}")
    print(f"lost={len(lost)} repeated={repeated} faults={sum(injector.counts.values())}")


def _print_commands(
    injector: FaultInjector, control: httpx.Client, commands: list[Sent], *, keep_dir: Path | None = None
) -> tuple[int, int]:
    """The commands' figures, apart from the messages': sent, answered once, lost (no answer posted) and
    repeated (an answer posted more than once); returns lost and repeated. With `keep_dir`, what the event
    log, the action ledger and the platform's calls hold of each lost command goes to lost-commands.json."""
    answers = command_answers_on_the_platform(control, commands)
    lost = [item for item in commands if not answers[item.key]]
    repeated = [item for item in commands if answers[item.key] > 1]
    by_name = Counter(item.command for item in commands)
    print(
        f"\ncommands sent {len(commands)} ("
        + ", ".join(f"/{name} {count}" for name, count in sorted(by_name.items()))
        + f"), answered {len(commands) - len(lost)}, lost {len(lost)}, "
        f"answered more than once {len(repeated)}"
    )
    if lost:
        print(f"why the lost commands were lost (events {[item.event_id for item in lost][:10]}):")
        for reason, count in _why_lost(lost, poisoned_bots=set()).most_common(8):
            print(f"  {count:5d}  {reason}")
        print(f"  faults in the {WINDOW:g}s after a lost command was sent: {_near(injector, lost)}")
        if keep_dir is not None:
            path = keep_dir / "lost-commands.json"
            path.write_text(json.dumps(_trace_lost(control, lost), indent=1, default=str))
            print(f"  each lost command's event, ledger records and platform calls: {path}")
    if repeated:
        print(
            f"  answered more than once: events {[item.event_id for item in repeated][:10]}; faults in the "
            f"{WINDOW:g}s after: {_near(injector, repeated)}"
        )
    failed = failed_events(commands)
    print(f"commands whose event failed in the event log: {sum(failed.values())}")
    for reason, count in failed.most_common(8):
        print(f"  {count:5d}  {reason}")
    return len(lost), len(repeated)


def _trace_lost(control: httpx.Client, lost: list[Sent]) -> list[dict]:
    """For each lost command: its event log entry, the ledger's records of its first posts (by the
    templateIds its handling would use) and the platform calls that named its message (its answers' sends)
    or read its bot's chats, and the bot's answers a fault struck before their body was read (which name no
    message), in the order the platform received them (as far back as the sandbox keeps)."""
    import uuid

    from botcore.models import ActionRecord, EventLogEntry
    from botcore.skills.context import _TEMPLATE_NAMESPACE

    calls = control.get("/_sandbox/calls").json()["data"]["calls"]
    traced = []
    for item in lost:
        entry = (
            EventLogEntry.objects.filter(bot__vibe_bot_id=item.bot_id, vibe_event_id=item.event_id)
            .values("status", "skill", "error", "attempts", "timed_out_attempts", "received_at", "handled_at")
            .first()
        )
        keys = {
            str(uuid.uuid5(_TEMPLATE_NAMESPACE, f"{item.bot_id}:{item.event_id}:{n}")): n for n in (1, 2, 3)
        }
        records = {
            keys[key]: {"result": result, "created_at": created}
            for key, result, created in ActionRecord.objects.filter(
                bot__vibe_bot_id=item.bot_id, key__in=keys
            ).values_list("key", "result", "created_at")
        }
        # A call a fault answered before the platform read it names no bot and holds no body: its path does.
        mine = [call for call in calls if call["path"].startswith(f"/v1/bots/{item.bot_id}/")]
        named = [
            call
            for call in mine
            if (call["body"] or {}).get("messageId") == item.message_id
            or (call["path"].endswith("/answer") and not call["body"])
            or (call["method"] == "GET" and "/chats/" in call["path"])
        ]
        traced.append(
            {"event": item.event_id, "bot": item.bot_id, "message": item.message_id, "command": item.command,
             "sent_at": item.at, "entry": entry, "ledger": records, "calls": named}
        )  # fmt: skip
    return traced


def replies_on_the_platform(control: httpx.Client, sent: list[Sent]) -> Counter:
    """How often the platform's chats hold each sent message's reply ("seen event N"), by key: what the
    users saw, which the skill's own log cannot tell (a send repeated inside one attempt, a platform that
    posts repeats, a post left in doubt that did arrive)."""
    held: Counter = Counter()
    for bot_id in sorted({item.bot_id for item in sent}):
        messages = control.get(f"/_sandbox/bots/{bot_id}/messages").json()["data"]["messages"]
        texts = Counter(m["text"] for m in messages)
        for item in sent:
            if item.bot_id == bot_id:
                held[item.key] = texts[f"seen event {item.event_id}"]
    return held


def command_answers_on_the_platform(control: httpx.Client, commands: list[Sent]) -> Counter:
    """How many answers the platform posted to each sent command, by key: the bot's messages whose answerTo
    is the command's message. Each is a post made, so an answer sent twice that the platform posted twice
    (`no-template-dedupe`) counts 2, whatever the skill believes it did."""
    held: Counter = Counter()
    for bot_id in sorted({item.bot_id for item in commands}):
        messages = control.get(f"/_sandbox/bots/{bot_id}/messages").json()["data"]["messages"]
        answers = Counter(m["answerTo"] for m in messages if m["answerTo"] is not None)
        for item in commands:
            if item.bot_id == bot_id:
                held[item.key] = answers[item.message_id]
    return held


def _near(injector: FaultInjector, items: list[Sent]) -> str:
    tally: Counter = Counter()
    for item in items:
        tally.update(set(injector.near(start=item.at - 1.0, end=item.at + WINDOW)))
    return ", ".join(f"{kind} {count}" for kind, count in tally.most_common(6)) or "none"
