"""bot_shell offline: lines become typed events; RecordingContexts print what the skills did (no I/O)."""

from __future__ import annotations

from typing import Any

from botcore.management.bot_shell.session import ShellSession, describe_keyboard
from botcore.skills.base import Skill
from botcore.skills.events import SkillEvent
from botcore.skills.testing import factories
from botcore.skills.testing.recording import Action, RecordingContext

USER_ID = 1
BOT_ID = factories.BOT_ID
MEMBER_ID = "shell-portal"


class OfflineSession(ShellSession):
    def __init__(self, *, user_name: str = "Shell User", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user_name = user_name
        self.last_user_message: int | None = None
        self.last_bot_post: dict[str, Any] | None = None
        self.last_keyboard: list[dict[str, Any]] = []
        self.keyboard_post: dict[str, Any] = {}  # the post that holds last_keyboard: a press carries it

    def _chat(self) -> dict[str, Any]:
        return {"user_id": USER_ID, "user_name": self.user_name, "language": self.language, "bot_id": BOT_ID}

    def context_for(self, skill: Skill, event: SkillEvent) -> RecordingContext:
        return RecordingContext(
            skill=skill,
            event=event,
            options=self.options_of(skill),
            language=None,
            timezone=self.timezone,
            portal_member_id=MEMBER_ID,
            enabled_skills=[s for s, _ in self.skills],
            state_store=self.stores[skill.name],
            on_action=self.show,
        )

    def show(self, action: Action) -> None:
        details = action.details
        if action.kind == "post":
            where = "" if details["dialog_id"] == str(USER_ID) else f" → {details['dialog_id']}"
            system = "(system) " if details.get("system") else ""
            self.out(f"bot{where}> {system}{details['text']}")
            if details.get("keyboard"):
                self.out(f"     {describe_keyboard(details['keyboard'])}")
            if details["dialog_id"] == str(USER_ID):
                self.last_bot_post = dict(details)
                if details.get("keyboard"):
                    self.last_keyboard, self.keyboard_post = details["keyboard"], dict(details)
        elif action.kind == "answer":
            self.out(f"bot (answers /{details['command']})> {details['text']}")
            if details.get("keyboard"):
                self.out(f"     {describe_keyboard(details['keyboard'])}")
                self.last_keyboard, self.keyboard_post = details["keyboard"], dict(details)
        elif action.kind == "typing":
            self.out(f"  … typing{' (' + details['status'] + ')' if details['status'] else ''}")
        elif action.kind == "react":
            self.out(f"  (bot reacted {details['reaction']} to message {details['message_id']})")
        elif action.kind == "defer":
            when = f" due {details['due_at']}" if details.get("due_at") else ""
            self.out(f"  (deferred job {details['job']!r}{when}; :jobs runs it now)")
        else:
            shown = ", ".join(f"{k}={v!r}" for k, v in details.items())
            self.out(f"  ({action.kind}: {shown})")

    def dispatch(self, event) -> None:
        contexts: dict[str, RecordingContext] = {}

        def context_for(skill: Skill) -> RecordingContext:
            return contexts.setdefault(skill.name, self.context_for(skill, event))

        chosen = self.route(event, context_for)
        if chosen is not None:
            ctx = contexts[chosen.name]
            if self.handle(chosen, event, ctx):
                self.jobs.extend((chosen, job) for job in ctx.deferred)

    def deliver(self, skill: Skill, event: SkillEvent) -> None:
        ctx = self.context_for(skill, event)
        if self.handle(skill, event, ctx):
            self.jobs.extend((skill, job) for job in ctx.deferred)

    # --- lines ------------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        name, _, params = text[1:].partition(" ")
        if text.startswith("/") and self.owns_command(name):
            event = factories.make_command_event(name, params=params.strip(), **self._chat())
        else:
            event = factories.make_message_event(text, **self._chat())
        self.last_user_message = event.message.id if event.message else None
        self.dispatch(event)

    def react(self, reaction: str) -> None:
        if self.last_bot_post is None:
            raise LookupError("the bot has posted nothing here yet")
        self.dispatch(
            factories.make_reaction_event(
                reaction,
                message_id=self.last_bot_post["message_id"],
                message_text=self.last_bot_post.get("text", ""),
                **self._chat(),
            )
        )

    def press(self, index: int) -> None:
        buttons = [b for b in self.last_keyboard if b.get("TYPE") != "NEWLINE"]
        if not 0 <= index < len(buttons):
            raise LookupError(f"the bot's last keyboard has no button {index}")
        button = buttons[index]
        if button.get("ACTION") == "SEND":
            self.say(str(button.get("ACTION_VALUE", "")))
        elif "COMMAND" in button:
            self.dispatch(
                factories.make_button_command_event(
                    str(button["COMMAND"]),
                    params=str(button.get("COMMAND_PARAMS", "")),
                    message_id=self.keyboard_post.get("message_id"),
                    message_text=str(self.keyboard_post.get("text", "")),
                    **self._chat(),
                )
            )
        else:
            self.out(
                f"(the {button.get('ACTION') or 'LINK'} button acts in the user's client only: no event)"
            )

    def edit(self, text: str) -> None:
        if self.last_user_message is None:
            raise LookupError("you have written nothing yet")
        self.dispatch(
            factories.make_message_update_event(text, message_id=self.last_user_message, **self._chat())
        )

    def delete(self) -> None:
        if self.last_user_message is None:
            raise LookupError("you have written nothing yet")
        self.dispatch(factories.make_message_delete_event(self.last_user_message, **self._chat()))
        self.last_user_message = None

    def join(self) -> None:
        self.dispatch(factories.make_join_event(**self._chat()))

    def context(self, values: dict[str, str]) -> None:
        self.dispatch(factories.make_context_event(values, **self._chat()))

    def run_schedule(self, skill_name: str, schedule: str) -> None:
        found = self.scheduled_event(skill_name, schedule, member_id=MEMBER_ID)
        if found is not None:
            self.deliver(*found)
