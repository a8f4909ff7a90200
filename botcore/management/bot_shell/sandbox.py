"""bot_shell against a sandbox: a fresh app, portal, user and bot there; lines are the user's actions;
the bot's
events come back through the real VibeClient and the skills act through VibeSkillContext (state in memory)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from botcore.management.bot_shell.session import ShellSession, describe_keyboard
from botcore.skills.base import Skill
from botcore.skills.context import PortalInfo, VibeSkillContext
from botcore.skills.events import DeferredJobEvent, SkillEvent
from botcore.skills.ledger import MemoryLedger
from botcore.vibe import VibeClient, budget_for_key
from botcore.vibe.held_calls import HELD_WAIT_SECONDS
from botcore.vibe.parse import parse_event
from ops.redaction import redact_payload


class SandboxSession(ShellSession):
    def __init__(self, *, root_url: str, user_name: str = "Shell User", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root_url = root_url.rstrip("/").removesuffix("/v1")
        self.control = httpx.Client(base_url=self.root_url, timeout=15)
        app = self._data("POST", "/_sandbox/apps", {"name": "bot_shell"})
        portal = self._data("POST", "/_sandbox/portals", {"name": "bot_shell portal"})["portal"]
        self.member_id = portal["memberId"]
        self.user = self._data(
            "POST",
            f"/_sandbox/portals/{portal['id']}/users",
            {"name": user_name, "isAdmin": True, "language": self.language},
        )["user"]
        session = self._data("POST", "/_sandbox/sessions", {"appKey": app["key"], "userId": self.user["id"]})
        self.client = VibeClient(
            api_key=app["key"],
            session_token=session["token"],
            base_url=f"{self.root_url}/v1",
            # The key's budget, kept in this process (the shell's app is its own): quick lines would
            # otherwise outrun the platform's per-key limit and meet 429s mid-conversation.
            budget=budget_for_key(app["key"], backend="local"),
        )
        bot = self.client.register_bot(
            code=f"shell_{uuid.uuid4().hex[:8]}", name="Shell Bot", adopt_existing=True
        )
        self.bot_id = bot.id
        registered: set[str] = set()
        for skill, _ in self.skills:
            for spec in skill.commands:
                if (
                    spec.command not in registered
                ):  # the first skill that declares a name owns it, as provisioning does
                    registered.add(spec.command)
                    self.client.register_command(
                        self.bot_id,
                        command=spec.command,
                        title=dict(spec.title),
                        description=dict(spec.description) or None,
                        hidden=spec.button_only or None,
                    )
        self.offset: int | None = None
        self.seen_message = 0
        self.seen_call = max(
            (c["seq"] for c in self._data("GET", "/_sandbox/calls", botId=self.bot_id)["calls"]), default=0
        )
        self.last_user_message: int | None = None
        self.out(
            f"(sandbox {self.root_url}: portal {portal['domain']}, you are {self.user['name']}"
            f" #{self.user['id']}, the bot is #{self.bot_id}; open {self.root_url}/chat to watch)"
        )

    def _data(self, method: str, path: str, body: dict | None = None, **params: Any) -> dict:
        response = self.control.request(method, path, json=body, params=params or None)
        if response.status_code >= 400:
            raise LookupError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json()["data"]

    def _act(self, path: str, **body: Any) -> dict:
        return self._data("POST", f"/_sandbox/act/{path}", {"userId": self.user["id"], **body})

    # --- the bot side -----------------------------------------------------------------------------
    def context(self, values: dict[str, str]) -> None:
        self._act("context", botId=self.bot_id, context=values)
        self.pump()

    def _ctx(self, skill: Skill, event: SkillEvent) -> VibeSkillContext:
        def defer(skill_name: str, job: str, data: dict, key: str, origin: Any, due_at=None) -> None:
            self.jobs.append(
                (
                    skill,
                    DeferredJobEvent(
                        portal_member_id=self.member_id,
                        run_key=key,
                        language=self.language,
                        job=job,
                        data=data,
                        origin=parse_event(origin) if origin else None,
                    ),
                )
            )
            when = f" due {due_at.isoformat(timespec='minutes')}" if due_at is not None else ""
            self.out(f"  (deferred job {job!r}{when}; :jobs runs it now)")

        return VibeSkillContext(
            client=self.client,
            vibe_bot_id=self.bot_id,
            portal=PortalInfo(
                member_id=self.member_id, portal_id=None, language=self.language, timezone=self.timezone
            ),
            skill=skill,
            event=event,
            options=self.options_of(skill),
            state_store=self.stores[skill.name],
            ledger=MemoryLedger(),
            deferrer=defer,
            enabled_skills=[s for s, _ in self.skills],
        )

    def pump(self) -> None:
        """Fetch the bot's events, hand each to its skill, then show what the bot posted."""
        batch = self.client.get_events(self.bot_id, offset=self.offset, limit=100)
        self.offset = batch.offset_after(self.offset)
        for fetched in batch.events:
            # As a bot's cycle hands it over: read back from what the event log keeps, its secrets redacted.
            event = parse_event(redact_payload(fetched.raw))
            contexts: dict[str, VibeSkillContext] = {}

            def context_for(skill: Skill, event=event, contexts=contexts) -> VibeSkillContext:
                return contexts.setdefault(skill.name, self._ctx(skill, event))

            chosen = self.route(event, context_for)
            if chosen is not None:
                self.handle(chosen, event, contexts[chosen.name])
        self.show_new_messages()

    def deliver(self, skill: Skill, event: SkillEvent) -> None:
        self.handle(skill, event, self._ctx(skill, event))
        self.show_new_messages()

    def show_new_messages(self) -> None:
        """Print the bot's other calls (typing, reactions, chats…), then its new messages."""
        # What the handling held for lack of room in the budget (a reaction) goes now, as after a cycle.
        self.client.send_held_calls(until=time.monotonic() + HELD_WAIT_SECONDS)
        for call in self._data("GET", "/_sandbox/calls", botId=self.bot_id, since=self.seen_call)["calls"]:
            self.seen_call = call["seq"]
            path = call["path"].split(f"/bots/{self.bot_id}", 1)[-1] or "/"
            if (
                (call["method"] == "GET" and path == "/events")
                or path in ("/messages", "/commands")
                or path.endswith("/answer")
            ):
                continue  # polls, and posts the messages below show
            error = f" {call['errorCode']}" if call.get("errorCode") else ""
            self.out(f"  ({call['method']} {path} -> {call['status']}{error})")
        messages = self._data("GET", f"/_sandbox/bots/{self.bot_id}/messages")["messages"]
        for message in messages:
            if message["id"] <= self.seen_message:
                continue
            self.seen_message = message["id"]
            system = "(system) " if message.get("isSystem") else ""
            self.out(f"bot [chat {message['chatId']}]> {system}{message['text']}")
            if message.get("keyboard"):
                self.out(f"     {describe_keyboard(message['keyboard'])}")

    def _last_bot_message(self) -> dict:
        mine = self._data("GET", f"/_sandbox/bots/{self.bot_id}/messages")["messages"]
        if not mine:
            raise LookupError("the bot has posted nothing yet")
        return mine[-1]

    # --- the user's side --------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.last_user_message = self._act("messages", botId=self.bot_id, text=text)["message"]["id"]
        self.pump()

    def react(self, reaction: str) -> None:
        self._act("reactions", messageId=self._last_bot_message()["id"], reaction=reaction, action="add")
        self.pump()

    def press(self, index: int) -> None:
        with_keyboard = [
            m
            for m in self._data("GET", f"/_sandbox/bots/{self.bot_id}/messages")["messages"]
            if m.get("keyboard")
        ]
        if not with_keyboard:
            raise LookupError("the bot has sent no keyboard")
        self._act("buttons", messageId=with_keyboard[-1]["id"], index=index)
        self.pump()

    def edit(self, text: str) -> None:
        if self.last_user_message is None:
            raise LookupError("you have written nothing yet")
        self._act(f"messages/{self.last_user_message}/edit", text=text)
        self.pump()

    def delete(self) -> None:
        if self.last_user_message is None:
            raise LookupError("you have written nothing yet")
        self._act(f"messages/{self.last_user_message}/delete")
        self.last_user_message = None
        self.pump()

    def join(self) -> None:
        self._act("open", botId=self.bot_id)
        self.pump()

    def run_schedule(self, skill_name: str, schedule: str) -> None:
        found = self.scheduled_event(skill_name, schedule, member_id=self.member_id)
        if found is not None:
            self.deliver(*found)

    def close(self) -> None:
        self.control.close()
