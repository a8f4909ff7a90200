"""A deployment that adds or removes a skill (BOTCORE_SKILLS) brings every installed portal's platform bot to
the new commands: the sweep ensure_schedules starts at every deploy and repeats hourly. From a skill author's
trial: a new skill's /command arrived as plain text (echo answered it), and a removed skill's commands stayed
on the platform, where typing one was stored as ignored and answered by nobody."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_q.models import Schedule

from botcore.models import BotCommand
from botcore.schedules import ensure_schedules
from botcore.services.bots import provision_bot
from botcore.skills.base import CommandSpec, Skill
from botcore.tasks import sync_stale_commands
from botcore.vibe.events import EventType
from tests.taskqueue import TaskFailed

pytestmark = pytest.mark.slow

BUILT_INS = ["botcore.skills.builtin.help.HelpSkill", "botcore.skills.builtin.echo.EchoSkill"]


class RollSkill(Skill):
    name = "roll"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("roll", title={"en": "Roll a die"}),)

    def handle(self, event, ctx) -> None:
        ctx.answer_command("4")


def platform_commands(sp, bot) -> list[str]:
    bots = sp.control.get("/_sandbox/bots").json()["data"]["bots"]
    [found] = [b for b in bots if b["id"] == bot.vibe_bot_id]
    return sorted(c["command"] for c in found["commands"])


def test_a_skill_added_or_removed_by_a_deployment_reaches_the_installed_bots_commands(
    sandbox_portal, settings, task_queue
):
    settings.BOTCORE_SKILLS = BUILT_INS
    bot = provision_bot(sandbox_portal.portal)
    assert platform_commands(sandbox_portal, bot) == ["/help", "/ping"]

    settings.BOTCORE_SKILLS = [*BUILT_INS, f"{__name__}.RollSkill"]  # the next deploy
    assert sync_stale_commands() == 1  # what the schedule runs
    task_queue.run()
    assert platform_commands(sandbox_portal, bot) == ["/help", "/ping", "/roll"]

    settings.BOTCORE_SKILLS = BUILT_INS  # and the one after it takes the skill away again
    assert sync_stale_commands() == 1  # what the schedule runs
    task_queue.run()
    assert platform_commands(sandbox_portal, bot) == ["/help", "/ping"]


def test_bots_whose_commands_match_are_left_alone(sandbox_portal, settings, task_queue):
    settings.BOTCORE_SKILLS = BUILT_INS
    provision_bot(sandbox_portal.portal)
    assert sync_stale_commands() == 0
    assert task_queue.queued == []  # nothing to re-register, no platform call


@pytest.mark.django_db
def test_the_sweep_is_scheduled_hourly_and_due_at_once_after_ensure_schedules():
    ensure_schedules()
    sweep = Schedule.objects.get(name="botcore.sync_stale_commands")
    assert sweep.func == "botcore.tasks.sync_stale_commands" and sweep.schedule_type == Schedule.HOURLY
    assert sweep.next_run <= timezone.now()


def test_an_admin_switching_a_skill_again_and_again_costs_the_platform_one_sync(
    sandbox_portal, settings, task_queue
):
    """From an outside probe: a skill switched on and off 1,110 times in 92 s queued as many syncs, each
    spending the app key all portals share. Switches made while a sync is queued share it; switched back
    to where they were, the commands ask the platform nothing."""
    from botcore.services.skill_configs import configure_skill

    settings.BOTCORE_SKILLS = [*BUILT_INS, f"{__name__}.RollSkill"]
    bot = provision_bot(sandbox_portal.portal)
    portal = sandbox_portal.portal
    calls_before = len(sandbox_portal.calls(bot.vibe_bot_id))
    for enabled in [False, True] * 20:  # back where it started
        configure_skill(portal, skill_name="roll", is_enabled=enabled)
    task_queue.run()
    assert len(sandbox_portal.calls(bot.vibe_bot_id)) == calls_before
    for enabled in [True, False] * 20 + [False]:  # then off
        configure_skill(portal, skill_name="roll", is_enabled=enabled)
    assert len(task_queue.run()) == 1
    assert platform_commands(sandbox_portal, bot) == ["/help", "/ping"]
    # One sync's calls: the commands kept registered again (idempotent on the platform) and the one DELETE.
    assert len(sandbox_portal.calls(bot.vibe_bot_id)) == calls_before + 2 + 1


def test_a_removed_command_whose_delete_answer_was_lost_is_dropped_once_on_a_wrapping_platform(
    sandbox_portal, settings, task_queue
):
    """`wrapped-bitrix-errors`: a platform passes imbot.v2's COMMAND_NOT_FOUND on as its 502 BITRIX_ERROR,
    the code at the start of the message. The DELETE of a command no skill uses any more did its work but its
    answer was lost; its retry met "COMMAND_NOT_FOUND: …", read as Bitrix24's passing failure: retried, the
    sync failed, and every later sync failed again on that delete. Gone is gone: the record goes, and the next
    sweep is quiet."""
    settings.BOTCORE_SKILLS = [*BUILT_INS, f"{__name__}.RollSkill"]
    bot = provision_bot(sandbox_portal.portal)
    sandbox_portal.speak("wrapped-bitrix-errors")
    lost = {"method": "DELETE", "path": "/v1/bots/{bot_id}/commands/{command_id}", "dropRate": 1}
    rule = sandbox_portal.control.post("/_sandbox/faults", json={**lost, "afterAction": True}).json()["data"]
    settings.BOTCORE_SKILLS = BUILT_INS  # the next deploy takes the skill away
    assert sync_stale_commands() == 1
    task_queue.run()
    sandbox_portal.control.delete(f"/_sandbox/faults/{rule['id']}")
    assert platform_commands(sandbox_portal, bot) == ["/help", "/ping"]
    assert sorted(BotCommand.objects.filter(bot=bot).values_list("command", flat=True)) == ["help", "ping"]
    deletes = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["method"] == "DELETE"]
    assert len(deletes) == 2  # the one whose answer was lost, and its retry that met COMMAND_NOT_FOUND
    assert sync_stale_commands() == 0  # nothing left to sync: no delete tried again


def test_a_removed_command_whose_delete_bitrix24_failed_keeps_its_record_for_the_next_sync(
    sandbox_portal, settings, task_queue
):
    """Bitrix24's own failure (502 BITRIX_ERROR quoting no refusal) says nothing of the command: it may
    still be there, so its record stays and the next sweep deletes it."""
    settings.BOTCORE_SKILLS = [*BUILT_INS, f"{__name__}.RollSkill"]
    bot = provision_bot(sandbox_portal.portal)
    sandbox_portal.speak("wrapped-bitrix-errors")
    failing = {"method": "DELETE", "path": "/v1/bots/{bot_id}/commands/{command_id}", "errorRate": 1}
    rule = sandbox_portal.control.post("/_sandbox/faults", json={**failing, "errorCode": "BITRIX_ERROR"})
    settings.BOTCORE_SKILLS = BUILT_INS
    assert sync_stale_commands() == 1
    with pytest.raises(TaskFailed):
        task_queue.run()
    assert BotCommand.objects.filter(bot=bot, command="roll").exists()
    sandbox_portal.control.delete(f"/_sandbox/faults/{rule.json()['data']['id']}")
    assert sync_stale_commands() == 1
    task_queue.run()
    assert platform_commands(sandbox_portal, bot) == ["/help", "/ping"]
    assert not BotCommand.objects.filter(bot=bot, command="roll").exists()


class CapitalStandupSkill(Skill):
    name = "capital_standup"
    event_types = frozenset({EventType.COMMAND_ADD})
    commands = (CommandSpec("Standup", title={"en": "Stand-up"}),)

    def handle(self, event, ctx) -> None:
        ctx.answer_command("capital")


class StandupSkill(CapitalStandupSkill):
    name = "lower_standup"
    commands = (CommandSpec("standup", title={"en": "Stand-up"}),)


def test_a_second_case_of_a_command_name_never_reaches_the_platform(sandbox_portal, settings):
    """The platform takes /Standup and /standup for one command, as routing does (command_key). A declared
    name is lower case (the registry refuses a capital at load, naming it), so no deployment registers a
    second case of a name; counted where the platform records the calls."""
    from botcore.errors import SkillConfigError

    settings.BOTCORE_SKILLS = [*BUILT_INS, f"{__name__}.CapitalStandupSkill", f"{__name__}.StandupSkill"]
    with pytest.raises(SkillConfigError, match="'Standup'"):
        provision_bot(sandbox_portal.portal)
    calls = sandbox_portal.control.get("/_sandbox/calls").json()["data"]["calls"]
    assert [c for c in calls if c["method"] == "POST" and c["path"].endswith("/commands")] == []

    settings.BOTCORE_SKILLS = [*BUILT_INS, f"{__name__}.StandupSkill"]
    bot = provision_bot(sandbox_portal.portal)
    assert platform_commands(sandbox_portal, bot) == ["/help", "/ping", "/standup"]
