"""A test skill that declares every kind of event and writes down what it was given (in its own state)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from botcore.skills.base import CommandSpec, ScheduleSpec, Skill
from botcore.skills.events import BackendEvent, BackendEventType, DeferredJobEvent, ScheduledRunEvent
from botcore.vibe.attach import Attach, GridItem
from botcore.vibe.events import (
    BotDeleteEvent,
    CommandAddEvent,
    ContextGetEvent,
    EventType,
    JoinChatEvent,
    MessageAddEvent,
    MessageDeleteEvent,
    MessageUpdateEvent,
    ReactionChangeEvent,
)
from botcore.vibe.keyboards import Keyboard

LOG = "probe-log"  # the state "dialog" the probe writes its log to


class ProbeSkill(Skill):
    name = "probe"
    event_types = frozenset(EventType) | {
        BackendEventType.PORTAL_INSTALLED,
        BackendEventType.PORTAL_UNINSTALLED,
        BackendEventType.SCHEDULED_RUN,
    }
    commands = (
        CommandSpec("probe", title={"en": "Probe"}, description={"en": "Answer a probe"}),
        CommandSpec("probe_button", title={"en": "Probe button"}, button_only=True),
    )
    schedules = (ScheduleSpec("tick", "*/5 * * * *"),)
    summary = {"en": "Writes down everything it is given"}

    def handle(self, event, ctx) -> None:
        entry = {"type": str(event.type)}
        if isinstance(event, (MessageAddEvent, MessageUpdateEvent)):
            entry["text"] = event.message.text
        if isinstance(event, MessageDeleteEvent):
            entry["message_id"] = event.message_id
        if isinstance(event, CommandAddEvent):
            entry.update(command=event.command.name, context=event.command.context)
            if event.message is not None:  # a press's: the message that holds the keyboard
                entry.update(message_id=event.message.id, message_author=event.message.author_id)
        if isinstance(event, ReactionChangeEvent):
            entry.update(reaction=event.reaction, action=event.action)
        if isinstance(event, ContextGetEvent):
            entry["context"] = dict(event.context)
        if isinstance(event, ScheduledRunEvent):
            entry.update(schedule=event.schedule, local=event.local_due_at.isoformat())
        if isinstance(event, DeferredJobEvent):
            entry.update(job=event.job, data=dict(event.data))
        if isinstance(event, BackendEvent) and not isinstance(event, DeferredJobEvent):
            entry["language"] = event.language
        with ctx.state_for(LOG).update() as log:
            log["events"] = [*log.get("events", []), entry]
        self.act(event, ctx)

    def act(self, event, ctx) -> None:
        if isinstance(event, MessageAddEvent):
            text = event.message.text
            if text == "buttons":
                ctx.reply(
                    "Press it",
                    keyboard=Keyboard().button("Probe", command="probe_button", command_params="x"),
                )
            elif text == "slow":
                ctx.defer("slow", asked=text)
            elif text == "later":
                ctx.defer_at(timezone.now() + timedelta(minutes=10), "slow", asked=text)
            elif text.startswith("remind in "):  # "remind in 600: text": a reminder due in 600 seconds
                seconds, _, what = text.removeprefix("remind in ").partition(": ")
                ctx.defer_at(timezone.now() + timedelta(seconds=int(seconds)), "slow", asked=what)
            elif text.startswith("remind at "):  # "remind at 1900000000: text": due then (Unix seconds)
                moment, _, what = text.removeprefix("remind at ").partition(": ")
                ctx.defer_at(datetime.fromtimestamp(int(moment), UTC), "slow", asked=what)
            elif text == "file":
                uploaded = ctx.upload_file("note.txt", "заметка".encode(), message="a file")
                ctx.reply(f"stored {uploaded.name}: {ctx.download_file(uploaded.id).decode()}")
            elif text == "chat":
                chat = ctx.create_chat("Probe room", user_ids=[ctx.sender.id])
                members = sorted(user.id for user in ctx.list_chat_users(chat.dialog_id))
                ctx.update_chat(dialog_id=chat.dialog_id, title="Probe room (renamed)")
                ctx.send(chat.dialog_id, f"members: {members}")
            elif text == "tools":
                ctx.typing("IMBOT_AGENT_ACTION_SEARCHING")
                ctx.react("eyes")
                ctx.unreact("eyes")
                report = Attach(color_token="primary").message("[b]Done[/b]").grid(GridItem("Tests", "12"))
                ctx.reply("Report", attach=report, reply_to=event.message.id)
                draft = ctx.reply("draft")
                ctx.edit(draft, text="final", keyboard=Keyboard().button("OK", send="ok"))
                ctx.delete(ctx.reply("to be deleted"))
                ctx.set_text_field(False)
                ctx.set_text_field(True)
            elif text == "boom":
                raise RuntimeError("the probe was told to fail")
            else:
                ctx.reply(f"got: {text}")
        elif isinstance(event, CommandAddEvent):
            ctx.answer_command(f"/{event.command.name} via {event.command.context}")
        elif isinstance(event, DeferredJobEvent):
            ctx.reply(f"done later: {event.data['asked']}")
        elif isinstance(
            event,
            (JoinChatEvent, ReactionChangeEvent, ContextGetEvent, MessageUpdateEvent, MessageDeleteEvent),
        ):
            ctx.reply(f"saw {event.type}")
        elif isinstance(event, BotDeleteEvent):
            pass  # nowhere left to write: the log above is all
