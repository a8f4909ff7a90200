"""A job deferred to later (ctx.defer_at: a reminder) under the platform's faults, counted in what the
sandbox shows: its reply posted once, late rather than never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from botcore.models import SkillRun
from botcore.services.skill_schedules import sweep_schedules

MONDAY_9_UTC = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    traveller = time_machine.travel(MONDAY_9_UTC, tick=True)
    yield traveller.start()
    traveller.stop()


@pytest.fixture
def skill_paths():
    return ["tests.botcore.skills.probe.ProbeSkill"]


def _minute(clock, minute: int) -> None:
    clock.move_to(MONDAY_9_UTC + timedelta(minutes=minute, seconds=20))


@pytest.mark.slow
def test_a_reminder_due_while_the_platform_is_down_comes_once_it_is_back(clock, world, task_queue):
    world.say("later")
    world.poll()
    task_queue.run()
    assert SkillRun.objects.get().status == "pending"
    _minute(clock, 9)
    world.sp.control.post(
        "/_sandbox/faults", json={"path": "*", "errorRate": 1, "errorCode": "BITRIX_UNAVAILABLE"}
    )
    for minute in range(10, 22):  # due at 09:10, down until 09:22
        _minute(clock, minute)
        sweep_schedules()
        task_queue.run(allow_failures=True)
    world.sp.control.delete("/_sandbox/faults")
    for minute in range(22, 40, 2):
        _minute(clock, minute)
        sweep_schedules()
        task_queue.run(allow_failures=True)
    print(list(SkillRun.objects.values_list("status", "attempts", "error")))
    assert [m["text"] for m in world.messages()].count("done later: later") == 1
