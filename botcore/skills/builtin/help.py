"""help: /help lists the commands and skills enabled on this portal, in the user's language."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from botcore.skills.base import CommandSpec, Skill, SkillContext
from botcore.skills.events import SkillEvent
from botcore.skills.i18n import every_language, in_language, pick
from botcore.skills.routing import typed_command_answerers
from botcore.vibe import bbcode as bb
from botcore.vibe.events import CommandAddEvent, EventType


def list_visible_commands(skills: list[Skill] | tuple[Skill, ...]) -> list[CommandSpec]:
    """Each command a typed "/name" reaches, once, as the skill it reaches declares it; button-only ones left
    out. Names match in any case (routing.typed_command_answerers, as the platform and routing read them):
    /Standup and /standup are one command, shown as its answerer spells it."""
    answerers = typed_command_answerers(skills)
    shown: dict[str, CommandSpec] = {}
    for skill in skills:
        for spec in skill.commands:
            if answerers.get(spec.key) is skill and spec.accepts("textarea"):
                shown.setdefault(spec.key, spec)
    return list(shown.values())


def render_help(skills: list[Skill] | tuple[Skill, ...], language: str) -> bb.BB:
    with in_language(language):
        texts = {
            "commands": gettext("Commands"),
            "skills": gettext("What I can do"),
            "none": gettext("No commands are enabled on this portal."),
        }
    commands = list_visible_commands(skills)
    lines = [bb.bold(texts["commands"])]
    if not commands:
        lines.append(bb.raw(texts["none"]))
    for spec in commands:
        description = pick(spec.description, language) if spec.description else pick(spec.title, language)
        name = "/" + spec.command
        # A command that takes parameters is put in the input to be completed: sent bare, it only fails.
        command = bb.put_link(name + " ", name) if spec.params else bb.send_link(name, name)
        if spec.params:  # what to write after it
            command += " " + bb.italic(pick(spec.params, language))
        lines.append(command + " — " + description)
    described = [skill for skill in skills if skill.summary]
    if described:
        lines += [bb.raw(""), bb.bold(texts["skills"])]
        for skill in described:
            name = pick(skill.title, language) if skill.title else skill.name
            lines.append(bb.bold(name) + " — " + pick(skill.summary, language))
    return bb.join(lines, "\n")


class HelpSkill(Skill):
    name = "help"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (
        CommandSpec(
            "help",
            title=every_language(_("Help")),
            description=every_language(_("Show the command list")),
        ),
    )
    title = every_language(_("Help"))
    summary = every_language(_("Lists the commands you can use here"))

    def handle(self, event: SkillEvent, ctx: SkillContext) -> None:
        if isinstance(event, CommandAddEvent):
            ctx.answer_command(render_help(tuple(ctx.enabled_skills), ctx.language))
