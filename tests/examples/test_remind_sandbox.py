"""The reminder skill on a sandbox portal: asked in the bot's dialog, rung once by the minute sweep when its
time comes, through the real task queue (docs/skills.md §13)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from botcore.services.skill_configs import configure_skill
from botcore.services.skill_schedules import sweep_schedules

pytestmark = pytest.mark.slow


@pytest.fixture
def skill_paths():
    return ["help", "vibe_remind.skill.RemindSkill", "echo"]


def rung(world) -> list[str]:
    return [m["text"] for m in world.messages() if "you asked me to remind you" in m["text"]]


def test_a_reminder_rings_once_when_its_time_comes_not_before(world, task_queue):
    configure_skill(world.sp.portal, skill_name="remind", is_enabled=True)
    task_queue.run()  # the switch re-registers the bot's commands: /remind
    world.say("/remind 10 tea")
    world.say("remind me in 20 minutes to call Anna")
    world.poll()
    said = [m["text"] for m in world.messages()]
    assert "OK: in 10 min I will remind you: tea" in said
    assert "OK: in 20 min I will remind you: call Anna" in said

    sweep_schedules(timezone.now() + timedelta(minutes=5))  # the minute sweep, before either is due
    task_queue.run()
    assert rung(world) == []
    for minutes in (11, 12):  # the first one's time, and a sweep after it: it rings once
        sweep_schedules(timezone.now() + timedelta(minutes=minutes))
        task_queue.run()
    assert [text.split(": ", 1)[1] for text in rung(world)] == ["tea"]
    sweep_schedules(timezone.now() + timedelta(minutes=21))
    task_queue.run()
    assert [text.split(": ", 1)[1] for text in rung(world)] == ["tea", "call Anna"]


def test_a_reminder_due_after_the_skill_was_turned_off_is_skipped(world, task_queue):
    configure_skill(world.sp.portal, skill_name="remind", is_enabled=True)
    task_queue.run()
    world.say("/remind 10 tea")
    world.poll()
    configure_skill(world.sp.portal, skill_name="remind", is_enabled=False)
    task_queue.run()
    sweep_schedules(timezone.now() + timedelta(minutes=11))
    task_queue.run()
    assert rung(world) == []
