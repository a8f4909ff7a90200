"""bot_shell: a skill talked to from the terminal, offline (printing what it did) and through a sandbox."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from django.core.management import CommandError, call_command

from botcore.skills.base import Skill
from botcore.vibe.events import EventType


def shell(*lines: str, args: tuple[str, ...] = ()) -> str:
    out = io.StringIO()
    call_command("bot_shell", *args, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
    return out.getvalue()


def test_offline_the_echo_bot_answers_and_shows_what_it_did():
    printed = shell(
        "Hello there", "/ping", ":react like", ":press 0", args=("--skill", "echo", "--user", "Ann Lee")
    )
    assert "(offline" in printed and "skills: echo" in printed
    assert "  … typing (IMBOT_AGENT_ACTION_THINKING)" in printed
    assert "bot> Ann, you wrote: [i]Hello there[/i]" in printed and "[0: Repeat]  [1: Help]" in printed
    assert "bot (answers /ping)> [B]Pong![/B] The bot is working fine." in printed
    assert "bot> (system) Ann added a reaction: 👍" in printed
    assert printed.count("you wrote: [i]Hello there[/i]") == 2  # Repeat sent it again


def test_offline_standup_asks_and_keeps_state_between_lines():
    printed = shell(
        ":run standup ask",
        "Did the thing",
        ":state standup 1",
        "/standup",
        args=(
            "--skill",
            "standup",
            "--skill",
            "echo",
            "--option",
            "standup.chat=chat5",
            "--option",
            "standup.participants=1",
        ),
    )
    assert "What did you do yesterday" in printed
    assert "bot> Thanks! Your answer goes into today's summary" in printed
    assert "'answers': ['Did the thing']" in printed


def test_offline_a_raising_skill_is_shown_with_where_it_raised_and_the_session_goes_on():
    """From a skill author's trial: the first exception ended the offline shell with a traceback, and the
    session's state with it; the bot itself marks the event failed and goes on."""
    printed = shell("boom", "after the bug", args=("--skill", "tests.botcore.skills.probe.ProbeSkill"))
    assert "(the probe skill failed: RuntimeError: the probe was told to fail)" in printed
    assert "  at " in printed and "probe.py:" in printed
    assert "bot> got: after the bug" in printed


def test_offline_run_refuses_a_schedule_the_skill_does_not_have():
    printed = shell(":run standup nosuch", args=("--skill", "standup", "--option", "standup.chat=chat5"))
    assert "(the standup skill has no schedule 'nosuch' with these options; it has: ask, report)" in printed


@pytest.mark.parametrize(
    "args, message",
    [
        (("--option", "standup.ask_at=25:00"), "ask_at"),
        (("--option", "standup"), "SKILL.FIELD=VALUE"),
        (("--skill", "echo", "--option", "standup.chat=chat1"), "not in this session"),
        (("--skill", "nope"), "neither a dotted path nor a skill entry point"),
    ],
)
def test_bad_arguments_stop_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        shell(":quit", args=args)


def test_a_skill_without_its_required_options_is_refused_as_turning_it_on_is():
    """From a skill author's trial: `--skill standup` alone ran the standup with no chat, a state no portal's
    bot is ever in (turning it on asks for the chat), and its answers spoke of an empty chat."""
    with pytest.raises(CommandError) as refused:
        shell("/standup", args=("--skill", "standup"))
    assert str(refused.value) == (
        "standup cannot run without its required options, as no portal can turn it on without them: "
        "chat: is required (give each with --option standup.FIELD=VALUE)"
    )


def test_against_the_sandbox_the_skills_answer_through_the_real_client(sandbox):
    printed = shell(
        ":join",
        "Hello, sandbox",
        "/ping",
        ":react fire",
        ":press 1",
        ":quit",
        "never read",
        args=("--sandbox", sandbox.root_url, "--skill", "echo", "--user", "Ann Lee"),
    )
    assert "(sandbox " in printed
    assert "Hi! I am Shell Bot." in printed
    assert "  (POST /typing -> 200)" in printed and "/reactions -> 200" in printed
    assert "> Ann, you wrote: [i]Hello, sandbox[/i]" in printed and "[0: Repeat]  [1: Help]" in printed
    assert "> [B]Pong![/B] The bot is working fine." in printed
    assert "> (system) Ann added a reaction: 🔥" in printed
    assert "[B]Shell Bot — Commands[/B]" in printed  # the Help button sent /help
    assert "never read" not in printed


