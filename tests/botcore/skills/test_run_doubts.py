"""A deferred job or a scheduled run that left a post, chat or file in doubt is marked on its run and told to
the portal's admins by the minute sweep, as a person's event is (services/doubt_notices.py). Before, only its
error column said so: the admins heard nothing (a scheduled run's chat in doubt was told as a run that "ran
into an error"). Counted on the platform: the notices the admin's dialog holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from botcore.errors import ActionInDoubtError
from botcore.models import SkillRun
from botcore.services.executor import execute_run
from botcore.services.skill_runs import claim_run
from botcore.services.skill_schedules import sweep_schedules
from botcore.skills.base import Skill
from botcore.skills.events import BackendEventType, DeferredJobEvent
from botcore.vibe.events import EventType

pytestmark = [pytest.mark.slow]

NOTICE = "may not have finished"
FAILED_RUN_NOTICE = "did not run as planned"


class ReportJobSkill(Skill):
    """Asked in a chat, it defers the report, and the job uploads it there."""

    name = "reportjobs"
    event_types = frozenset({EventType.MESSAGE_ADD, BackendEventType.DEFERRED_JOB})

    def handle(self, event, ctx) -> None:
        if isinstance(event, DeferredJobEvent):
            ctx.upload_file("report.txt", b"the report")
        else:
            ctx.defer("report")


class MorningSkill(Skill):
    """A schedule that posts the morning's note to the portal's admin."""

    name = "morning"
    event_types = frozenset({BackendEventType.SCHEDULED_RUN})
    to = ""

    def handle(self, event, ctx) -> None:
        ctx.send(MorningSkill.to, "good morning")


class RoomSkill(Skill):
    """A schedule that creates the day's chat, as ctx.create_chat raises when an earlier attempt may have."""

    name = "rooms"
    event_types = frozenset({BackendEventType.SCHEDULED_RUN})

    def handle(self, event, ctx) -> None:
        raise ActionInDoubtError("the day's room", write="chat")


@pytest.fixture
def skill_paths():
    return [f"{__name__}.ReportJobSkill", f"{__name__}.MorningSkill", f"{__name__}.RoomSkill"]


def notices(world) -> list[str]:
    return [m["text"] for m in world.messages() if NOTICE in m["text"]]


def scheduled_run(world, skill: str) -> SkillRun:
    at = timezone.now().replace(second=0, microsecond=0)
    run = claim_run(
        portal_id=world.bot.portal_id,
        skill_name=skill,
        kind=SkillRun.Kind.SCHEDULED,
        run_key=f"schedule:{skill}:{at.isoformat()}",
        payload={"schedule": skill, "due_at": at.isoformat(), "local_due_at": "2030-03-04T07:30:00+00:00"},
        due_at=at,
    )
    assert run is not None
    return run


def fault(world, path: str) -> None:
    """The platform acts on `path`, then its answer is lost."""
    rule = {"method": "POST", "path": path, "afterAction": True, "dropRate": 1.0}
    assert world.sp.control.post("/_sandbox/faults", json=rule).is_success


def due_again(run: SkillRun) -> None:
    """The fault is gone and the run's retry is due."""
    SkillRun.objects.filter(pk=run.pk).update(due_at=timezone.now(), enqueued_at=None)


def test_a_job_that_left_an_upload_in_doubt_is_told_to_the_admins_once(world, task_queue):
    world.say("report please", user_id=world.sp.member_id)
    world.poll()
    [run] = SkillRun.objects.filter(skill_name="reportjobs")
    fault(world, f"/v1/bots/{world.bot_id}/files")
    task_queue.run()  # the platform took the file; its answer was lost: retried later
    world.sp.control.delete("/_sandbox/faults")
    due_again(run)
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == SkillRun.Status.FAILED and run.left_in_doubt == "upload"
    assert notices(world) == []  # the run sends none: the sweep does

    sweep_schedules(timezone.now())
    sweep_schedules(timezone.now() + timedelta(hours=2))  # past the window: nothing new to tell
    [notice] = notices(world)
    assert "“reportjobs” may not have finished a job it was doing for a request in" in notice
    assert "the private chat with Boris Ivanov" in notice
    assert "the file it was sending may or may not have arrived" in notice and "the report" not in notice


def test_a_scheduled_run_that_left_a_post_in_doubt_is_told_to_the_admins(world, task_queue):
    """Its post reached the chat and the answer was lost; a repeat could show it twice, so the run's retry
    leaves it (done, the post in doubt): the admins hear which run and what may be missing."""
    assert world.sp.control.post("/_sandbox/dialects", json={"dialects": ["no-template-dedupe"]}).is_success
    MorningSkill.to = str(world.sp.member_id)
    run = scheduled_run(world, "morning")
    fault(world, f"/v1/bots/{world.bot_id}/messages")
    execute_run(run.pk)
    world.sp.control.delete("/_sandbox/faults")
    due_again(run)
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == SkillRun.Status.DONE and run.left_in_doubt == "post"
    assert "post 1 of it left in doubt" in run.error

    sweep_schedules(timezone.now())
    sweep_schedules(timezone.now() + timedelta(minutes=1))
    [notice] = notices(world)
    assert "“morning” may not have finished its scheduled run of 2030-03-04 07:30" in notice
    assert "one of its answers may be missing" in notice


def test_a_scheduled_run_that_left_a_chat_in_doubt_is_one_notice_saying_so_not_a_failed_runs(
    world, task_queue
):
    run = scheduled_run(world, "rooms")
    assert execute_run(run.pk) == SkillRun.Status.FAILED
    sweep_schedules(timezone.now())
    sweep_schedules(timezone.now() + timedelta(hours=2))
    [notice] = notices(world)
    assert "the new chat it was creating may or may not exist" in notice
    assert [m for m in world.messages() if FAILED_RUN_NOTICE in m["text"]] == []


def test_runs_left_in_doubt_together_are_one_notice_counting_the_rest(world, task_queue):
    first = scheduled_run(world, "rooms")
    assert execute_run(first.pk) == SkillRun.Status.FAILED
    second = claim_run(
        portal_id=world.bot.portal_id,
        skill_name="rooms",
        kind=SkillRun.Kind.DEFERRED,
        run_key="defer:room:1",
        payload={"job": "room", "data": {}, "origin": None, "due_at": timezone.now().isoformat()},
    )
    assert second is not None and execute_run(second.pk) == SkillRun.Status.FAILED
    sweep_schedules(timezone.now())
    sweep_schedules(timezone.now() + timedelta(hours=2))
    [notice] = notices(world)
    assert "And 1 more of its runs or jobs was left in doubt since." in notice
