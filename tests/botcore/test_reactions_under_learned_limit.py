"""Best-effort calls under a learned limit, against the live sandbox: the echo's like is not lost for good
because its own typing had just taken the budget's slot."""

from __future__ import annotations

from collections import Counter

import pytest

from botcore.models import Bot
from botcore.services.bots import provision_bot
from botcore.services.platform import client_for_bot
from botcore.services.polling import poll_bot_once
from botcore.vibe.errors import VibeRateLimitError
from botcore.vibe.learned_budget import learned_rates

CEILING = 9.0
PLATFORM_LIMIT = 3.0  # the key's real limit, under the ceiling: the learned rate ends up under it too
MESSAGES = 5


def learn_the_limit(bot: Bot, app_key: str) -> None:
    """Calls at the ceiling until the platform's 429 cuts the learned rate under it."""
    client = client_for_bot(bot, max_attempts=1)
    for _ in range(40):
        try:
            client.get_bot(bot.vibe_bot_id)
        except VibeRateLimitError:
            pass
        rates = learned_rates(app_key)
        if min(rates.key, rates.per_portal) < CEILING:
            return
    pytest.fail(f"no limit learned: {learned_rates(app_key)}")


def poll_until_handled(bot: Bot) -> int:
    """One cycle that handles what waits (one the platform refused, a 429 left over from learning, comes
    again); how many events it handled."""
    for _ in range(5):
        outcome = poll_bot_once(bot.pk)
        if outcome.status == "polled":
            return outcome.handled
    pytest.fail(f"no cycle got through: {outcome}")


@pytest.mark.slow
def test_every_message_gets_its_like_and_its_reply_once_when_the_learned_rate_is_under_the_ceiling(
    sandbox, sandbox_portal, settings
):
    settings.VIBE_BUDGET_PER_SECOND = CEILING
    bot = provision_bot(sandbox_portal.portal)
    key = sandbox_portal.app_key
    sandbox.run_in_loop(lambda s: setattr(s.platform.keys[key], "rate_limit", PLATFORM_LIMIT))
    learn_the_limit(bot, key)
    said = []
    for n in range(MESSAGES):
        message = sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text=f"m{n}")
        said.append(message["message"])
        poll_until_handled(bot)
    chat_id = said[0]["chatId"]
    messages = sandbox_portal.control.get(f"/_sandbox/chats/{chat_id}/messages").json()["data"]["messages"]
    liked = {m["id"] for m in messages if bot.vibe_bot_id in m["reactions"].get("like", [])}
    assert liked == {m["id"] for m in said}
    echoed = Counter(
        n for m in messages for n in range(MESSAGES)
        if m["authorId"] == bot.vibe_bot_id and f"[i]m{n}[/i]" in m["text"].lower()
    )  # fmt: skip
    assert echoed == dict.fromkeys(range(MESSAGES), 1)
    # Each like was asked for once and set once: none doubled, none refused as already set.
    reaction_calls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["path"].endswith("/reactions")]
    accepted = Counter(c["path"] for c in reaction_calls if c["status"] == 200)
    assert sorted(accepted.values()) == [1] * MESSAGES
    assert not [c for c in reaction_calls if c["errorCode"] == "REACTION_ALREADY_SET"]
    # And no like went before its message's reply: the reply does not wait behind it.
    calls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["status"] == 200]
    for n, message in enumerate(said):
        reply_at = next(
            c["seq"] for c in calls
            if c["path"].endswith("/messages") and f"[i]m{n}[/i]" in str(c["body"]).lower()
        )  # fmt: skip
        like_at = next(c["seq"] for c in calls if c["path"].endswith(f"/messages/{message['id']}/reactions"))
        assert reply_at < like_at


@pytest.mark.slow
def test_a_burst_handled_in_one_cycle_gets_every_reply_and_then_every_like(sandbox, sandbox_portal, settings):
    """Several messages in one batch: the replies go first, the likes held for them after the last one."""
    settings.VIBE_BUDGET_PER_SECOND = CEILING
    bot = provision_bot(sandbox_portal.portal)
    key = sandbox_portal.app_key
    sandbox.run_in_loop(lambda s: setattr(s.platform.keys[key], "rate_limit", PLATFORM_LIMIT))
    learn_the_limit(bot, key)
    burst = 3
    said = [
        sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text=f"b{n}")["message"]
        for n in range(burst)
    ]
    assert poll_until_handled(bot) == burst + 1  # one cycle: the bot's join to the dialog, then the burst
    messages = sandbox_portal.control.get(f"/_sandbox/chats/{said[0]['chatId']}/messages").json()["data"]
    liked = {m["id"] for m in messages["messages"] if bot.vibe_bot_id in m["reactions"].get("like", [])}
    assert liked == {m["id"] for m in said}
    calls = [c for c in sandbox_portal.calls(bot.vibe_bot_id) if c["status"] == 200]
    reactions = [c["path"] for c in calls if c["path"].endswith("/reactions")]
    assert sorted(Counter(reactions).values()) == [1] * burst
