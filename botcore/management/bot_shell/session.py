"""bot_shell's sessions: talk to the configured skills from a terminal, offline or against a sandbox.

Offline, each line becomes a typed event handed to the skills through the same routing as the bot's, and a
RecordingContext prints what the skill did; nothing touches the network or the database. With a sandbox,
the session sets up an app, a portal, a user and a bot there, the line is sent as that user through the
sandbox's control API, and the events the platform raises are fetched and handled through the real
VibeClient; what the bot posted is read back from the sandbox. State lives in memory in both modes.

Lines: plain text is a message; "/name params" a command; and
    :react <code>   react to the bot's last message     :press <n>    press button n of its last keyboard
    :edit <text>    edit your last message              :delete       delete your last message
    :join           open the dialog / add the bot       :context k=v  follow a BOT_CONTEXT link
    :run <skill> <schedule>   fire a schedule now       :jobs         run the deferred jobs
    :state <skill> [dialog]   print a skill's state     :lang <code>  speak another language      :quit
"""

from __future__ import annotations

import shlex
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botcore import conf
from botcore.skills.base import Skill
from botcore.skills.cron import portal_zone
from botcore.skills.events import DeferredJobEvent, ScheduledRunEvent, SkillEvent
from botcore.skills.routing import select_skill
from botcore.skills.state import MemoryStateStore
from botcore.vibe.events import BotEvent

Printer = Callable[[str], None]

HELP = __doc__.split("Lines:", 1)[1].rstrip()


def describe_keyboard(keyboard: Any) -> str:
    buttons = [b for b in (keyboard or []) if isinstance(b, Mapping) and b.get("TYPE") != "NEWLINE"]
    return "  ".join(f"[{i}: {b.get('TEXT', '')}]" for i, b in enumerate(buttons))


class ShellSession:
    """What both modes share: skills and their state, the line grammar, and the printer."""

    def __init__(
        self,
        *,
        skills: list[tuple[Skill, dict[str, Any]]],
        out: Printer,
        language: str = "en",
        timezone: str = "UTC",
    ) -> None:
        self.skills = skills
        self.out = out
        self.language = language
        self.timezone = timezone
        self.stores = {skill.name: MemoryStateStore() for skill, _ in skills}
        self.jobs: list[tuple[Skill, DeferredJobEvent]] = []

    def options_of(self, skill: Skill) -> dict[str, Any]:
        return next(options for s, options in self.skills if s is skill)

    def find(self, name: str) -> Skill | None:
        return next((skill for skill, _ in self.skills if skill.name == name), None)

    def owns_command(self, name: str) -> bool:
        return any(skill.owns_command(name) for skill, _ in self.skills)

    def handle_line(self, line: str) -> bool:
        """Act on one line; False when the session should end."""
        line = line.strip()
        if not line:
            return True
        if not line.startswith(":"):
            self.say(line)
            return True
        name, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        if name in ("quit", "exit", "q"):
            return False
        actions: dict[str, Callable[[], None]] = {
            "react": lambda: self.react(rest or "like"),
            "press": lambda: self.press(int(rest or 0)),
            "edit": lambda: self.edit(rest),
            "delete": self.delete,
            "join": self.join,
            "context": lambda: self.context(
                dict(pair.split("=", 1) for pair in shlex.split(rest) if "=" in pair)
            ),
            "run": lambda: self.run_schedule(*[*rest.split(), "", ""][:2]),
            "jobs": self.run_jobs,
            "state": lambda: self.print_state(*[*rest.split(), ""][:2]),
            "lang": lambda: setattr(self, "language", rest or "en"),
            "help": lambda: self.out(HELP),
        }
        action = actions.get(name)
        if action is None:
            self.out(f"(unknown :{name}; :help lists what there is)")
        else:
            try:
                action()
            except (ValueError, LookupError, TypeError) as error:
                self.out(f"(cannot: {error})")
        return True

    def handle(self, skill: Skill, event: SkillEvent, ctx: Any) -> bool:
        """Hand the event to the skill; a failure is shown (with where it was raised) and the shell goes on,
        as the bot marks the event failed and handles the next. False when the skill raised."""
        started = time.monotonic()
        try:
            skill.handle(event, ctx)
        except Exception as error:  # noqa: BLE001  (a skill's bug is what the author came here to see)
            frame = traceback.extract_tb(error.__traceback__)[-1]
            self.out(f"(the {skill.name} skill failed: {type(error).__name__}: {error})")
            self.out(f"  at {frame.filename}:{frame.lineno} in {frame.name}")
            return False
        finally:
            self.say_if_slow(skill, time.monotonic() - started)
        return True

    def say_if_slow(self, skill: Skill, took: float) -> None:
        """What the live bot logs as a warning (the executor), said where the author is looking."""
        deadline = conf.cycle_deadline_seconds()
        if took > deadline:
            self.out(
                f"(the {skill.name} skill took {took:.1f} s, past a cycle's {deadline:g} s: live, the bot's "
                "next events wait for it; hand slow work to ctx.defer)"
            )

    def scheduled_event(
        self, skill_name: str, schedule: str, *, member_id: str
    ) -> tuple[Skill, ScheduledRunEvent] | None:
        skill = self.find(skill_name)
        if skill is None:
            self.out(f"(no skill {skill_name!r} here)")
            return None
        declared = [spec.name for spec in skill.schedules_for(self.options_of(skill))]
        if schedule not in declared:
            self.out(
                f"(the {skill.name} skill has no schedule {schedule!r} with these options; it has: "
                f"{', '.join(declared) or 'none'})"
            )
            return None
        local = datetime.now(portal_zone(self.timezone)).replace(second=0, microsecond=0)
        event = ScheduledRunEvent(
            portal_member_id=member_id,
            run_key=f"schedule:{schedule}:{local.isoformat()}",
            language=self.language,
            schedule=schedule,
            due_at=local,
            local_due_at=local,
        )
        return skill, event

    def print_state(self, skill_name: str, dialog_id: str) -> None:
        store = self.stores.get(skill_name)
        if store is None:
            self.out(f"(no skill {skill_name!r} here)")
            return
        dialogs = [dialog_id] if dialog_id else sorted(store.states)
        for dialog in dialogs:
            self.out(f"{skill_name} [{dialog}] {store.load(dialog)[0]}")

    def run_jobs(self) -> None:
        jobs, self.jobs = self.jobs, []
        if not jobs:
            self.out("(no deferred jobs)")
        for skill, job in jobs:
            self.deliver(skill, job)

    # The mode-specific part.
    def say(self, text: str) -> None:
        raise NotImplementedError

    def react(self, reaction: str) -> None:
        raise NotImplementedError

    def press(self, index: int) -> None:
        raise NotImplementedError

    def edit(self, text: str) -> None:
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError

    def join(self) -> None:
        raise NotImplementedError

    def context(self, values: dict[str, str]) -> None:
        raise NotImplementedError

    def run_schedule(self, skill_name: str, schedule: str) -> None:
        raise NotImplementedError

    def deliver(self, skill: Skill, event: SkillEvent) -> None:
        raise NotImplementedError

    def route(self, event: BotEvent, context_for: Callable[[Skill], Any]) -> Skill | None:
        chosen = select_skill(event, [skill for skill, _ in self.skills], context_for=context_for)
        if chosen is None:
            self.out("(no skill takes this: ignored)")
        return chosen
