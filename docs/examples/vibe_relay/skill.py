# ruff: noqa: RUF001 (the Russian texts: docs/skills.md §1.4)
"""relay: every message with one of the words the portal's admin chose ("#ops, outage") is forwarded to the
admin's incoming webhook (a Slack- or Mattermost-style address with its token in the path) as JSON; when the
webhook refuses it or does not answer, the person who wrote is told so.

The address is an OutsideUrl(secret=True): an OutsideUrl's checks, kept as a Secret (its path is the
credential). The words are words, not a regular expression: wants() runs them on every message
(docs/skills.md §5). The call is a deferred job, so the bot's other events never wait on the webhook (§8).

Try it: PYTHONPATH=$PWD/docs/examples BOTCORE_SKILLS="help standup vibe_relay.skill.RelaySkill echo" make run
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from botcore.skills.base import Skill, SkillContext
from botcore.skills.events import DeferredJobEvent, SkillEvent
from botcore.skills.i18n import pick
from botcore.skills.options import OptionsSchema, OutsideUrl, Text
from botcore.skills.outbound import OutsideAddressError, outside_client
from botcore.vibe.events import EventType, MessageAddEvent

TIMEOUT_SECONDS = 5  # the call holds a task worker (docs/skills.md §8)

TEXTS: Mapping[str, Mapping[str, str]] = {
    "refused": {
        "en": "I could not forward your message: the webhook answered {status}.",
        "ru": "Не удалось переслать ваше сообщение: вебхук ответил {status}.",
    },
    "silent": {
        "en": "I could not forward your message: the webhook is not answering. Try again later.",
        "ru": "Не удалось переслать ваше сообщение: вебхук не отвечает. Попробуйте позже.",
    },
    "inward": {
        "en": "I could not forward your message: the portal's admin must fix the webhook's address.",
        "ru": "Не удалось переслать ваше сообщение: администратору портала нужно исправить адрес вебхука.",
    },
}


def say(key: str, language: str, **values: Any) -> str:
    return pick(TEXTS[key], language).format(**values)


def words_of(option: str) -> list[str]:
    """ "#ops, outage" → ["#ops", "outage"]."""
    return [word.strip() for word in option.split(",") if word.strip()]


def mentions_a_word(text: str, words: list[str]) -> bool:
    """Whether `text` has one of `words` standing alone (escaped: no word is a pattern that can backtrack)."""
    return (
        bool(words)
        and re.search(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", text, re.IGNORECASE)
        is not None
    )


class RelaySkill(Skill):
    name = "relay"
    event_types = frozenset({EventType.MESSAGE_ADD})
    options_schema = OptionsSchema(
        webhook_url=OutsideUrl(
            secret=True,
            required=True,
            label={"en": "Incoming webhook address", "ru": "Адрес входящего вебхука"},
        ),
        words=Text(
            required=True,
            label={"en": "Forward messages with these words", "ru": "Пересылать сообщения с этими словами"},
            help={"en": "comma-separated, e.g. #ops, outage", "ru": "через запятую, например #ops, авария"},
        ),
    )
    title = {"en": "Webhook relay", "ru": "Пересылка в вебхук"}
    summary = {
        "en": "Forwards messages with the chosen words to a webhook",
        "ru": "Пересылает сообщения с выбранными словами в вебхук",
    }
    enabled_by_default = False

    def wants(self, event: SkillEvent, ctx: SkillContext) -> bool:
        return isinstance(event, MessageAddEvent) and mentions_a_word(
            event.text_to_bot, words_of(ctx.options["words"])
        )

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        if isinstance(event, MessageAddEvent):
            # What the job needs, as JSON; the address is read from the options when it runs (never in data).
            author = ctx.sender.name if ctx.sender else ""
            ctx.defer("forward", text=f"{author}: {event.text_to_bot}" if author else event.text_to_bot)
            return
        assert isinstance(event, DeferredJobEvent)
        try:
            with outside_client(timeout=TIMEOUT_SECONDS) as client:
                answer = client.post(ctx.options["webhook_url"], json={"text": event.data["text"]})
        except OutsideAddressError:  # before HTTPError: it is one (a ConnectError); nothing was sent
            ctx.reply(say("inward", ctx.language))
        except httpx.HTTPError:
            ctx.reply(say("silent", ctx.language))
        else:
            if not answer.is_success:
                ctx.reply(say("refused", ctx.language, status=answer.status_code))
