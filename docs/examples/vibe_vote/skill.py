# ruff: noqa: RUF001 (the Russian texts: docs/skills.md §1.4)
"""vote: a poll in a group chat. `/vote Lunch? | Pizza | Sushi` posts the question with a button per option;
each member's press counts once (a second press moves their vote), the poll's message shows the live counts,
and `/vote close` ends it with the result.

State: one dialog state per chat holds its polls, each with its votes keyed by the voter's user id: the
kit keeps state per (portal, skill, dialog), so one person's vote in a group is a key the skill keeps.
The poll's number, not its message id, goes into the buttons: the keyboard is built before the message
(and its id) exists. What a skill with buttons in a group has to do itself: docs/skills.md §15.

Try it: PYTHONPATH=$PWD/docs/examples BOTCORE_SKILLS="help standup vibe_vote.skill.VoteSkill echo" make run
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botcore.skills.base import CommandSpec, Skill, SkillContext
from botcore.skills.events import SkillEvent
from botcore.skills.i18n import pick
from botcore.skills.options import Boolean, Choice, OptionsSchema
from botcore.vibe import bbcode as bb
from botcore.vibe.events import CommandAddEvent, EventType
from botcore.vibe.keyboards import Keyboard

MAX_OPTIONS = 10
BUTTON_CHARS = 40  # a longer option shows whole in the message, cut on its button
QUESTION_CHARS = 500
OPTION_CHARS = 200
KEPT_CLOSED_POLLS = 20  # a chat's state keeps this many closed polls, so a late press still finds its poll

TEXTS: Mapping[str, Mapping[str, str]] = {
    "usage": {
        "en": "Start a poll: /vote Question? | Option 1 | Option 2 (2 to {most} options). "
        "End it: /vote close",
        "ru": "Начать опрос: /vote Вопрос? | Вариант 1 | Вариант 2 (от 2 до {most} вариантов). "
        "Завершить: /vote close",
    },
    "no_poll": {"en": "There is no open poll in this chat.", "ru": "В этом чате нет открытого опроса."},
    "author_only": {
        "en": "Only {author}, who started the poll, may close it.",
        "ru": "Закрыть опрос может только его автор, {author}.",
    },
    "votes": {"en": "Votes: {count}", "ru": "Голосов: {count}"},
    "started_by": {"en": "started by {author}", "ru": "начал(а) {author}"},
    "closed": {"en": "Poll closed by {closer}.", "ru": "Опрос закрыт, закрыл(а) {closer}."},
    "result": {"en": "Result: {question}", "ru": "Итог: {question}"},
    "winner": {"en": "Most votes: {options}", "ru": "Больше всего голосов: {options}"},
    "nobody": {"en": "Nobody voted.", "ru": "Никто не проголосовал."},
}


def text(key: str, language: str, **values: Any) -> str:
    return pick(TEXTS[key], language).format(**values)


def parse_poll(params: str) -> tuple[str, list[str]] | None:
    """ "Lunch? | Pizza | Sushi" → ("Lunch?", ["Pizza", "Sushi"]); None when that is not a poll."""
    parts = [part.strip() for part in params.split("|")]
    question, options = parts[0], [part[:OPTION_CHARS] for part in parts[1:] if part]
    if not question or not 2 <= len(options) <= MAX_OPTIONS:
        return None
    return question[:QUESTION_CHARS], options


class VoteSkill(Skill):
    name = "vote"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (
        CommandSpec(
            "vote",
            title={"en": "Poll", "ru": "Опрос"},
            description={
                "en": "Start a poll, or /vote close to end it",
                "ru": "Начать опрос или /vote close",
            },
            params={"en": "Question? | Option 1 | Option 2", "ru": "Вопрос? | Вариант 1 | Вариант 2"},
        ),
        CommandSpec("vote_pick", title={"en": "Vote", "ru": "Голос"}, button_only=True),
    )
    options_schema = OptionsSchema(
        close_by=Choice(
            choices={
                "anyone": {"en": "Anyone in the chat", "ru": "Любой в чате"},
                "author": {"en": "Only who started it", "ru": "Только автор опроса"},
            },
            label={"en": "Who may close a poll", "ru": "Кто может закрыть опрос"},
        ),
        show_voters=Boolean(
            default=False, label={"en": "Show who voted for what", "ru": "Показывать, кто как голосовал"}
        ),
    )
    title = {"en": "Polls", "ru": "Опросы"}
    summary = {
        "en": "Polls with a button per option: /vote Question? | A | B",
        "ru": "Опросы с кнопкой на каждый вариант: /vote Вопрос? | А | Б",
    }
    enabled_by_default = False

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        assert isinstance(event, CommandAddEvent)  # the only event type declared
        if event.command.name.lower() == "vote_pick":
            self._pick(event.command.params, ctx)
        elif event.command.params.strip().lower() == "close":
            self._close(ctx)
        else:
            self._start(event.command.params, ctx)

    # --- starting ---------------------------------------------------------------------------------
    def _start(self, params: str, ctx: SkillContext) -> None:
        parsed = parse_poll(params)
        if parsed is None:
            ctx.answer_command(text("usage", ctx.language, most=MAX_OPTIONS))
            return
        question, options = parsed
        author = ctx.sender
        poll = {
            "question": question,
            "options": options,
            "author": author.id if author else 0,
            "author_name": author.name if author else "",
            "open": True,
            "votes": {},
            "names": {},
        }
        with ctx.state.update() as data:  # a number first: the buttons carry it, the message id comes later
            number = int(data.get("next", 1))
            data["next"] = number + 1
            data.setdefault("polls", {})[str(number)] = poll
        # A reply, not answer_command: only a post is documented to return the id the edits need.
        message_id = ctx.reply(self._render(poll, ctx), keyboard=self._keyboard(number, poll))
        with ctx.state.update() as data:
            data["polls"][str(number)]["message_id"] = message_id

    # --- a press ------------------------------------------------------------------------------------
    def _pick(self, params: str, ctx: SkillContext) -> None:
        try:
            number, choice = (int(part) for part in params.split())
        except ValueError:
            return  # not a button this skill made
        voter = ctx.sender
        if voter is None:
            return
        with ctx.state.update() as data:
            poll = data.get("polls", {}).get(str(number))
            if poll is None or not poll["open"] or not 0 <= choice < len(poll["options"]):
                return  # a press on a closed or forgotten poll changes nothing
            if poll["votes"].get(str(voter.id)) == choice:
                return  # the same vote again: nothing to show
            poll["votes"][str(voter.id)] = choice
            poll["names"][str(voter.id)] = voter.name
            shown = dict(poll)
        if shown.get("message_id"):
            ctx.edit(
                shown["message_id"], text=self._render(shown, ctx), keyboard=self._keyboard(number, shown)
            )

    # --- closing ------------------------------------------------------------------------------------
    def _close(self, ctx: SkillContext) -> None:
        closer = ctx.sender
        refused_by = None
        with ctx.state.update() as data:
            polls = data.get("polls", {})
            open_numbers = [key for key, poll in polls.items() if poll["open"]]
            number = max(open_numbers, key=int) if open_numbers else None
            if number is not None:
                poll = polls[number]
                if ctx.options["close_by"] == "author" and (closer is None or closer.id != poll["author"]):
                    refused_by = poll["author_name"]
                else:
                    poll["open"] = False
                    self._forget_old(polls)
            shown = dict(polls[number]) if number is not None else None
        if shown is None:
            ctx.answer_command(text("no_poll", ctx.language))
        elif refused_by is not None:
            ctx.answer_command(text("author_only", ctx.language, author=refused_by))
        else:
            if shown.get("message_id"):
                ctx.edit(shown["message_id"], text=self._render(shown, ctx), keyboard=False)
            ctx.answer_command(self._result(shown, closer.name if closer else "", ctx))

    @staticmethod
    def _forget_old(polls: dict[str, Any]) -> None:
        closed = sorted((key for key, poll in polls.items() if not poll["open"]), key=int)
        for key in closed[:-KEPT_CLOSED_POLLS]:
            del polls[key]

    # --- what people see ----------------------------------------------------------------------------
    @staticmethod
    def _counts(poll: Mapping[str, Any]) -> list[int]:
        counts = [0] * len(poll["options"])
        for choice in poll["votes"].values():
            counts[choice] += 1
        return counts

    def _render(self, poll: Mapping[str, Any], ctx: SkillContext) -> str:
        language = ctx.portal_language  # many people read it: not in the voter's language (docs §10)
        counts = self._counts(poll)
        lines = [bb.bold(poll["question"])]
        for index, option in enumerate(poll["options"]):
            line = bb.escape(option) + f" — {counts[index]}"
            if ctx.options["show_voters"]:
                names = [poll["names"][voter] for voter, choice in poll["votes"].items() if choice == index]
                line += bb.escape(f" ({', '.join(names)})") if names else ""
            lines.append(line)
        footer = text("votes", language, count=sum(counts)) + ", "
        footer += text("started_by", language, author=poll["author_name"])
        lines.append(bb.italic(footer))
        return "\n".join(lines)

    def _result(self, poll: Mapping[str, Any], closer: str, ctx: SkillContext) -> str:
        language = ctx.portal_language
        counts = self._counts(poll)
        lines = [bb.bold(text("result", language, question=poll["question"]))]
        if sum(counts):
            best = max(counts)
            winners = [option for option, count in zip(poll["options"], counts, strict=True) if count == best]
            lines.append(bb.escape(text("winner", language, options=", ".join(winners))) + f" ({best})")
        else:
            lines.append(text("nobody", language))
        lines.append(bb.italic(text("closed", language, closer=closer)))
        return "\n".join(lines)

    @staticmethod
    def _keyboard(number: int, poll: Mapping[str, Any]) -> Keyboard:
        keyboard = Keyboard()
        for index, option in enumerate(poll["options"]):
            label = option if len(option) <= BUTTON_CHARS else option[: BUTTON_CHARS - 1] + "…"
            keyboard.button(label, command="vote_pick", command_params=f"{number} {index}", display="LINE")
        return keyboard
