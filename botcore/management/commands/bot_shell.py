"""bot_shell: talk to the skills from a terminal — offline (printing what they did) or against a sandbox."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from botcore.errors import SkillConfigError
from botcore.management.bot_shell.offline import OfflineSession
from botcore.management.bot_shell.sandbox import SandboxSession
from botcore.management.bot_shell.session import ShellSession
from botcore.selectors import list_enabled_skills, list_unknown_enabled_skill_names
from botcore.skills.options import OptionsError
from botcore.skills.registry import configured_skills, load_skills
from tenants.models import Portal


class Command(BaseCommand):
    help = (
        "Talk to the skills a new portal has on (or --portal's, or those --skill names) as a portal user. "
        "Offline by default: each line becomes an event, routed among them as the live bot routes it, and "
        "what the skill did is printed (no network, no database). With "
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
        parser.add_argument(
            "--portal",
            metavar="MEMBER_ID",
            help="the skills this installed portal has on, with its options, as its live bot routes them",
        )

    def handle(self, *args, **options) -> None:
        out = self.stdout.write
        if options["portal"] and (options["skill"] or options["option"]):
            raise CommandError(
                "--portal takes the portal's own skills and options: leave out --skill and --option"
            )
        if options["portal"]:
            skills = self._portal_skills(options["portal"])
        else:
            skills = self._skills(options["skill"], options["option"])
        common = {
            "skills": skills,
            "out": out,
            "language": options["language"],
            "timezone": options["timezone"],
        }
        session: ShellSession
        if options["sandbox"]:
            session = SandboxSession(root_url=options["sandbox"], user_name=options["user"], **common)
        else:
            session = OfflineSession(user_name=options["user"], **common)
            out("(offline: no platform, what the bot does prints here; :help lists the commands)")
        names = [skill.name for skill, _ in skills]
        out("skills: " + ", ".join(names) + "   (routing order: the first that fits answers)")
        left_out = [skill.name for skill in configured_skills() if skill.name not in names]
        if left_out and not options["skill"]:
            # The live bot routes only among a portal's enabled skills; so does this shell.
            where = "on this portal" if options["portal"] else "on a new portal"
            out(
                f"off {where}: {', '.join(left_out)}   (--skill NAME, repeated, picks skills and their order)"
            )
        unknown = self._unknown_portal_skills(options["portal"]) if options["portal"] else []
        if unknown:
            out(
                f"on this portal, not in this process's BOTCORE_SKILLS: {', '.join(unknown)}   "
                "(run the shell with the stack's BOTCORE_SKILLS: docs/skills.md 1.4)"
            )
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

    def _portal_skills(self, member_id: str):
        portal = Portal.objects.filter(member_id=member_id).first()
        if portal is None:
            raise CommandError(f"--portal: no portal with member id {member_id!r} is installed here")
        return list_enabled_skills(portal)

    def _unknown_portal_skills(self, member_id: str) -> list[str]:
        portal = Portal.objects.get(member_id=member_id)  # _portal_skills found it
        return list_unknown_enabled_skill_names(portal)

    def _skills(self, chosen: list[str], option_items: list[str]):
        try:
            if chosen:
                by_name = {skill.name: skill for skill in configured_skills()}
                skills = [by_name[item] if item in by_name else load_skills([item])[0] for item in chosen]
            else:
                # What a new portal has on, in settings order: the live bot's routing, not every skill.
                # A skill given --option is switched on too, as an admin setting its options would.
                given = {item.partition(".")[0] for item in option_items}
                skills = [s for s in configured_skills() if s.enabled_by_default or s.name in given]
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
            if skill.name not in raw:
                # The defaults alone: a required option left empty is a state no portal's bot is in (turning
                # the skill on asks for it), so the session would show what the live bot never does.
                try:
                    schema.validate(values)
                except OptionsError as error:
                    raise CommandError(
                        f"{skill.name} cannot run without its required options, as no portal can turn it on "
                        f"without them: {error} (give each with --option {skill.name}.FIELD=VALUE)"
                    ) from None
            result.append((skill, values))
        return result
