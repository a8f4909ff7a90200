"""echo: the reference's echo bot in full — typing, a like, the italic echo with Repeat/Help, /ping, /help,
the reaction notice and the greeting when it joins a chat."""

from __future__ import annotations

from botcore.skills.base import CommandSpec, Skill, SkillContext
from botcore.skills.events import SkillEvent
from botcore.skills.i18n import pick
from botcore.vibe import bbcode as bb
from botcore.vibe.events import (
    CommandAddEvent,
    EventType,
    JoinChatEvent,
    MessageAddEvent,
    ReactionChangeEvent,
)
from botcore.vibe.keyboards import Keyboard

TEXTS = {
    "en": {
        "wrote": "{name}, you wrote: {text}",
        "friend": "friend",
        "someone": "Someone",
        "repeat": "Repeat",
        "help": "Help",
        "pong": "[B]Pong![/B] The bot is working fine.",
        "help_text": (
            "[B]Echo Bot — Commands[/B]\n\n/ping — check whether the bot is alive\n/help — show this list\n\n"
            "Just message me — I will repeat your message."
        ),
        "reaction": "{name} added a reaction: {reaction}",
        "greeting": "Hi! I am Echo Bot. Write me something and I will repeat it.\n\nCommands:\n",
    },
    "ru": {
        "wrote": "{name}, вы написали: {text}",
        "friend": "друг",
        "someone": "Кто-то",
        "repeat": "Повторить",
        "help": "Помощь",
        "pong": "[B]Понг![/B] Бот работает.",
        "help_text": (
            "[B]Эхо-бот — команды[/B]\n\n/ping — проверить, жив ли бот\n/help — показать этот список\n\n"
            "Просто напишите мне — я повторю ваше сообщение."
        ),
        "reaction": "{name} поставил(а) реакцию: {reaction}",
        "greeting": "Привет! Я эхо-бот. Напишите мне что-нибудь, и я повторю.\n\nКоманды:\n",
    },
}


def texts_for(language: str) -> dict[str, str]:
    return pick(TEXTS, language)


class EchoSkill(Skill):
    name = "echo"
    event_types = frozenset(
        {EventType.MESSAGE_ADD, EventType.COMMAND_ADD, EventType.REACTION_CHANGE, EventType.JOIN_CHAT}
    )
    commands = (
        CommandSpec(
            "ping",
            title={"en": "Ping", "ru": "Пинг"},
            description={"en": "Check whether the bot is alive", "ru": "Проверить, жив ли бот"},
        ),
        CommandSpec(
            "help",
            title={"en": "Help", "ru": "Помощь"},
            description={"en": "Show the command list", "ru": "Показать список команд"},
        ),
    )
    title = {"en": "Echo", "ru": "Эхо"}
    summary = {"en": "Repeats what you write", "ru": "Повторяет ваши сообщения"}

    def wants(self, event: SkillEvent, ctx: SkillContext) -> bool:
        # Routing already keeps the bot's own, other bots' and system messages away (MessageFilter).
        if isinstance(event, ReactionChangeEvent):
            return event.action == "add"
        return True

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        t = texts_for(ctx.language)
        if isinstance(event, MessageAddEvent):
            ctx.typing("IMBOT_AGENT_ACTION_THINKING")
            ctx.react("like")
            name = (event.user.first_name if event.user else "") or t["friend"]
            text = event.message.text
            keyboard = (
                Keyboard()
                .button(t["repeat"], send=text or "ping", color="primary", block=True)
                .button(t["help"], send="/help", color="secondary", display="LINE")
            )
            ctx.reply(t["wrote"].format(name=bb.escape(name), text=bb.italic(text)), keyboard=keyboard)
        elif isinstance(event, CommandAddEvent):
            ctx.answer_command(t["pong"] if event.command.name == "ping" else t["help_text"])
        elif isinstance(event, ReactionChangeEvent):
            name = (event.user.first_name if event.user else "") or t["someone"]
            ctx.reply(t["reaction"].format(name=bb.escape(name), reaction=event.reaction), system=True)
        elif isinstance(event, JoinChatEvent):
            links = bb.join([bb.send_link("/ping", "Ping"), bb.raw(" | "), bb.send_link("/help", t["help"])])
            ctx.reply(t["greeting"] + links)
