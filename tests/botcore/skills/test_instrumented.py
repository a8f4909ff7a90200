"""SideEffectSkill: each side effect is logged once it succeeded, keyed by event, and read back as counts."""

from __future__ import annotations

import json
import os

import pytest

from botcore.skills.testing import RecordingContext, make_message_event, run_skill
from botcore.skills.testing.instrumented import (
    SideEffectSkill,
    read_side_effects,
    summarize_side_effects,
)


@pytest.fixture
def log_path(tmp_path, settings):
    path = tmp_path / "effects.jsonl"
    settings.VIBE_SIDE_EFFECT_LOG = str(path)
    return path


def test_a_message_is_handled_reacted_replied_and_stored_and_each_is_logged(log_path):
    ctx = run_skill(SideEffectSkill(), make_message_event("hi", event_id=7), portal_member_id="p1")

    assert ctx.reactions == ["like"] and ctx.replies == ["seen event 7"]
    assert ctx.state_of(ctx.dialog_id) == {"messages": 1, "last_event_id": 7}
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [line["effect"] for line in lines] == ["handle", "reaction", "reply", "state"]
    assert {line["key"] for line in lines} == {"p1:100:7"}
    assert {line["pid"] for line in lines} == {os.getpid()}


def test_an_effect_that_failed_is_not_logged(log_path):
    class FailingReply(RecordingContext):
        def reply(self, text, **kwargs):
            raise RuntimeError("platform down")

    ctx = FailingReply(skill=SideEffectSkill(), portal_member_id="p1")
    with pytest.raises(RuntimeError):
        run_skill(SideEffectSkill(), make_message_event("hi", event_id=8), ctx=ctx)

    assert read_side_effects(log_path) == {("p1:100:8", "handle"): 1, ("p1:100:8", "reaction"): 1}


def test_handling_twice_shows_as_repeated_effects_and_a_rehandled_key(log_path):
    skill, ctx = SideEffectSkill(), RecordingContext(skill=SideEffectSkill(), portal_member_id="p1")
    run_skill(skill, make_message_event("once", event_id=1), ctx=ctx)
    run_skill(skill, make_message_event("twice", event_id=2), ctx=ctx)
    run_skill(skill, make_message_event("twice", event_id=2), ctx=ctx)
    with log_path.open("a") as log:
        log.write('{"key": "torn\n')  # a line cut short is skipped, not fatal

    summary = summarize_side_effects(read_side_effects(log_path))

    assert summary.handled == summary.replied == {"p1:100:1", "p1:100:2"}
    assert summary.repeated == {("p1:100:2", effect): 2 for effect in ("reaction", "reply", "state")}
    assert summary.rehandled == {"p1:100:2": 2}


def test_without_a_log_the_skill_still_acts_and_a_missing_log_reads_empty(tmp_path, settings, monkeypatch):
    settings.VIBE_SIDE_EFFECT_LOG = None
    monkeypatch.delenv("VIBE_SIDE_EFFECT_LOG", raising=False)

    ctx = run_skill(SideEffectSkill(), make_message_event("hi"))

    assert ctx.replies and not read_side_effects(tmp_path / "missing.jsonl")
