"""standup: a participant's answers are one list of records, each answer with its message; the two parallel
lists the release before kept are read back (a running portal's state after an upgrade) and still written
for it (while an upgrade runs, after a rollback)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from botcore.models import ConversationState
from botcore.services.conversation_state import DatabaseStateStore
from botcore.skills.builtin.standup import StandupSkill
from botcore.skills.testing import (
    RecordingContext,
    make_command_event,
    make_message_delete_event,
    make_message_event,
    make_message_update_event,
    run_skill,
)
from tenants.models import Portal
from tests.botcore.skills.test_standup import ASK, OPTIONS, REPORT, TEAM

MIDDAY = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # 11:00 in Moscow, the question open
DAY = {
    "day": "2030-03-04",
    "asked_at": "2030-03-04T09:30:00+03:00",
    "status": "open",
    "open_until": "2030-03-04T17:30:00+03:00",
}


def summary_lines(ctx: RecordingContext) -> list[str]:
    return ctx.posts_to("chat5")[-1].text.splitlines()[1:]


def test_an_answer_edited_or_deleted_after_the_stored_lists_lost_an_item_changes_that_answer():
    """The answers and their messages were two parallel lists. With the oldest answer's text lost and its
    message kept, the lists no longer lined up: deleting the newest answer failed the event (IndexError, and
    the person got the apology), and an edit would change its neighbour."""
    ctx = run_skill(StandupSkill(), ASK, options=OPTIONS, chat_users=TEAM)
    with ctx.state_for("7").update() as state:  # as the release before left it
        state.pop("answer_messages", None)
        state.update(answers=["Shipped the API", "Reviewing"], answer_ids=[70, 71, 72], name="Anna Lee")
    with time_machine.travel(MIDDAY):
        run_skill(StandupSkill(), make_message_delete_event(72, user_id=7), ctx=ctx)
        edit = make_message_update_event("Shipped the API and its docs", user_id=7, message_id=71)
        run_skill(StandupSkill(), edit, ctx=ctx)
    assert ctx.state_of("7")["answer_messages"] == [
        {"message_id": 71, "text": "Shipped the API and its docs"}
    ]
    run_skill(StandupSkill(), REPORT, ctx=ctx)
    assert summary_lines(ctx) == [
        "[b]Anna Lee[/b]: Shipped the API and its docs",
        "[b]Boris Ivanov[/b]: — no answer",
    ]


@pytest.fixture
def running_portal(db) -> DatabaseStateStore:
    """A portal mid-standup as the release before stored it: Anna's first answer kept before answers' ids
    were, her second with its message; Boris's one answer."""
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    states = {
        "chat5": {
            "day": "2030-03-04",
            "asked_at": DAY["asked_at"],
            "participants": [{"id": 7, "name": "Anna Lee"}, {"id": 8, "name": "Boris Ivanov"}],
        },
        "7": {
            **DAY,
            "answers": ["Before ids were kept", "Shipped the API"],
            "answer_ids": [0, 71],
            "name": "Anna Lee",
        },
        "8": {**DAY, "answers": ["Reviewing"], "answer_ids": [81], "name": "Boris Ivanov"},
    }
    for dialog_id, data in states.items():
        ConversationState.objects.create(portal=portal, skill_name="standup", dialog_id=dialog_id, data=data)
    return DatabaseStateStore(portal_id=portal.pk, skill_name="standup")


def test_a_running_portals_answers_stored_by_the_release_before_are_read_after_the_upgrade(running_portal):
    ctx = RecordingContext(skill=StandupSkill(), options=OPTIONS, state_store=running_portal)
    with time_machine.travel(MIDDAY):
        status = run_skill(StandupSkill(), make_command_event("standup"), ctx=ctx).answers[-1]
        assert status.startswith("Today's standup: 2 of 2 answered.")
        edit = make_message_update_event("Shipped the API and its docs", user_id=7, message_id=71)
        run_skill(StandupSkill(), edit, ctx=ctx)
        run_skill(StandupSkill(), make_message_delete_event(81, user_id=8), ctx=ctx)
        run_skill(
            StandupSkill(),
            make_message_event("Fixed CI", user_id=8, user_name="Boris Ivanov", message_id=82),
            ctx=ctx,
        )
    run_skill(StandupSkill(), REPORT, ctx=ctx)
    assert summary_lines(ctx) == [
        "[b]Anna Lee[/b]: Before ids were kept",
        "Shipped the API and its docs",
        "[b]Boris Ivanov[/b]: Fixed CI",
    ]
    anna = ConversationState.objects.get(dialog_id="7").data
    assert anna["answer_messages"] == [
        {"message_id": 0, "text": "Before ids were kept"},
        {"message_id": 71, "text": "Shipped the API and its docs"},
    ]
    # What the release before reads, while an upgrade runs or after a rollback: the same answers.
    assert anna["answers"] == ["Before ids were kept", "Shipped the API and its docs"]
    assert anna["answer_ids"] == [0, 71]


def test_an_answer_the_release_before_stored_while_the_upgrade_ran_is_not_lost(running_portal):
    """Old and new workers share the portal's events until every qcluster is restarted: the old one writes
    only the two lists, so a state whose lists differ from its records was written last by it."""
    ctx = RecordingContext(skill=StandupSkill(), options=OPTIONS, state_store=running_portal)
    with time_machine.travel(MIDDAY):
        run_skill(
            StandupSkill(),
            make_message_event("Fixed CI", user_id=8, user_name="Boris Ivanov", message_id=82),
            ctx=ctx,
        )
        row = ConversationState.objects.get(dialog_id="8")
        row.data["answers"].append("Deployed")  # the release before's collect
        row.data["answer_ids"].append(83)
        row.save()
        run_skill(StandupSkill(), make_message_update_event("Deployed it", user_id=8, message_id=83), ctx=ctx)
    run_skill(StandupSkill(), REPORT, ctx=ctx)
    assert summary_lines(ctx)[-3:] == ["[b]Boris Ivanov[/b]: Reviewing", "Fixed CI", "Deployed it"]
