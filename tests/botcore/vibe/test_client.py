"""Every VibeClient method against the sandbox over real HTTP, with a personal key and an app key + session.

What the client sent is checked where the platform keeps it (the control API's read-back), and what it
got back through the typed results.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from botcore.vibe import (
    Attach,
    Bot,
    BotDetails,
    Chat,
    Command,
    CommandAddEvent,
    EventBatch,
    GridItem,
    JoinChatEvent,
    Keyboard,
    MessageAddEvent,
    NoBudget,
    ReactionChangeEvent,
    SentMessage,
    VibeAuthError,
    VibeBotAlreadyExistsError,
    VibeClient,
    VibeFileTooLargeError,
    VibeForbiddenError,
    VibeNotFoundError,
    VibeSessionExpiredError,
    VibeTransportError,
)
from botcore.vibe import bbcode as bb
from botcore.vibe.models import FileDownload

# --- bot management ------------------------------------------------------------------------------------


def test_register_bot_returns_the_new_bot(client):
    bot = client.register_bot(
        code="helper", name="Helper", type="supervisor", work_position="Answers", color="AQUA"
    )
    assert isinstance(bot, Bot)
    assert bot.id > 0
    assert (bot.code, bot.name, bot.type, bot.event_mode, bot.work_position) == (
        "helper", "Helper", "supervisor", "fetch", "Answers",
    )  # fmt: skip
    assert "botToken" not in bot.raw


def test_register_twice_raises_409_with_the_existing_bot_id(client, bot):
    with pytest.raises(VibeBotAlreadyExistsError) as caught:
        client.register_bot(code="helper", name="Helper again")
    assert caught.value.status == 409
    assert caught.value.existing_bot_id == bot.id


def test_register_with_adopt_existing_returns_the_bot_already_there(client, bot):
    adopted = client.register_bot(code="helper", name="Helper again", adopt_existing=True)
    assert adopted.id == bot.id and adopted.name == "Helper"


def test_list_bots_lists_this_keys_bots(client, bot):
    second = client.register_bot(code="second", name="Second")
    assert [b.id for b in client.list_bots()] == [bot.id, second.id]


def test_get_bot_returns_the_bot_and_its_user(client, bot):
    details = client.get_bot(bot.id)
    assert isinstance(details, BotDetails)
    assert details.bot.id == bot.id and details.bot.is_active
    assert [user.id for user in details.users] == [bot.id]
    assert details.users[0].is_bot


def test_update_bot_changes_only_what_is_given(client, bot):
    updated = client.update_bot(bot.id, work_position="Runs standups", name="Standup")
    assert (updated.name, updated.work_position, updated.code) == ("Standup", "Runs standups", "helper")
    assert client.get_bot(bot.id).bot.work_position == "Runs standups"


def test_update_bot_without_fields_is_refused_before_sending(client, bot, world):
    before = len(world.control.calls())
    with pytest.raises(ValueError):
        client.update_bot(bot.id)
    assert len(world.control.calls()) == before


def test_delete_bot_removes_it_and_a_repeat_may_count_as_done(client, bot):
    client.delete_bot(bot.id)
    with pytest.raises(VibeNotFoundError):
        client.get_bot(bot.id)
    with pytest.raises(VibeNotFoundError):
        client.delete_bot(bot.id)
    client.delete_bot(bot.id, missing_ok=True)


def test_reauth_and_resubscribe_answer_the_bot(client, bot):
    assert client.reauth_bot(bot.id).id == bot.id
    assert client.resubscribe_bot(bot.id).event_mode == "fetch"
    assert client.resubscribe_bot(bot.id, event_mode="fetch").id == bot.id


def test_revision_is_not_mistaken_for_a_bot_id_and_rises_on_register(client):
    before = client.get_revision().revision
    client.register_bot(code="another", name="Another")
    assert client.get_revision().revision > before


# --- events --------------------------------------------------------------------------------------------


def test_get_events_returns_typed_events_in_order(client, bot, world):
    world.control.user_says(world.admin_id, "Привет! 👋", bot_id=bot.id)
    batch = client.get_events(bot.id)
    assert isinstance(batch, EventBatch)
    assert [type(e) for e in batch.events] == [JoinChatEvent, MessageAddEvent]
    message = batch.events[1]
    assert isinstance(message, MessageAddEvent)
    assert message.text == "Привет! 👋"
    assert message.dialog_id == str(world.admin_id)
    assert message.user is not None and message.user.id == world.admin_id
    assert batch.next_offset == batch.events[-1].event_id + 1
    assert batch.has_more is False and batch.malformed == ()


def test_events_come_again_until_acknowledged_by_offset(client, bot, world):
    world.control.user_says(world.admin_id, "one", bot_id=bot.id)
    first = client.get_events(bot.id)
    again = client.get_events(bot.id)
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    acked = client.get_events(bot.id, offset=first.next_offset)
    assert acked.events == () and acked.stored_offset == first.next_offset
    assert acked.next_offset == 0
    assert acked.offset_after(first.next_offset) == first.next_offset  # an empty batch never moves it back


def test_get_events_limit_pages_with_has_more(client, bot, world):
    for text in ("a", "b", "c"):
        world.control.user_says(world.admin_id, text, bot_id=bot.id)
    page = client.get_events(bot.id, limit=2)
    assert len(page.events) == 2 and page.has_more
    rest = client.get_events(bot.id, offset=page.next_offset, limit=100)
    assert [e.text for e in rest.events] == ["b", "c"] and not rest.has_more


@pytest.mark.slow
def test_get_events_long_poll_returns_when_nothing_comes(client, bot):
    assert client.get_events(bot.id, timeout=0.2).events == ()


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"timeout": 31}])
def test_get_events_refuses_out_of_range_arguments_before_sending(client, bot, kwargs):
    with pytest.raises(ValueError):
        client.get_events(bot.id, **kwargs)


# --- messages ------------------------------------------------------------------------------------------


def test_send_message_with_keyboard_and_attach_arrives_as_built(client, bot, world):
    keyboard = (
        Keyboard()
        .button("Repeat", send="ping", color="primary", block=True)
        .newline()
        .button("Docs", link="https://example.com/docs")
    )
    attach = Attach(color_token="secondary").message(bb.bold("Report")).grid(GridItem("Done", "3"))
    sent = client.send_message(
        bot.id,
        dialog_id=world.admin_id,
        text=bb.bold("Hi ") + "[b]user[/b]",
        keyboard=keyboard,
        attach=attach,
    )
    assert isinstance(sent, SentMessage) and sent.id > 0
    [stored] = world.control.bot_messages(bot.id)
    assert stored["id"] == sent.id
    assert stored["text"] == f"[b]Hi [/b][{bb.ZWSP}b]user[{bb.ZWSP}/b]"
    assert stored["keyboard"] == keyboard.to_wire()
    assert stored["attach"] in (attach.to_wire(), attach.to_wire()["BLOCKS"])


def test_send_message_as_system_with_a_reply(client, bot, world):
    asked = world.control.user_says(world.admin_id, "question", bot_id=bot.id)
    sent = client.send_message(
        bot.id, dialog_id=str(world.admin_id), text="answer", system=True, reply_id=asked["id"]
    )
    [stored] = world.control.bot_messages(bot.id)
    assert stored["id"] == sent.id and stored["isSystem"] is True and stored["replyId"] == asked["id"]


def test_update_message_changes_text_and_can_remove_the_keyboard(client, bot, world):
    sent = client.send_message(
        bot.id, dialog_id=world.admin_id, text="draft", keyboard=Keyboard().button("A", send="a")
    )
    client.update_message(bot.id, sent.id, text="final")
    client.update_message(bot.id, sent.id, keyboard=False)
    [stored] = world.control.bot_messages(bot.id)
    assert stored["text"] == "final" and not stored["keyboard"]


def test_delete_message_deletes_it(client, bot, world):
    sent = client.send_message(bot.id, dialog_id=world.admin_id, text="oops")
    client.delete_message(bot.id, sent.id)
    [stored] = world.control.bot_messages(bot.id)
    assert stored["deleted"] is True


def test_mark_read_sets_the_bots_read_mark(client, bot, world):
    said = world.control.user_says(world.admin_id, "read me", bot_id=bot.id)
    client.mark_read(bot.id, dialog_id=world.admin_id, message_id=said["id"])
    chat = world.control.chat(said["chatId"])
    assert chat["readMarks"][str(bot.id)] == said["id"]


@pytest.fixture
def supervisor(client):
    return client.register_bot(code="watcher", name="Watcher", type="supervisor")


def test_get_message_reads_a_message_back(client, supervisor, world):
    said = world.control.user_says(world.admin_id, "Привет", bot_id=supervisor.id)
    message = client.get_message(supervisor.id, said["id"])
    assert (message.id, message.text, message.author_id) == (said["id"], "Привет", world.admin_id)


def test_get_message_context_pages_around_a_message(client, supervisor, world):
    said = [world.control.user_says(world.admin_id, f"m{i}", bot_id=supervisor.id) for i in range(5)]
    context = client.get_message_context(supervisor.id, said[2]["id"], range=1)
    assert [m.text for m in context.messages] == ["m1", "m2", "m3"]
    assert context.has_prev_page and context.has_next_page


# --- interface -----------------------------------------------------------------------------------------


def test_reactions_add_and_remove_idempotently(client, bot, world):
    said = world.control.user_says(world.admin_id, "like me", bot_id=bot.id)
    assert client.add_reaction(bot.id, said["id"], reaction="like") is True
    assert client.add_reaction(bot.id, said["id"], reaction="like") is False
    chat_messages = world.control.get(f"/chats/{said['chatId']}/messages")["messages"]
    assert chat_messages[-1]["reactions"]["like"] == [bot.id]
    assert client.remove_reaction(bot.id, said["id"], reaction="like") is True
    assert client.remove_reaction(bot.id, said["id"], reaction="like") is False


def test_reactions_replayed_on_a_platform_wrapping_bitrixs_refusals_are_no_failure(client, bot, world):
    """`wrapped-bitrix-errors`: a platform passes imbot.v2's REACTION_ALREADY_SET (and REACTION_NOT_FOUND)
    on as its 502 BITRIX_ERROR, the code at the start of the message. Read as Bitrix24's passing failure, a
    replayed reaction was sent 4 times and then raised; it says the reaction is there, as a plain 409 does."""
    said = world.control.user_says(world.admin_id, "like me", bot_id=bot.id)
    world.control.dialects("wrapped-bitrix-errors")
    assert client.add_reaction(bot.id, said["id"], reaction="like") is True
    assert client.add_reaction(bot.id, said["id"], reaction="like") is False
    assert client.remove_reaction(bot.id, said["id"], reaction="like") is True
    assert client.remove_reaction(bot.id, said["id"], reaction="like") is False
    reaction_calls = [c for c in world.control.calls(botId=bot.id) if c["path"].endswith("/reactions")]
    assert [(c["method"], c["status"]) for c in reaction_calls] == [
        ("POST", 200),
        ("POST", 502),
        ("DELETE", 200),
        ("DELETE", 502),
    ]


def test_show_typing_shows_the_status_in_the_chat(client, bot, world):
    said = world.control.user_says(world.admin_id, "think", bot_id=bot.id)
    client.show_typing(bot.id, dialog_id=world.admin_id, status="IMBOT_AGENT_ACTION_THINKING", duration=30)
    typing = world.control.chat(said["chatId"])["typing"]
    assert [(t["userId"], t["statusMessageCode"]) for t in typing] == [
        (bot.id, "IMBOT_AGENT_ACTION_THINKING")
    ]


def test_set_text_field_turns_the_input_off_and_on(client, bot, world):
    said = world.control.user_says(world.admin_id, "hi", bot_id=bot.id)
    client.set_text_field(bot.id, dialog_id=world.admin_id, enabled=False)
    assert world.control.chat(said["chatId"])["textFieldEnabled"] is False
    client.set_text_field(bot.id, dialog_id=world.admin_id, enabled=True)
    assert world.control.chat(said["chatId"])["textFieldEnabled"] is True


# --- chats ---------------------------------------------------------------------------------------------


@pytest.fixture
def group(client, bot, world) -> Chat:
    return client.create_chat(
        bot.id, title="Standup", user_ids=[world.admin_id], description="Daily", color="mint"
    )


def test_create_chat_answers_a_group_dialog_id(group, world):
    assert isinstance(group, Chat)
    assert group.dialog_id == f"chat{group.id}" and group.title == "Standup"
    chat = world.control.chat(group.id)
    assert chat["type"] == "chat" and world.admin_id in chat["members"]


def test_get_and_update_chat(client, bot, group):
    client.update_chat(bot.id, group.dialog_id, title="Daily standup", description="9:30")
    chat = client.get_chat(bot.id, group.dialog_id)
    assert (chat.id, chat.title, chat.description) == (group.id, "Daily standup", "9:30")


def test_chat_members_can_be_added_listed_and_removed(client, bot, group, world):
    client.add_chat_users(bot.id, group.dialog_id, user_ids=[world.colleague_id])
    members = {user.id for user in client.list_chat_users(bot.id, group.dialog_id)}
    assert {world.admin_id, world.colleague_id, bot.id} <= members
    client.remove_chat_user(bot.id, group.dialog_id, user_id=world.colleague_id)
    assert world.colleague_id not in {u.id for u in client.list_chat_users(bot.id, group.dialog_id, limit=10)}


def test_chat_managers_can_be_added_and_removed(client, bot, group, world):
    client.add_chat_managers(bot.id, group.dialog_id, user_ids=[world.admin_id])
    assert world.admin_id in world.control.chat(group.id)["managers"]
    client.remove_chat_managers(bot.id, group.dialog_id, user_ids=[world.admin_id])
    assert world.admin_id not in world.control.chat(group.id)["managers"]


def test_chat_owner_can_be_handed_over_and_the_bot_can_leave(client, bot, group, world):
    client.set_chat_owner(bot.id, group.dialog_id, user_id=world.admin_id)
    assert world.control.chat(group.id)["owner"] == world.admin_id
    client.leave_chat(bot.id, group.dialog_id)
    assert bot.id not in world.control.chat(group.id)["members"]


# --- commands ------------------------------------------------------------------------------------------


def test_register_command_is_idempotent_by_name(client, bot):
    command = client.register_command(
        bot.id, command="/help", title={"en": "Help", "ru": "Помощь"}, params="topic"
    )
    assert isinstance(command, Command)
    assert (command.command, command.name, command.bot_id) == ("/help", "help", bot.id)
    assert command.title == {"en": "Help", "ru": "Помощь"}
    again = client.register_command(bot.id, command="help", title="Help")
    assert again.id == command.id


def test_commands_can_be_listed_updated_and_deleted(client, bot):
    ping = client.register_command(bot.id, command="ping", title="Ping")
    client.register_command(bot.id, command="help", title="Help", common=True)
    assert [c.name for c in client.list_commands(bot.id)] == ["ping", "help"]
    updated = client.update_command(bot.id, ping.id, title={"en": "Ping!"}, hidden=True)
    assert updated.title == {"en": "Ping!"} and updated.is_hidden
    client.delete_command(bot.id, ping.id)
    assert [c.name for c in client.list_commands(bot.id)] == ["help"]
    with pytest.raises(VibeNotFoundError):
        client.delete_command(bot.id, ping.id)


@pytest.mark.parametrize("dialect", [None, "answer-message-id"], ids=["result-true", "answer-message-id"])
def test_a_user_command_arrives_as_an_event_and_can_be_answered(client, bot, world, dialect):
    """The contract's answer, {result: true}, names no message: the answer's id reads 0; a platform naming it
    (answer-message-id) gives the id of the message it posted."""
    if dialect:
        world.control.dialects(dialect)
    client.register_command(bot.id, command="ping", title="Ping")
    world.control.user_says(world.admin_id, "/ping now", bot_id=bot.id)
    [event] = [e for e in client.get_events(bot.id).events if isinstance(e, CommandAddEvent)]
    assert (event.command.name, event.command.params) == ("ping", "now")
    assert event.message is not None
    sent = client.answer_command(
        bot.id,
        event.command.id,
        message_id=event.message.id,
        text=bb.bold("Pong!"),
        dialog_id=event.dialog_id,
    )
    [answer] = [m for m in world.control.bot_messages(bot.id) if m["text"] == "[b]Pong![/b]"]
    assert answer["answerTo"] == event.message.id
    assert sent.id == (answer["id"] if dialect else 0)


def test_a_keyboard_command_button_raises_a_command_event(client, bot, world):
    client.register_command(bot.id, command="ping", title="Ping")
    sent = client.send_message(
        bot.id, dialog_id=world.admin_id, text="Press", keyboard=Keyboard().button("Ping", command="ping")
    )
    client.get_events(bot.id, offset=client.get_events(bot.id).next_offset)
    world.control.post("/act/buttons", {"userId": world.admin_id, "messageId": sent.id, "index": 0})
    [event] = client.get_events(bot.id).events
    assert isinstance(event, CommandAddEvent) and event.command.context == "keyboard"


def test_a_user_reaction_to_the_bots_message_arrives_as_an_event(client, bot, world):
    sent = client.send_message(bot.id, dialog_id=world.admin_id, text="Rate me")
    world.control.post("/act/reactions", {"userId": world.admin_id, "messageId": sent.id, "reaction": "like"})
    events = [e for e in client.get_events(bot.id).events if isinstance(e, ReactionChangeEvent)]
    assert [(e.reaction, e.action) for e in events] == [("like", "add")]


# --- files ---------------------------------------------------------------------------------------------


def test_upload_then_download_gives_back_the_exact_bytes(client, bot, world):
    world.control.user_says(world.admin_id, "send me the report", bot_id=bot.id)
    content = bytes(range(256)) * 40 + "Отчёт ✅".encode()
    uploaded = client.upload_file(
        bot.id, dialog_id=world.admin_id, name="отчёт.pdf", content=content, message="Here"
    )
    assert (uploaded.name, uploaded.size, uploaded.extension) == ("отчёт.pdf", len(content), "pdf")
    assert uploaded.message_id > 0 and uploaded.dialog_id == str(world.admin_id)
    download = client.get_file_download_url(bot.id, uploaded.id)
    assert download.download_url.startswith("http")
    assert "download_url=<hidden>" in repr(download)
    assert client.download_file(bot.id, uploaded.id) == content


def test_download_url_is_fetched_without_our_credentials(client, bot, world, sandbox):
    world.control.user_says(world.admin_id, "file please", bot_id=bot.id)
    uploaded = client.upload_file(bot.id, dialog_id=world.admin_id, name="a.txt", content=b"abc")
    seen = []
    client._transport.http.event_hooks["request"].append(seen.append)
    try:
        client.download_file(bot.id, uploaded.id)
    finally:
        client._transport.http.event_hooks["request"].remove(seen.append)
    download_requests = [r for r in seen if "/files/download/" in r.url.path]
    assert download_requests and all("x-api-key" not in r.headers for r in download_requests)
    assert all("authorization" not in r.headers for r in download_requests)


def _uploaded(client, bot, world, content: bytes):
    world.control.user_says(world.admin_id, "file please", bot_id=bot.id)
    return client.upload_file(bot.id, dialog_id=world.admin_id, name="big.bin", content=content)


def test_a_file_larger_than_the_caller_takes_is_not_fetched(client, bot, world):
    """The platform tells the size: refused before the download, which would hold it all in memory."""
    uploaded = _uploaded(client, bot, world, b"x" * 10_000)
    seen = []
    client._transport.http.event_hooks["request"].append(seen.append)
    try:
        with pytest.raises(VibeFileTooLargeError) as caught:
            client.download_file(bot.id, uploaded.id, max_bytes=4096)
    finally:
        client._transport.http.event_hooks["request"].remove(seen.append)
    assert (caught.value.size, caught.value.limit) == (10_000, 4096)
    assert not caught.value.is_transient and not caught.value.may_have_acted
    assert [r for r in seen if "/files/download/" in r.url.path] == []
    assert client.download_file(bot.id, uploaded.id, max_bytes=10_000) == b"x" * 10_000


def test_a_file_that_turns_out_larger_is_read_no_further_than_the_limit(client, bot, world, monkeypatch):
    """Where the platform tells no size (or a wrong one), the bytes themselves stop the download."""
    uploaded = _uploaded(client, bot, world, b"y" * 300_000)
    told = client.get_file_download_url(bot.id, uploaded.id)
    monkeypatch.setattr(
        type(client), "get_file_download_url", lambda self, *a: FileDownload(download_url=told.download_url)
    )
    with pytest.raises(VibeFileTooLargeError) as caught:
        client.download_file(bot.id, uploaded.id, max_bytes=100_000)
    assert caught.value.size is None and "larger than 100000 bytes" in str(caught.value)


def test_upload_refuses_empty_content_before_sending(client, bot):
    with pytest.raises(ValueError):
        client.upload_file(bot.id, dialog_id=1, name="a.txt", content=b"")


# --- key modes and refusals over HTTP ------------------------------------------------------------------


def test_an_app_key_sends_its_session_on_every_request(world):
    client = world.client("app")
    bot = client.register_bot(code="b", name="B")
    client.list_bots()
    client.get_events(bot.id)
    client.register_command(bot.id, command="x", title="X")
    calls = world.control.calls()
    assert calls and all(call["keyKind"] == "app" and call["hadBearer"] for call in calls)


def test_a_personal_key_sends_no_session(world):
    client = world.client("personal")
    client.list_bots()
    assert all(call["keyKind"] == "api" and not call["hadBearer"] for call in world.control.calls())


def test_a_personal_key_refuses_a_session_token(world):
    with pytest.raises(ValueError):
        VibeClient(api_key=world.personal_key, session_token="vibe_session_x", budget=NoBudget())


def test_an_app_key_without_a_session_needs_a_fresh_session(world):
    client = VibeClient(api_key=world.app_key, base_url=world.base_url, budget=NoBudget())
    with pytest.raises(VibeSessionExpiredError) as caught:
        client.list_bots()
    assert caught.value.code == "TOKEN_MISSING"


def test_an_expired_session_needs_a_fresh_session(world):
    expired = world.control.post(
        "/sessions", {"appKey": world.app_key, "userId": world.admin_id, "ttlSeconds": 0}
    )
    client = VibeClient(
        api_key=world.app_key, session_token=expired["token"], base_url=world.base_url, budget=NoBudget()
    )
    with pytest.raises(VibeSessionExpiredError) as caught:
        client.list_bots()
    assert caught.value.code == "TOKEN_EXPIRED" and caught.value.status == 401


def test_another_keys_bot_is_forbidden(world):
    bot = world.client("personal").register_bot(code="mine", name="Mine")
    with pytest.raises(VibeForbiddenError) as caught:
        world.client("app").get_bot(bot.id)
    assert caught.value.code == "BOT_ACCESS_DENIED"


def test_a_revoked_key_is_an_auth_error(world):
    client = world.client("personal")
    world.control.post("/keys/revoke", {"key": world.personal_key})
    with pytest.raises(VibeAuthError) as caught:
        client.list_bots()
    assert caught.value.code == "KEY_REVOKED"


def test_a_key_without_the_imbot_scope_is_an_auth_error(world):
    key = world.control.post("/keys", {"userId": world.admin_id, "scopes": ["crm"]})["key"]
    client = VibeClient(api_key=key, base_url=world.base_url, budget=NoBudget())
    with pytest.raises(VibeAuthError) as caught:
        client.list_bots()
    assert caught.value.code == "SCOPE_DENIED"


def test_a_platform_that_is_not_there_is_a_transport_error_nothing_sent(world):
    from sandbox.runner import free_port

    client = VibeClient(
        api_key=world.personal_key, base_url=f"http://127.0.0.1:{free_port()}/v1", budget=NoBudget(),
        max_attempts=2, retry_max_wait=0.01,
    )  # fmt: skip
    with pytest.raises(VibeTransportError) as caught:
        client.list_bots()
    assert caught.value.sent is False


def test_the_client_works_with_base64_avatar(client):
    avatar = base64.b64encode(b"\x89PNG fake").decode()
    bot = client.register_bot(code="pic", name="Pic", avatar=avatar)
    assert bot.id > 0


def test_one_client_serves_many_threads_at_once(world):
    from concurrent.futures import ThreadPoolExecutor

    client = world.client("app")
    bots = [client.register_bot(code=f"bot{i}", name=f"Bot {i}") for i in range(4)]

    def work(i: int) -> int:
        bot = bots[i % len(bots)]
        client.register_command(bot.id, command=f"c{i % 3}", title="C")
        return client.get_bot(bot.id).bot.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(work, range(64))) == sorted(bots[i % 4].id for i in range(64))
    assert all(len(client.list_commands(bot.id)) == 3 for bot in bots)


@pytest.mark.slow
def test_the_client_works_without_django_settings(world):
    """Benchmarks and bot_shell build it from arguments alone, in a process where Django is not set up."""
    script = (
        "import sys; from botcore.vibe import VibeClient\n"
        "client = VibeClient(api_key=sys.argv[1], base_url=sys.argv[2])\n"
        "bot = client.register_bot(code='plain', name='Plain')\n"
        "print(type(client._transport.budget).__name__, [b.code for b in client.list_bots()])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script, world.personal_key, world.base_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=str(Path(__file__).parents[3]),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "LearnedBudget ['plain']"


def test_calls_reuse_one_keep_alive_connection(world):
    from botcore.vibe.http_clients import make_http_client

    local_ports: set[int] = set()

    def note_port(response):
        local_ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])

    http = make_http_client()
    http.event_hooks["response"].append(note_port)
    client = world.client("app", http=http)
    bot = client.register_bot(code="reuse", name="Reuse")
    for _ in range(10):
        client.get_events(bot.id)
        client.list_commands(bot.id)
    assert len(local_ports) == 1
    http.close()


def test_clients_made_without_an_http_client_share_the_process_one(world):
    first, second = world.client("app"), world.client("personal")
    assert first._transport.http is second._transport.http
    first.close()  # closing a client that does not own the shared pool leaves it open for the others
    assert not second._transport.http.is_closed
