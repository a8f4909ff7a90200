"""The vote skill with the test kit alone: no network, no database."""

from vibe_vote.skill import VoteSkill

from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.state import MemoryStateStore
from botcore.skills.testing import (
    RecordingContext,
    make_button_command_event,
    make_command_event,
    route,
    run_skill,
)

CHAT = 7


def start(state=None, params="Lunch? | Pizza | Sushi", **ctx_kwargs):
    """Alice starts a poll in the chat; `state`, one store the chat's later events share."""
    event = make_command_event("vote", params=params, chat_id=CHAT, user_id=1, user_name="Alice")
    return run_skill(VoteSkill(), event, state_store=state or MemoryStateStore(), **ctx_kwargs)


def press(state, number, choice, *, user_id, user_name, **ctx_kwargs):
    event = make_button_command_event(
        "vote_pick", params=f"{number} {choice}", chat_id=CHAT, user_id=user_id, user_name=user_name
    )
    return run_skill(VoteSkill(), event, state_store=state, **ctx_kwargs)


def close(state, *, user_id, user_name, **ctx_kwargs):
    event = make_command_event("vote", params="close", chat_id=CHAT, user_id=user_id, user_name=user_name)
    return run_skill(VoteSkill(), event, state_store=state, **ctx_kwargs)


def test_a_poll_is_posted_with_a_button_per_option():
    ctx = start()
    [post] = ctx.posts
    assert "Lunch?" in post.text and "Pizza — 0" in post.text
    buttons = [b for b in post.keyboard if "TEXT" in b]
    assert [(b["TEXT"], b["COMMAND"], b["COMMAND_PARAMS"]) for b in buttons] == [
        ("Pizza", "vote_pick", "1 0"),
        ("Sushi", "vote_pick", "1 1"),
    ]
    assert ctx.state_of(f"chat{CHAT}")["polls"]["1"]["message_id"] == post.message_id


def test_each_person_counts_once_and_a_second_press_moves_their_vote():
    state = MemoryStateStore()
    start(state)
    press(state, 1, 0, user_id=2, user_name="Boris")
    press(state, 1, 0, user_id=3, user_name="Carol")
    ctx = press(state, 1, 1, user_id=2, user_name="Boris")
    [edit] = ctx.edits
    assert "Pizza — 1" in edit["text"] and "Sushi — 1" in edit["text"] and "Votes: 2" in edit["text"]
    assert edit["keyboard"]  # the buttons stay while the poll is open
    assert ctx.state_of(f"chat{CHAT}")["polls"]["1"]["votes"] == {"2": 1, "3": 0}


def test_the_same_vote_again_edits_nothing():
    state = MemoryStateStore()
    start(state)
    press(state, 1, 0, user_id=2, user_name="Boris")
    assert press(state, 1, 0, user_id=2, user_name="Boris").actions == []


def test_close_shows_the_result_and_takes_the_buttons_away():
    state = MemoryStateStore()
    start(state)
    press(state, 1, 1, user_id=2, user_name="Boris")
    ctx = close(state, user_id=3, user_name="Carol")
    [edit] = ctx.edits
    assert edit["keyboard"] is False
    assert "Most votes: Sushi (1)" in ctx.answers[0] and "Carol" in ctx.answers[0]
    late = press(state, 1, 0, user_id=3, user_name="Carol")
    assert late.actions == []


def test_only_the_author_closes_when_the_portal_says_so():
    state = MemoryStateStore()
    start(state)
    ctx = close(state, user_id=3, user_name="Carol", options={"close_by": "author"})
    assert ctx.answers == ["Only Alice, who started the poll, may close it."]
    assert ctx.state_of(f"chat{CHAT}")["polls"]["1"]["open"] is True
    assert close(state, user_id=1, user_name="Alice", options={"close_by": "author"}).edits


def test_voters_are_named_only_when_the_portal_wants_it():
    state = MemoryStateStore()
    start(state)
    named = press(state, 1, 0, user_id=2, user_name="Boris [b]", options={"show_voters": True})
    assert "Pizza — 1 (Boris [\u200bb])" in named.edits[0]["text"]  # a name is text, never markup


def test_the_poll_speaks_the_portals_language_and_the_usage_the_writers():
    poll = start(language="en", portal_language="ru")
    assert "Голосов: 0" in poll.posts[0].text
    usage = run_skill(VoteSkill(), make_command_event("vote", params="Lunch?", language="ru"))
    assert usage.answers[0].startswith("Начать опрос")


def test_close_without_a_poll_says_so():
    ctx = run_skill(VoteSkill(), make_command_event("vote", params="close", chat_id=CHAT))
    assert ctx.answers == ["There is no open poll in this chat."]


def test_a_typed_vote_pick_is_not_a_press():
    skills = [VoteSkill(), EchoSkill()]
    assert route(make_button_command_event("vote_pick", params="1 0"), skills).name == "vote"
    assert route(make_command_event("vote_pick", params="1 0", chat_id=CHAT), skills) is None


def test_two_chats_keep_their_own_polls():
    state = MemoryStateStore()
    for chat_id, question in ((1, "A?"), (2, "B?")):
        run_skill(
            VoteSkill(),
            make_command_event("vote", params=f"{question} | x | y", chat_id=chat_id),
            state_store=state,
        )
    ctx = RecordingContext(skill=VoteSkill(), state_store=state)
    assert [ctx.state_of(f"chat{n}")["polls"]["1"]["question"] for n in (1, 2)] == ["A?", "B?"]


def test_who_may_close_is_offered_by_name_in_english_and_russian():
    """The settings page showed "anyone" and "author", and the Russian help explained the English words."""
    from botcore.skills.registry import check_skill_class

    check_skill_class(VoteSkill, "the vote example")
    close_by = VoteSkill.options_schema.fields["close_by"]
    assert close_by.values == ("anyone", "author") and close_by.default == "anyone"
    for choice in close_by.values:
        labels = close_by.choice_labels[choice]
        assert labels["en"] and labels["ru"] and labels["en"] != choice