def test_by_default_the_shell_routes_among_the_skills_a_new_portal_has_on():
    """standup is off until a portal's admin turns it on, so the live bot never routes to it, nor does the
    shell."""
    printed = shell("/standup")
    assert "skills: help, echo" in printed
    assert "off on a new portal: standup" in printed
    assert "What did you do yesterday" not in printed and "(answers /standup)" not in printed


@pytest.mark.django_db
def test_with_a_portal_the_shell_routes_among_that_portals_enabled_skills():
    from botcore.services.skill_configs import configure_skill
    from tenants.models import Portal

    portal = Portal.objects.create(member_id="acme", vibe_portal_id="vp-acme", domain="acme.bitrix24.com")
    configure_skill(portal, skill_name="echo", is_enabled=False)
    printed = shell("hello", args=("--portal", "acme"))
    assert "skills: help   " in printed and "off on this portal: standup, echo" in printed
    assert "you wrote" not in printed and "(no skill takes this: ignored)" in printed


@pytest.mark.django_db
def test_with_a_portal_a_skill_it_has_on_that_this_process_does_not_know_is_named():
    """From a skill author's trial: a portal with the author's skill on, the shell run without the stack's
    BOTCORE_SKILLS, echoed /lunch and said nothing of the skill the portal's bot routes to."""
    from botcore.models import SkillConfig
    from tenants.models import Portal

    portal = Portal.objects.create(member_id="acme", vibe_portal_id="vp-acme", domain="acme.bitrix24.com")
    SkillConfig.objects.create(portal=portal, skill_name="lunch", is_enabled=True)
    SkillConfig.objects.create(portal=portal, skill_name="dice", is_enabled=False)
    printed = shell(":quit", args=("--portal", "acme"))
    assert (
        "on this portal, not in this process's BOTCORE_SKILLS: lunch   (run the shell with the stack's "
        "BOTCORE_SKILLS: docs/skills.md 1.4)"
    ) in printed
    assert "dice" not in printed


def test_against_the_sandbox_the_shell_keeps_to_the_keys_budget_and_meets_no_429(sandbox, settings):
    # At the platform's own 10 requests/s a key, five quick lines made 11 calls in a second: the shell's
    # client had no budget, so the conversation was interleaved with 429 warnings and retries.
    sandbox.run_in_loop(lambda services: setattr(services.platform, "default_rate_limit", 10.0))
    settings.VIBE_BUDGET_PER_SECOND = 9

    printed = shell(
        "a", "b", "c", "d", "e", "f", ":quit", args=("--sandbox", sandbox.root_url, "--skill", "echo")
    )

    assert printed.count("you wrote:") == 6
    statuses = [
        call["status"] for call in httpx.get(f"{sandbox.root_url}/_sandbox/calls").json()["data"]["calls"]
    ]
    assert 429 not in statuses and statuses


class SlowSkill(Skill):
    """Takes longer than the test's cycle: a fetch inside handle() instead of ctx.defer."""

    name = "slow"
    event_types = frozenset({EventType.MESSAGE_ADD})
    summary = {"en": "Slow"}

    def handle(self, event, ctx) -> None:
        time.sleep(0.3)
        ctx.reply("done at last")


def test_offline_a_handler_slower_than_a_cycle_is_pointed_out(settings):
    """From a skill author's trial: a 31 s handle() answered in the shell without a word, while the live bot
    logs a warning for it (its next events waited that long) and kills it past the task queue's timeout."""
    settings.BOTCORE_CYCLE_DEADLINE_SECONDS = 0.2
    printed = shell("hello", args=("--skill", f"{__name__}.SlowSkill"))
    assert "bot> done at last" in printed
    said = "(the slow skill took 0.3 s, past a cycle's 0.2 s: live, the bot's next events wait for it;"
    assert said in printed and "hand slow work to ctx.defer)" in printed
