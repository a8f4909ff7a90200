"""No platform call inside `with ctx.state.update()`, in the kit as live. From a skill author's trial: a reply
inside the block passed run_skill, and live it held the dialog's lock (on SQLite the database's write lock,
every worker's writes waiting) for the whole HTTP call; and since a post's once-only record commits with the
block, a block that failed after the post left the post in the chat and no record of it, so the handling's
retry posted it again. Counted where the side effects land: posts on the platform, state kept."""

from __future__ import annotations

import pytest

from botcore.models import ConversationState, EventLogEntry
from botcore.skills.base import Skill
from botcore.skills.state import StateBlockError
from botcore.skills.testing import RecordingContext, make_message_event, run_skill
from botcore.vibe.events import EventType


class TalkerInBlock(Skill):
    """Says something from inside its state block, or after it."""

    name = "talker"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        text = event.message.text
        if text == "inside":
            with ctx.state.update() as state:
                state["seen"] = state.get("seen", 0) + 1
                ctx.reply("said inside the block")
        elif text == "react inside":
            with ctx.state.update() as state:
                state["seen"] = state.get("seen", 0) + 1
                ctx.react("like")
        elif text == "client inside":  # the platform client itself, for what the context has no method for
            with ctx.state.update() as state:
                state["seen"] = state.get("seen", 0) + 1
                ctx.client.send_message(ctx.bot_id, dialog_id=ctx.dialog_id, text="said through the client")
        elif text == "client after":
            with ctx.state.update() as state:
                state["seen"] = state.get("seen", 0) + 1
            ctx.client.send_message(ctx.bot_id, dialog_id=ctx.dialog_id, text="said through the client")
        elif text == "later inside":
            with ctx.state.update() as state:
                state["later"] = True
                ctx.defer("remind", n=1)  # a database write: commits with the block
        else:
            with ctx.state.update() as state:
                state["seen"] = state.get("seen", 0) + 1
            ctx.reply("said after the block")


@pytest.mark.parametrize(
    ("text", "call"), [("inside", "ctx.reply() or ctx.send()"), ("react inside", "ctx.react()")]
)
def test_the_kit_refuses_a_platform_call_inside_the_block_and_keeps_nothing(text, call):
    with pytest.raises(StateBlockError, match=r"inside `with ctx.state.update\(\)`: make it after") as raised:
        run_skill(TalkerInBlock(), make_message_event(text))
    assert str(raised.value).startswith(call)


def test_the_kit_takes_the_call_after_the_block_and_a_deferred_job_inside_it():
    after = run_skill(TalkerInBlock(), make_message_event("after"))
    assert after.replies == ["said after the block"]
    later = run_skill(TalkerInBlock(), make_message_event("later inside"))
    assert [job.job for job in later.deferred] == ["remind"] and later.state_of(later.dialog_id) == {
        "later": True
    }


class StandInClient:
    """What a skill's test gives RecordingContext(client=...): it notes each call, with no network."""

    base_url = "https://stand.in/v1"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.bot_ids: list[int] = []

    def send_message(self, bot_id, **fields):
        self.calls.append(("send_message", fields))
        self.bot_ids.append(bot_id)
        return 1


def test_the_kit_refuses_a_call_through_ctx_client_inside_the_block_and_sends_nothing():
    client = StandInClient()
    with pytest.raises(
        StateBlockError, match=r"^ctx.client.send_message\(\) inside `with ctx.state.update\(\)`"
    ):
        run_skill(TalkerInBlock(), make_message_event("client inside"), client=client)
    assert client.calls == []


def test_the_kit_s_ctx_client_is_the_client_it_was_given_outside_the_block():
    client = StandInClient()
    ctx = run_skill(TalkerInBlock(), make_message_event("client after"), client=client)
    [(call, fields)] = client.calls
    assert (call, fields["dialog_id"]) == ("send_message", ctx.dialog_id)
    assert fields["text"] == "said through the client"
    assert fields["template_id"]  # the handling's, as live (test_kit_matches_live)
    assert ctx.replies == ["said through the client"]
    assert ctx.client.base_url == client.base_url  # what is no call reads through
    assert RecordingContext().client is None  # none given: as live where the platform cannot be reached


def test_a_skill_typed_against_skill_context_finds_ctx_client_and_the_bot_id_its_calls_take():
    """From a skill author's trial: docs/skills.md tells a skill to call `ctx.client` for what the context has
    no method for, but SkillContext (what a handler's `ctx` is typed as) declared no `client`, so mypy refused
    `ctx.client.mark_read(...)` (attr-defined), and nothing gave the bot's id the client's every call takes
    (`event.bot.id` is Optional, absent from a deferred job's event, and after a move the polled bot's, not
    the one the context's own calls use)."""
    from botcore.skills.base import SkillContext
    from botcore.skills.testing import make_deferred_event
    from botcore.skills.testing.factories import BOT_ID

    assert isinstance(SkillContext.__dict__.get("client"), property)
    assert isinstance(SkillContext.__dict__.get("bot_id"), property)
    client = StandInClient()
    ctx = run_skill(TalkerInBlock(), make_message_event("client after", bot_id=77), client=client)
    assert ctx.bot_id == 77 and client.bot_ids == [77]
    origin = make_message_event("later inside", bot_id=77)
    assert RecordingContext(event=make_deferred_event("remind", origin=origin)).bot_id == 77
    assert RecordingContext(event=make_deferred_event("remind")).bot_id == BOT_ID


@pytest.fixture
def skill_paths():
    return [f"{__name__}.TalkerInBlock"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("inside", "after", "refusal", "said"),
    [
        ("inside", "after", "a platform call", "said after the block"),
        # ctx.client skipped the rule: its post went out with the dialog's lock held, the event handled.
        ("client inside", "client after", "ctx.client.send_message()", "said through the client"),
    ],
)
def test_live_a_post_inside_the_block_never_reaches_the_platform_and_the_event_fails_saying_why(
    world, inside, after, refusal, said
):
    before = world.last_call_seq()
    world.say(inside)
    world.say(after)
    world.poll()
    rows = EventLogEntry.objects.filter(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD").order_by(
        "vibe_event_id"
    )
    assert [r.status for r in rows] == ["failed", "handled"]
    assert rows[0].error.startswith(f"StateBlockError: {refusal} inside `with ctx.state.update()`")
    shown = [m["text"] for m in world.messages()]
    posts = [
        c for c in world.calls_since(before) if c["method"] == "POST" and c["path"].endswith("/messages")
    ]
    # The post inside the block was never sent; the apology for the failed event and the later post were.
    assert "said inside the block" not in shown and shown.count(said) == 1
    assert len(posts) == 2
    # The block's write went with it: only the later event's is kept.
    kept = ConversationState.objects.get(skill_name="talker")
    assert kept.data == {"seen": 1}
