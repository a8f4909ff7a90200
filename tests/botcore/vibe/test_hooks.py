"""botcore.vibe.hooks: observers hear every platform answer; ops counts them, unknown to the client."""

from __future__ import annotations

from prometheus_client import REGISTRY

from botcore.vibe import VibeNotFoundError
from botcore.vibe.hooks import on_platform_response, remove_platform_response_observer


def answers(status_class: str) -> float:
    return (
        REGISTRY.get_sample_value("vibeapp_platform_responses_total", {"status_class": status_class}) or 0.0
    )


def test_every_answer_reaches_the_observers_and_ops_counts_it(world):
    heard: list[int] = []
    on_platform_response(heard.append)
    before_ok, before_4xx = answers("2xx"), answers("4xx")
    try:
        with world.client() as client:
            client.list_bots()
            try:
                client.get_bot(999_999)
            except VibeNotFoundError:
                pass
    finally:
        remove_platform_response_observer(heard.append)
    assert heard == [200, 404]
    # ops subscribed when it started (ops.receivers): the transport imports nothing of it.
    assert answers("2xx") - before_ok >= 1 and answers("4xx") - before_4xx >= 1


def test_an_observer_that_raises_never_fails_the_call(world, caplog):
    def broken(status_code: int) -> None:
        raise RuntimeError("observer bug")

    on_platform_response(broken)
    try:
        with world.client() as client:
            assert client.list_bots() == []
    finally:
        remove_platform_response_observer(broken)
    assert "observer failed" in caplog.text


def test_a_refusal_passed_on_inside_bitrix_error_counts_as_the_refusal_not_a_platform_failure(world):
    """`wrapped-bitrix-errors`: a platform passes imbot.v2's REACTION_ALREADY_SET on as its 502 BITRIX_ERROR,
    the code at the start of the message. The client reads it as the 409 it stands for (answers.
    passed_on_refusal); the observers heard 502, and the 5xx series (whose alert pages an operator for the
    platform's outage) rose for a user's reaction clicked twice."""
    heard: list[int] = []
    on_platform_response(heard.append)
    try:
        with world.client() as client:
            bot = client.register_bot(code="helper", name="Helper")
            said = world.control.user_says(world.admin_id, "like me", bot_id=bot.id)
            world.control.dialects("wrapped-bitrix-errors")
            assert client.add_reaction(bot.id, said["id"], reaction="like") is True
            before_4xx, before_5xx = answers("4xx"), answers("5xx")
            assert client.add_reaction(bot.id, said["id"], reaction="like") is False
    finally:
        remove_platform_response_observer(heard.append)
    sent = [c["status"] for c in world.control.calls(botId=bot.id) if c["path"].endswith("/reactions")]
    assert sent == [200, 502]  # the platform did wrap it: one answer, 502 on the wire
    assert heard[-2:] == [200, 409]
    assert (answers("4xx") - before_4xx, answers("5xx") - before_5xx) == (1, 0)
