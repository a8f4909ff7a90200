"""The vote skill on a sandbox portal: a group chat, its members pressing the poll's buttons, poll cycles run
as a worker runs them."""

import pytest

from botcore.services.skill_configs import configure_skill

pytestmark = pytest.mark.slow


@pytest.fixture
def skill_paths():
    return ["help", "vibe_vote.skill.VoteSkill", "echo"]


def press(world, user_id, message_id, index):
    world.act("buttons", userId=user_id, messageId=message_id, index=index)
    world.poll()


def test_a_poll_in_a_group_counts_each_member_once_and_closes_with_the_result(world, task_queue):
    sp = world.sp
    configure_skill(sp.portal, skill_name="vote", is_enabled=True, options={"close_by": "author"})
    task_queue.run()  # the switch re-registers the bot's commands: /vote and the buttons' vote_pick
    team = world.team()
    world.say("/vote Lunch? | Pizza | Sushi", chat_id=team["id"])
    world.poll()
    [poll] = [m for m in world.chat_messages(team["id"]) if m["text"].startswith("[b]Lunch?")]
    assert [b["COMMAND"] for b in poll["keyboard"]] == ["vote_pick", "vote_pick"]

    seq = world.last_call_seq()
    press(world, sp.member_id, poll["id"], 0)  # Boris: Pizza
    press(world, sp.admin_id, poll["id"], 0)  # Alice: Pizza
    press(world, sp.member_id, poll["id"], 1)  # Boris again: moves to Sushi
    press(world, sp.member_id, poll["id"], 1)  # and once more: nothing to change
    calls = world.calls_since(seq)
    edits = [c for c in calls if c["method"] == "PATCH"]
    assert len(edits) == 3 and len(calls) == 3  # an edit per changed vote; nothing posted
    [shown] = [m for m in world.chat_messages(team["id"]) if m["id"] == poll["id"]]
    assert "Pizza — 1" in shown["text"] and "Sushi — 1" in shown["text"]

    world.say("/vote close", user_id=sp.member_id, chat_id=team["id"])  # Boris did not start it
    world.poll()
    assert "Alice Admin" in world.chat_messages(team["id"])[-1]["text"]
    world.say("/vote close", chat_id=team["id"])
    world.poll()
    messages = world.chat_messages(team["id"])
    assert "Pizza, Sushi (1)" in messages[-1]["text"]
    [closed] = [m for m in messages if m["id"] == poll["id"]]
    assert not closed["keyboard"]
