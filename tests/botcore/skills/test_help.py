"""help: /help lists the commands of the skills this portal has on, in the user's language."""

from __future__ import annotations

import pytest

from botcore.errors import SkillConfigError
from botcore.models import BotCommand
from botcore.services.skill_configs import configure_skill
from botcore.skills.base import CommandSpec, Skill
from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.builtin.help import HelpSkill, list_visible_commands
from botcore.skills.builtin.standup import StandupSkill
from botcore.skills.testing import make_command_event, run_skill
from botcore.vibe.events import EventType

ALL = (HelpSkill(), StandupSkill(), EchoSkill())


def test_help_lists_each_enabled_command_once_with_send_links():
    answer = run_skill(HelpSkill(), make_command_event("help"), enabled_skills=ALL).answers[0]
    assert answer.splitlines()[:4] == [
        "[b]Commands[/b]",
        "[send=/help]/help[/send] — Show the command list",
        "[send=/standup]/standup[/send] — Today's standup: who has answered",
        "[send=/ping]/ping[/send] — Check whether the bot is alive",
    ]
    assert "[b]Echo[/b] — Repeats what you write" in answer


class Poll(Skill):
    name = "poll"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (
        CommandSpec(
            "poll",
            title={"en": "Poll"},
            description={"en": "Start a poll", "ru": "Начать опрос"},
            params={"en": "question; option; option", "ru": "вопрос; вариант; вариант"},
        ),
    )

    def handle(self, event, ctx) -> None:
        ctx.answer_command("started")


def test_help_says_what_follows_a_command_that_takes_parameters():
    """From a skill author's trial: /help listed /poll without the hint its CommandSpec gives, so nobody
    knew to write the question after it."""
    skills = (HelpSkill(), Poll())
    english = run_skill(HelpSkill(), make_command_event("help"), enabled_skills=skills).answers[0]
    russian = run_skill(
        HelpSkill(), make_command_event("help", language="ru"), enabled_skills=skills
    ).answers[0]
    assert "[put=/poll ]/poll[/put] [i]question; option; option[/i] — Start a poll" in english.splitlines()
    assert "[put=/poll ]/poll[/put] [i]вопрос; вариант; вариант[/i] — Начать опрос" in russian.splitlines()


def test_a_command_that_takes_parameters_is_put_in_the_input_not_sent_bare():
    """From a skill author's trial: clicked in /help, /poll was sent at once with nothing after it, and the
    skill could only answer how to use it; a command without parameters is still sent by its click."""
    answer = run_skill(HelpSkill(), make_command_event("help"), enabled_skills=(HelpSkill(), Poll())).answers[
        0
    ]
    assert answer.splitlines()[1:3] == [
        "[send=/help]/help[/send] — Show the command list",
        "[put=/poll ]/poll[/put] [i]question; option; option[/i] — Start a poll",
    ]


def test_help_speaks_the_users_language_and_english_otherwise():
    russian = run_skill(HelpSkill(), make_command_event("help", language="ru"), enabled_skills=ALL).answers[0]
    assert russian.startswith("[b]Команды[/b]\n[send=/help]/help[/send] — Показать список команд")
    german = run_skill(HelpSkill(), make_command_event("help", language="de"), enabled_skills=ALL).answers[0]
    assert german.startswith("[b]Commands[/b]")


def test_help_only_knows_the_portals_enabled_skills():
    answer = run_skill(HelpSkill(), make_command_event("help"), enabled_skills=(HelpSkill(),)).answers[0]
    assert "/ping" not in answer and "/standup" not in answer


@pytest.mark.slow
def test_on_the_platform_help_answers_and_follows_the_portals_switches(world, task_queue):
    assert set(BotCommand.objects.filter(bot=world.bot).values_list("command", "skill_name")) == {
        ("help", "help"),
        ("ping", "echo"),
    }
    world.say("/help", user_id=world.sp.member_id)  # Boris reads Russian
    world.poll()
    answers = [m["text"] for m in world.messages() if m["text"].startswith("[b]Команды")]
    assert len(answers) == 1 and "/ping" in answers[0] and "/standup" not in answers[0]

    configure_skill(world.sp.portal, skill_name="echo", is_enabled=False)
    task_queue.run()  # the worker re-registers the commands
    assert set(BotCommand.objects.filter(bot=world.bot).values_list("command", flat=True)) == {"help"}
    platform_commands = {
        c["command"]
        for c in world.sp.control.get(
            "/_sandbox/bots", params={"portalId": world.sp.sandbox_portal_id}
        ).json()["data"]["bots"][0]["commands"]
    }
    assert platform_commands == {"/help"}
    world.say("/help")
    world.say("anyone there?")  # no skill on this portal takes plain messages now
    world.poll()
    latest = [m["text"] for m in world.messages() if m["text"].startswith("[b]Commands")]
    assert len(latest) == 1 and "/ping" not in latest[0]
    assert not any("anyone there?" in m["text"] for m in world.messages())


@pytest.mark.slow
def test_with_help_off_echo_answers_help_as_the_reference_does(world, task_queue):
    configure_skill(world.sp.portal, skill_name="help", is_enabled=False)
    task_queue.run()
    world.say("/help")
    world.poll()
    assert any(m["text"].startswith(f"[B]{world.bot.name} — Commands[/B]") for m in world.messages())
    assert BotCommand.objects.get(bot=world.bot, command="help").skill_name == "echo"


@pytest.mark.slow
def test_provisioning_again_changes_no_command_on_the_platform(world):
    from botcore.services.bots import provision_bot

    start = world.last_call_seq()
    provision_bot(world.sp.portal)
    changes = [
        c for c in world.calls_since(start) if "/commands" in c["path"] and c["method"] in ("PATCH", "DELETE")
    ]
    assert changes == []


class _CapitalStandup(Skill):
    """Declares /Standup: the platform and routing match command names in any case."""

    name = "capital_standup"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("Standup", title={"en": "Standup"}, description={"en": "The capital one"}),)

    def handle(self, event, ctx) -> None:
        ctx.answer_command("capital")


def test_help_lists_a_command_two_skills_spell_in_different_cases_once_as_the_one_typing_reaches():
    """/Standup and /standup are one command to the platform and to routing (lower case): Help listed both,
    and the second line named a skill no typed /standup reaches. The boot refuses a capital command name
    (botcore.E003), and so does the test kit, with its message: the listing is held to it directly."""
    skills = (HelpSkill(), _CapitalStandup(), StandupSkill())
    listed = [spec for spec in list_visible_commands(skills) if spec.key == "standup"]
    assert [(spec.command, spec.description["en"]) for spec in listed] == [("Standup", "The capital one")]
    with pytest.raises(SkillConfigError, match="command 'Standup' must be 1-32 of a-z"):
        run_skill(HelpSkill(), make_command_event("help"), enabled_skills=skills)
