"""The reminder skill with the test kit alone: no network, no database."""

from datetime import datetime, timedelta

import time_machine
from django.utils import timezone
from vibe_remind.skill import RemindSkill

from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.state import MemoryStateStore
from botcore.skills.testing import make_command_event, make_message_event, route, run_deferred, run_skill


def remind(params, *, state=None, **ctx_kwargs):
    event = make_command_event("remind", params=params, user_id=2, user_name="Boris")
    return run_skill(RemindSkill(), event, state_store=state or MemoryStateStore(), **ctx_kwargs)


def test_the_command_defers_a_job_to_its_time_and_the_job_says_it_to_the_asker():
    before = timezone.now()
    ctx = remind("10 buy [b]milk[/b]")
    # their words as they typed them: escaped, so their BB codes show rather than format
    assert ctx.answers == ["OK: in 10 min I will remind you: buy [\u200bb]milk[\u200b/b]"]
    [deferred] = [a for a in ctx.actions if a.kind == "defer"]
    due = datetime.fromisoformat(deferred.details["due_at"])
    assert timedelta(minutes=10) <= due - before < timedelta(minutes=10, seconds=5)
    [job] = run_deferred(RemindSkill(), ctx)
    assert job.replies == ["[user=2]Boris[/user], you asked me to remind you: buy [\u200bb]milk[\u200b/b]"]


def test_a_message_in_the_private_dialog_asks_too_and_the_job_speaks_the_askers_language():
    event = make_message_event("remind me in 5 minutes to call Anna", language="ru")
    ctx = run_skill(RemindSkill(), event, portal_language="en")
    assert ctx.replies == ["Хорошо: через 5 мин напомню: call Anna"]
    [job] = run_deferred(RemindSkill(), ctx)
    assert job.replies[0].endswith(", вы просили напомнить: call Anna")


def test_the_portals_caps_hold_and_an_unclear_ask_is_told_how():
    assert remind("100 x", options={"most_minutes": 60}).answers == ["At most 60 minutes ahead, please."]
    assert remind("soon").answers == ["Say when and what: /remind 10 buy milk (in minutes, at most 1440)"]
    assert remind("0 now").answers[0].startswith("Say when and what")
    state = MemoryStateStore()
    for _ in range(2):
        remind("5 x", state=state, options={"most_waiting": 2})
    refused = remind("5 x", state=state, options={"most_waiting": 2})
    assert refused.answers == ["You have 2 reminders waiting here already; that is the most."]
    assert refused.deferred == []


def test_a_reminder_past_its_time_frees_its_place_even_if_its_job_never_ran():
    """A job is skipped when the skill was turned off meanwhile: a count it would have lowered stays high
    for good, so the state keeps due times and counts the ones still ahead."""
    state = MemoryStateStore()
    for _ in range(2):
        remind("5 x", state=state, options={"most_waiting": 2})
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        again = remind("5 y", state=state, options={"most_waiting": 2})
    assert again.answers == ["OK: in 5 min I will remind you: y"]


def test_group_chats_and_other_messages_go_to_the_next_skill():
    skills = [RemindSkill(), EchoSkill()]
    assert route(make_message_event("remind me in 3 min to stretch"), skills).name == "remind"
    assert route(make_message_event("remind me in 3 min to stretch", chat_id=5), skills).name == "echo"
    assert route(make_message_event("hello"), skills).name == "echo"
    assert route(make_command_event("remind", params="3 stretch", chat_id=5), skills).name == "remind"
