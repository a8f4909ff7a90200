"""The client reads every dialect of the sandbox (CONTRACT A §13): the same typed results from each."""

from __future__ import annotations

import httpx
import pytest

from botcore.vibe import CommandAddEvent, NoBudget, VibeClient, VibeProtocolError, VibeRateLimitError


@pytest.fixture
def speak(control):
    def set_dialects(*names: str) -> None:
        control.post("/dialects", {"dialects": list(names)})

    return set_dialects


@pytest.mark.parametrize("dialect", [None, "flat-bot-id"])
def test_registration_reads_the_new_bots_id_in_either_shape(client, speak, dialect):
    if dialect:
        speak(dialect)
    bot = client.register_bot(code="helper", name="Helper")
    assert bot.id > 0 and bot.code == "helper"
    assert [b.id for b in client.list_bots()] == [bot.id]


@pytest.mark.parametrize("dialect", [None, "items-bot-list", "bare-bot-list"])
def test_the_bot_list_reads_the_same_in_every_shape(client, speak, dialect):
    first = client.register_bot(code="first", name="First")
    second = client.register_bot(code="second", name="Second")
    if dialect:
        speak(dialect)
    listed = client.list_bots()
    assert [(b.id, b.code) for b in listed] == [(first.id, "first"), (second.id, "second")]
    assert [b.name for b in listed] == ["First", "Second"]


@pytest.mark.parametrize("dialect", [None, "command-slash"])
def test_a_command_event_reads_the_same_with_or_without_the_slash(client, bot, world, speak, dialect):
    if dialect:
        speak(dialect)
    client.register_command(bot.id, command="ping", title="Ping")
    world.control.user_says(world.admin_id, "/ping now", bot_id=bot.id)
    events = [e for e in client.get_events(bot.id).events if isinstance(e, CommandAddEvent)]
    read = [(e.command.command, e.command.name, e.command.params) for e in events]
    assert read == [("/ping", "ping", "now")]


@pytest.mark.parametrize("dialect", [None, "capped-user-pages"])
def test_every_portal_user_is_listed_however_the_platform_pages_them(world, speak, dialect):
    """From a trial on a platform written from the reference: it answered 50 users a page whatever `limit`
    asked, and the client took the first short page for the last: users past 50 were never offered."""
    for n in range(120):
        world.control.post(f"/portals/{world.portal_id}/users", {"name": f"User {n:03}"})
    if dialect:
        speak(dialect)
    app_key = world.control.post("/apps", {"name": "People", "scopes": ["imbot", "im", "user"]})["key"]
    session = world.control.post("/sessions", {"appKey": app_key, "userId": world.admin_id})["token"]
    client = VibeClient(api_key=app_key, session_token=session, base_url=world.base_url, budget=NoBudget())
    listed = client.list_users()
    assert len(listed) == 122 and len({user.id for user in listed}) == 122
    assert len(client.list_users(limit=70)) == 70


def test_an_events_call_answered_204_no_content_is_an_empty_batch(client, bot, world, speak):
    """From a trial on a platform written from the reference: it answered an events call with nothing waiting
    204 with no body (dialect `empty-no-content`); each idle poll was a protocol error ("is the base URL
    right?") and the bot backed off further at every one, so a message waited behind the backoff."""
    speak("empty-no-content")
    empty = client.get_events(bot.id, offset=0)
    assert empty.events == () and not empty.has_more and empty.offset_after(7) == 7  # acknowledges nothing
    world.control.user_says(world.admin_id, "hello", bot_id=bot.id)
    assert [e.message.text for e in client.get_events(bot.id).events if hasattr(e, "message")] == ["hello"]


@pytest.mark.parametrize("dialect", [None, "unstored-offset"])
def test_a_fresh_bots_stored_offset_reads_as_a_number_or_as_none(client, bot, world, speak, dialect):
    """The reference's example shows storedOffset only once events were acknowledged; a fresh bot's may be 0
    (the default) or null with persisted false (`unstored-offset`). Either way polling goes on as before."""
    if dialect:
        speak(dialect)
    world.control.user_says(world.admin_id, "hello", bot_id=bot.id)
    first = client.get_events(bot.id)
    assert (first.stored_offset, first.persisted) == ((0, True) if dialect is None else (None, False))
    assert "hello" in [e.text for e in first.events if hasattr(e, "text")]
    acked = client.get_events(bot.id, offset=first.offset_after(0))
    assert acked.events == () and (acked.stored_offset, acked.persisted) == (first.next_offset, True)


def test_a_command_without_a_title_registers_where_the_platform_allows_it(client, bot, speak):
    speak("untitled-commands")
    command = client.register_command(bot.id, command="quiet")
    assert command.name == "quiet" and command.title == {}


def test_polling_works_when_the_platform_ignores_timeout(client, bot, world, speak):
    speak("no-long-poll")
    # Held for 30 s, the call would outlive the client's timeout.
    assert client.get_events(bot.id, timeout=30).events == ()
    world.control.user_says(world.admin_id, "hello", bot_id=bot.id)
    assert "hello" in [e.text for e in client.get_events(bot.id, timeout=30).events]


def test_a_429_without_retry_after_is_still_a_rate_limit_error(world, speak, sandbox):
    speak("no-retry-after")
    sandbox.run_in_loop(lambda s: setattr(s.platform, "default_rate_limit", 1.0))
    with world.client("personal", max_attempts=1) as client, pytest.raises(VibeRateLimitError) as caught:
        for _ in range(5):
            client.list_bots()
    assert caught.value.status == 429 and caught.value.retry_after is None


def answering(body: dict, status: int = 201) -> VibeClient:
    """A client whose platform answers every call with `body` (shapes no sandbox dialect sends alone)."""
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)))
    return VibeClient(
        api_key="vibe_api_test", base_url="http://platform.test/v1", http=http, budget=NoBudget()
    )


def test_registration_reads_a_flat_bot_id_alone():
    with answering({"success": True, "data": {"botId": 42, "code": "helper"}}) as client:
        bot = client.register_bot(code="helper", name="Helper")
    assert (bot.id, bot.code) == (42, "helper")


@pytest.mark.parametrize("kind", ["json", "text"])
def test_a_directory_answered_with_data_of_the_wrong_shape_is_no_empty_portal(world, kind):
    """From a trial's skill (make a chat with the people named): the platform's envelope around a list of
    strings, a proxy's or a broken server's, read as a portal with nobody in it, and the person was told that
    nobody there had the names they gave; a form's list of people cached it so. It is the platform's
    trouble, as a garbled answer is, and the work waits for a proper one."""
    app_key = world.control.post("/apps", {"name": "People", "scopes": ["imbot", "im", "user"]})["key"]
    session = world.control.post("/sessions", {"appKey": app_key, "userId": world.admin_id})["token"]
    client = VibeClient(
        api_key=app_key, session_token=session, base_url=world.base_url, budget=NoBudget(), max_attempts=1
    )
    world.control.post(
        "/faults", {"method": "GET", "path": "/v1/users", "garbageRate": 1.0, "garbageKind": kind}
    )
    with pytest.raises(VibeProtocolError) as garbled:
        client.list_users()
    assert garbled.value.is_transient
    world.control.delete("/faults")
    assert len(client.list_users()) == 2
