"""bot_shell: talk to the skills from a terminal — offline (printing what they did) or against a sandbox."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from botcore.errors import SkillConfigError
from botcore.skills.options import OptionsError
from botcore.skills.registry import configured_skills, load_skills


class Command(BaseCommand):
    help = (
        "Talk to the configured skills as a portal user. Offline by default: each line becomes an event, "
        "routed as the bot routes it, and what the skill did is printed (no network, no database). With "
        "--sandbox URL, a portal, user and bot are set up on that sandbox and the skills answer through the "
        "real client. Type :help inside for reactions, buttons, edits, schedules and state."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--skill",
            action="append",
            default=[],
            metavar="PATH_OR_NAME",
            help="only these skills, in this order (dotted paths, entry-point names or configured names)",
        )
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="SKILL.FIELD=VALUE",
            help="an option for this session, e.g. standup.chat=chat5 (checked like the settings page)",
        )
        parser.add_argument("--user", default="Shell User", help="your name as the bot sees it")
        parser.add_argument("--language", default="en", help="your language (en, ru, …)")
        parser.add_argument("--timezone", default="UTC", help="the portal's time zone, for :run")
        parser.add_argument("--sandbox", metavar="URL", help="a running sandbox, e.g. http://127.0.0.1:8100")

    def handle(self, *args, **options) -> None:
        skills = self._skills(options["skill"], options["option"])
        out = self.stdout.write
        common = {
            "skills": skills,
            "out": out,
            "language": options["language"],
            "timezone": options["timezone"],
        }
        if options["sandbox"]:
            from botcore.skills.shell_sandbox import SandboxSession

            session = SandboxSession(root_url=options["sandbox"], user_name=options["user"], **common)
        else:
            from botcore.skills.shell_offline import OfflineSession

            session = OfflineSession(user_name=options["user"], **common)
            out("(offline: nothing leaves this process; :help lists the commands)")
        out("skills: " + ", ".join(skill.name for skill, _ in skills))
        stdin = options.get("stdin") or sys.stdin
        interactive = stdin.isatty()
        try:
            while True:
                if interactive:
                    self.stdout.write("you> ", ending="")
                    self.stdout.flush()
                line = stdin.readline()
                if not line or not session.handle_line(line):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            close = getattr(session, "close", None)
            if close is not None:
                close()

    def _skills(self, chosen: list[str], option_items: list[str]):
        try:
            if chosen:
                by_name = {skill.name: skill for skill in configured_skills()}
                skills = [by_name[item] if item in by_name else load_skills([item])[0] for item in chosen]
            else:
                skills = list(configured_skills())
        except SkillConfigError as error:
            raise CommandError(str(error)) from None
        raw: dict[str, dict[str, str]] = {}
        for item in option_items:
            key, sep, value = item.partition("=")
            skill_name, dot, field = key.partition(".")
            if not (sep and dot):
                raise CommandError(f"--option {item!r}: write SKILL.FIELD=VALUE")
            raw.setdefault(skill_name, {})[field] = value
        unknown = set(raw) - {skill.name for skill in skills}
        if unknown:
            raise CommandError(
                f"--option names skills that are not in this session: {', '.join(sorted(unknown))}"
            )
        result = []
        for skill in skills:
            schema = skill.options_schema
            texts = {
                name: option.to_text(value)
                for name, value in schema.resolve({}).items()
                for option in [schema.fields[name]]
            }
            try:
                values = (
                    schema.parse_form({**texts, **raw.get(skill.name, {})})
                    if skill.name in raw
                    else schema.resolve({})
                )
                if skill.name in raw:
                    skill.check_options(values)
            except OptionsError as error:
                raise CommandError(f"--option for {skill.name}: {error}") from None
            result.append((skill, values))
        return result
