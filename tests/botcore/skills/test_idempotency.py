"""The idempotency key of a skill's outside call: the same on every attempt of one run, and on no other."""

import pytest

from botcore.models import SkillRun
from botcore.services.skill_runs import build_event
from botcore.skills.base import Skill
from botcore.skills.events import DeferredJobEvent
from botcore.skills.idempotency import idempotency_key
from botcore.skills.testing import (
    RecordingContext,
    make_command_event,
    make_deferred_event,
    make_message_event,
    run_deferred,
    run_skill,
)
from botcore.vibe.events import EventType


class Filer(Skill):
    """Defers one job per message; the job keeps the key it would send."""

    name = "filer"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx):
        if hasattr(event, "job"):
            ctx.reply(idempotency_key(event, "filer:file"))
        else:
            ctx.defer("file", text=event.text)
            ctx.defer("file", text=event.text + " again")


def keys_of(portal, event):
    ctx = run_skill(Filer(), event, ctx=RecordingContext(skill=Filer(), event=event, portal_member_id=portal))
    return ctx, [job.replies[0] for job in run_deferred(Filer(), ctx)]


def test_a_job_run_again_sends_the_key_it_sent_the_first_time():
    ctx, first = keys_of("portal-a", make_message_event("printer"))
    again = [job.replies[0] for job in run_deferred(Filer(), ctx)]  # the worker died: the same runs again
    assert again == first


def test_the_same_event_id_on_two_portals_and_two_jobs_of_one_event_get_keys_of_their_own():
    # Each portal's bot numbers its events from the start: the event's id alone would be one key for both.
    _, on_a = keys_of("portal-a", make_message_event("printer", event_id=6))
    _, on_b = keys_of("portal-b", make_message_event("printer", event_id=6))
    assert len({*on_a, *on_b}) == 4


def test_two_calls_of_one_job_name_what_they_make():
    job = make_deferred_event("file")
    assert idempotency_key(job, "tickets:file") != idempotency_key(job, "tickets:comment")
    assert len(idempotency_key(job, "tickets:file")) == 64
    with pytest.raises(ValueError, match="what the call makes"):
        idempotency_key(job, "")


def test_a_platform_event_is_refused_saying_where_the_call_belongs():
    with pytest.raises(TypeError, match=r"deferred job \(ctx.defer\)"):
        idempotency_key(make_command_event("ticket"), "tickets:file")


def test_two_events_of_one_portal_defer_jobs_with_keys_of_their_own_in_the_kit_as_live():
    # The kit once keyed every context's first job "defer:recorded:1": two presses read as one repeat.
    _, first = keys_of("portal-a", make_message_event("printer"))
    _, second = keys_of("portal-a", make_message_event("scanner"))
    assert not set(first) & set(second)


class KeyedFiler(Skill):
    """Asks its context for the key: refused on the message, given in the job it defers."""

    name = "keyedfiler"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx):
        if isinstance(event, DeferredJobEvent):
            ctx.reply(ctx.idempotency_key("keyedfiler:file"))
            return
        try:
            ctx.idempotency_key("keyedfiler:file")
        except TypeError as refused:
            ctx.reply(str(refused))
        ctx.defer("file")


@pytest.fixture
def skill_paths():
    return [f"{__name__}.KeyedFiler"]


def test_the_kit_s_context_keys_the_job_under_way_and_refuses_a_platform_event():
    event = make_message_event("printer")
    ctx = run_skill(KeyedFiler(), event, ctx=RecordingContext(skill=KeyedFiler(), event=event))
    [job] = run_deferred(KeyedFiler(), ctx)
    assert job.replies == [idempotency_key(ctx.deferred[0], "keyedfiler:file")]
    [refusal] = ctx.replies
    assert "needs a deferred job or a scheduled run under way, not a MessageAddEvent" in refusal
    assert "make the outside call in a deferred job (ctx.defer)" in refusal


def test_live_the_context_keys_the_job_under_way_and_refuses_a_platform_event_as_the_kit_s(world, task_queue):
    world.say("printer")
    world.poll()
    task_queue.run()
    run = SkillRun.objects.select_related("portal").get(skill_name="keyedfiler")
    said = [m["text"] for m in world.messages() if m["authorId"] == world.bot_id]
    kit = RecordingContext(skill=KeyedFiler(), event=make_message_event("printer"))
    with pytest.raises(TypeError) as kit_refusal:
        kit.idempotency_key("keyedfiler:file")
    assert said == [str(kit_refusal.value), idempotency_key(build_event(run, language=""), "keyedfiler:file")]
