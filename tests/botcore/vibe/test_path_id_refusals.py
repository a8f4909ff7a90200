"""Which refusal of a path's id is about the bot: INVALID_BOT_ID answered over HTTP by the sandbox.

CONTRACT A §9 answers "a non-numeric id elsewhere" (a message's, a command's, a file's) with the bot's own
code, 400 INVALID_BOT_ID. The client sends the bot's id as a number always, so such a refusal is about that
other id: one call's bad request, never the bot deleted, another key's or broken.
"""

from __future__ import annotations

import pytest

from botcore.vibe.errors import VibeBadRequestError
from botcore.vibe.transport import RetryClass


@pytest.mark.parametrize("dialect", [None, "named-id-codes"])
def test_a_non_numeric_message_id_is_that_calls_bad_request_not_the_bots(client, bot, control, dialect):
    if dialect:
        control.dialects(dialect)
    with pytest.raises(VibeBadRequestError) as refused:
        client.get_message(bot.id, "abc")  # type: ignore[arg-type]  # what an id from elsewhere may be
    error = refused.value
    assert error.code == ("INVALID_MESSAGE_ID" if dialect else "INVALID_BOT_ID"), error
    assert not error.concerns_bot and not error.says_bot_gone
    asked = [c for c in control.calls() if c["path"].endswith("/messages/abc")]
    assert [(c["method"], c["status"]) for c in asked] == [("GET", 400)]  # answered, and not sent again


def test_a_non_numeric_bot_id_is_the_bots(client, control):
    # The transport sends what it is given: a path whose bot id is no number, which no bot_path builds.
    with pytest.raises(VibeBadRequestError) as refused:
        client._transport.request("GET", "/bots/abc", retry=RetryClass.SAFE)
    assert refused.value.code == "INVALID_BOT_ID" and refused.value.concerns_bot
