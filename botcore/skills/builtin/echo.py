"""echo: the reference's echo bot in full — typing, a like, the italic echo with Repeat/Help, /ping, /help,
the reaction notice and the greeting when it joins a chat."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from botcore.skills.base import CommandSpec, Skill, SkillContext
from botcore.skills.events import SkillEvent
from botcore.skills.i18n import every_language, in_language
from botcore.vibe import bbcode as bb
from botcore.vibe.events import (
    CommandAddEvent,
    EventType,
    JoinChatEvent,
    MessageAddEvent,
    ReactionChangeEvent,
)
from botcore.vibe.keyboards import Keyboard

# The platform's reaction codes (CONTRACT B, "Reactions") as the chat shows them: a code word ("like") in a
# sentence of another language read as an untranslated leftover. A code not here is shown as written.
REACTION_EMOJI = {
    "like": "👍", "dislike": "👎", "faceWithTearsOfJoy": "😂", "redHeart": "❤️", "neutralFace": "😐",
    "fire": "🔥", "cry": "😢", "slightlySmilingFace": "🙂", "winkingFace": "😉", "laugh": "😆", "kiss": "😘",
    "wonder": "😮", "slightlyFrowningFace": "🙁", "loudlyCryingFace": "😭", "faceWithStuckOutTongue": "😛",
    "faceWithStuckOutTongueAndWinkingEye": "😜", "smilingFaceWithSunglasses": "😎", "confusedFace": "😕",
    "flushedFace": "😳", "thinkingFace": "🤔", "angry": "😠", "smilingFaceWithHorns": "😈",
    "faceWithThermometer": "🤒", "facepalm": "🤦", "poo": "💩", "flexedBiceps": "💪", "clappingHands": "👏",
    "raisedHand": "✋", "smilingFaceWithHeartEyes": "😍", "smilingFaceWithHearts": "🥰", "pleadingFace": "🥺",
    "relievedFace": "😌", "foldedHands": "🙏", "okHand": "👌", "signHorns": "🤘", "loveYouGesture": "🤟",
    "clownFace": "🤡", "partyingFace": "🥳", "questionMark": "❓", "exclamationMark": "❗", "lightBulb": "💡",
    "bomb": "💣", "sleepingSymbol": "💤", "crossMark": "❌", "whiteHeavyCheckMark": "✅", "eyes": "👀",
    "handshake": "🤝", "hundredPoints": "💯",
}  # fmt: skip


def texts_for(language: str) -> dict[str, str]:
    """This skill's texts in `language` (the catalogues under locale/; English when one is missing)."""
    with in_language(language):
        return {
            "wrote": gettext("{name}, you wrote: {text}"),
            "friend": gettext("friend"),
            "someone": gettext("Someone"),
            "repeat": gettext("Repeat"),
            "help": gettext("Help"),
            "ping": gettext("Ping"),
            "pong": gettext("[B]Pong![/B] The bot is working fine."),
            "help_text": gettext(
                "[B]{bot} — Commands[/B]\n\n"
                "/ping — check whether the bot is alive\n/help — show this list\n\n"
                "Just message me — I will repeat your message."
            ),
            "reaction": gettext("{name} added a reaction: {reaction}"),
            "greeting": gettext("Hi! I am {bot}. Write me something and I will repeat it.\n\nCommands:\n"),
        }


class EchoSkill(Skill):
    name = "echo"
    event_types = frozenset(
        {EventType.MESSAGE_ADD, EventType.COMMAND_ADD, EventType.REACTION_CHANGE, EventType.JOIN_CHAT}
    )
    commands = (
        CommandSpec(
            "ping",
            title=every_language(_("Ping")),
            description=every_language(_("Check whether the bot is alive")),
        ),
        CommandSpec(
            "help",
            title=every_language(_("Help")),
            description=every_language(_("Show the command list")),
        ),
    )
    title = every_language(_("Echo"))
    summary = every_language(_("Repeats what you write"))

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
            name = bb.plain_name(event.user.first_name if event.user else "") or t["friend"]
            text = event.message.text
            keyboard = (
                Keyboard()
                # Pressed, it sends a message, which the platform cuts at its limit anyway: carried whole, a
                # huge message made a post of hundreds of kilobytes.
                .button(t["repeat"], send=text[: bb.MAX_TEXT_CHARS] or "ping", color="primary", block=True)
                .button(t["help"], send="/help", color="secondary", display="LINE")
            )
            name = bb.escape(name)
            # In a group chat the message mentions the bot (the platform delivers it only then): not echoed.
            said = event.text_to_bot
            # Cut inside the italics: cut by the platform, the reply would lose its closing [/i].
            room = bb.MAX_TEXT_CHARS - len(t["wrote"].format(name=name, text=bb.italic("")))
            ctx.reply(t["wrote"].format(name=name, text=bb.italic(bb.shorten(said, room))), keyboard=keyboard)
        elif isinstance(event, CommandAddEvent):
            help_text = t["help_text"].format(bot=_bot_name(event))
            ctx.answer_command(t["pong"] if event.command.name == "ping" else help_text)
        elif isinstance(event, ReactionChangeEvent):
            # A system message: a name's own line would read as the platform's.
            name = bb.plain_name(event.user.first_name if event.user else "") or t["someone"]
            # The code is the platform's, yet its list may change (CONTRACT B): shown as written, not markup.
            shown = REACTION_EMOJI.get(event.reaction, event.reaction)
            notice = t["reaction"].format(name=bb.escape(name), reaction=bb.escape(shown))
            ctx.reply(notice, system=True)
        elif isinstance(event, JoinChatEvent):
            links = bb.join(
                [bb.send_link("/ping", t["ping"]), bb.raw(" | "), bb.send_link("/help", t["help"])]
            )
            ctx.reply(t["greeting"].format(bot=_bot_name(event)) + links)


def _bot_name(event: CommandAddEvent | JoinChatEvent) -> str:
    """The bot as the portal names it (the event says; BOTCORE_BOT_NAME or the portal's own name), escaped;
    the reference's "Echo Bot" where the event names none."""
    return bb.escape(bb.plain_name(event.bot.name if event.bot is not None else "") or "Echo Bot")
