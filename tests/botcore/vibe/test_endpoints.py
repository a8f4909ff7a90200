"""One client method per endpoint of the reference's table, each with its documented retry class.

A recording stand-in for the transport (the client's own seam, no HTTP) notes what each method asks for;
the sandbox tests in test_client.py show the same calls working over the wire.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from botcore.vibe import NoBudget, Priority, RetryClass, VibeClient
from botcore.vibe.keyboards import Keyboard

SAFE, IDEMPOTENT, UNSAFE = RetryClass.SAFE, RetryClass.IDEMPOTENT, RetryClass.UNSAFE


class RecordingTransport:
    base_url = "http://platform.invalid/v1"
    key_name = "recorded"

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, RetryClass, Any, Any]] = []
        self.priorities: list[Priority] = []
        self.holds: list[bool] = []

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: RetryClass,
        params=None,
        body=None,
        timeout=None,
        priority: Priority = Priority.REPLY,
        hold: bool = False,
        on_sending=None,
    ) -> Any:
        self.requests.append((method, path, retry, params, body))
        self.priorities.append(priority)
        self.holds.append(hold)
        if path.endswith("/events"):  # an events answer without its list is refused (parse.events_of)
            return {"events": [], "nextOffset": 0}
        return {}


# (reference method, reference path, the client call, the path it must use, its retry class)
ENDPOINTS = [
    ("POST", "/v1/bots", lambda c: c.register_bot(code="c", name="n"), "/bots", UNSAFE),
    ("GET", "/v1/bots", lambda c: c.list_bots(), "/bots", SAFE),
    ("GET", "/v1/bots/:botId", lambda c: c.get_bot(7), "/bots/7", SAFE),
    ("PATCH", "/v1/bots/:botId", lambda c: c.update_bot(7, name="n"), "/bots/7", IDEMPOTENT),
    ("DELETE", "/v1/bots/:botId", lambda c: c.delete_bot(7), "/bots/7", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/reauth", lambda c: c.reauth_bot(7), "/bots/7/reauth", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/resubscribe", lambda c: c.resubscribe_bot(7),
     "/bots/7/resubscribe", IDEMPOTENT),
    ("GET", "/v1/bots/revision", lambda c: c.get_revision(), "/bots/revision", SAFE),
    ("GET", "/v1/bots/:botId/events", lambda c: c.get_events(7, offset=3), "/bots/7/events", SAFE),
    ("POST", "/v1/bots/:botId/messages", lambda c: c.send_message(7, dialog_id=1, text="t"),
     "/bots/7/messages", UNSAFE),
    ("PATCH", "/v1/bots/:botId/messages/:messageId", lambda c: c.update_message(7, 9, text="t"),
     "/bots/7/messages/9", IDEMPOTENT),
    ("DELETE", "/v1/bots/:botId/messages/:messageId", lambda c: c.delete_message(7, 9),
     "/bots/7/messages/9", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/chats/:dialogId/read",
     lambda c: c.mark_read(7, dialog_id="chat5", message_id=9), "/bots/7/chats/chat5/read", IDEMPOTENT),
    ("GET", "/v1/bots/:botId/messages/:messageId", lambda c: c.get_message(7, 9), "/bots/7/messages/9", SAFE),
    ("GET", "/v1/bots/:botId/messages/:messageId/context", lambda c: c.get_message_context(7, 9),
     "/bots/7/messages/9/context", SAFE),
    ("POST", "/v1/bots/:botId/messages/:messageId/reactions", lambda c: c.add_reaction(7, 9, reaction="like"),
     "/bots/7/messages/9/reactions", IDEMPOTENT),
    ("DELETE", "/v1/bots/:botId/messages/:messageId/reactions",
     lambda c: c.remove_reaction(7, 9, reaction="like"), "/bots/7/messages/9/reactions", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/typing", lambda c: c.show_typing(7, dialog_id=1), "/bots/7/typing", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/text-field", lambda c: c.set_text_field(7, dialog_id=1, enabled=False),
     "/bots/7/text-field", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/chats", lambda c: c.create_chat(7, title="t"), "/bots/7/chats", UNSAFE),
    ("GET", "/v1/bots/:botId/chats/:dialogId", lambda c: c.get_chat(7, "chat5"), "/bots/7/chats/chat5", SAFE),
    ("PATCH", "/v1/bots/:botId/chats/:dialogId", lambda c: c.update_chat(7, "chat5", title="t"),
     "/bots/7/chats/chat5", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/chats/:dialogId/leave", lambda c: c.leave_chat(7, "chat5"),
     "/bots/7/chats/chat5/leave", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/chats/:dialogId/owner", lambda c: c.set_chat_owner(7, "chat5", user_id=1),
     "/bots/7/chats/chat5/owner", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/chats/:dialogId/users", lambda c: c.add_chat_users(7, "chat5", user_ids=[1]),
     "/bots/7/chats/chat5/users", IDEMPOTENT),
    ("DELETE", "/v1/bots/:botId/chats/:dialogId/users", lambda c: c.remove_chat_user(7, "chat5", user_id=1),
     "/bots/7/chats/chat5/users", IDEMPOTENT),
    ("GET", "/v1/bots/:botId/chats/:dialogId/users", lambda c: c.list_chat_users(7, "chat5"),
     "/bots/7/chats/chat5/users", SAFE),
    ("POST", "/v1/bots/:botId/chats/:dialogId/managers",
     lambda c: c.add_chat_managers(7, "chat5", user_ids=[1]), "/bots/7/chats/chat5/managers", IDEMPOTENT),
    ("DELETE", "/v1/bots/:botId/chats/:dialogId/managers",
     lambda c: c.remove_chat_managers(7, "chat5", user_ids=[1]), "/bots/7/chats/chat5/managers", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/commands", lambda c: c.register_command(7, command="help", title="Help"),
     "/bots/7/commands", IDEMPOTENT),
    ("GET", "/v1/bots/:botId/commands", lambda c: c.list_commands(7), "/bots/7/commands", SAFE),
    ("PATCH", "/v1/bots/:botId/commands/:commandId", lambda c: c.update_command(7, 3, title="T"),
     "/bots/7/commands/3", IDEMPOTENT),
    ("DELETE", "/v1/bots/:botId/commands/:commandId", lambda c: c.delete_command(7, 3),
     "/bots/7/commands/3", IDEMPOTENT),
    ("POST", "/v1/bots/:botId/commands/:commandId/answer",
     lambda c: c.answer_command(7, 3, message_id=9, text="t"), "/bots/7/commands/3/answer", UNSAFE),
    ("POST", "/v1/bots/:botId/files", lambda c: c.upload_file(7, dialog_id=1, name="a.txt", content=b"x"),
     "/bots/7/files", UNSAFE),
    ("GET", "/v1/bots/:botId/files/:fileId", lambda c: c.get_file_download_url(7, 4),
     "/bots/7/files/4", SAFE),
]  # fmt: skip


@pytest.fixture
def recorded() -> tuple[VibeClient, RecordingTransport]:
    client = VibeClient(api_key="vibe_api_test", base_url="http://platform.test/v1", budget=NoBudget())
    transport = RecordingTransport()
    client._transport = transport  # type: ignore[assignment]
    return client, transport


def test_the_table_is_the_references_36_endpoints():
    assert len(ENDPOINTS) == 36
    assert len({(method, path) for method, path, *_ in ENDPOINTS}) == 36
    reference = Path("/work/shared/vibecode/bot-platform-reference.txt")
    if reference.exists():
        rows = re.findall(
            r"^\| (GET|POST|PATCH|DELETE) \| (/v1/\S+) \|",
            reference.read_text(encoding="utf-8"),
            re.MULTILINE,
        )
        assert set(rows) == {(method, path) for method, path, *_ in ENDPOINTS}


@pytest.mark.parametrize(
    ("method", "reference_path", "call", "path", "retry"),
    ENDPOINTS,
    ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS],
)
def test_each_endpoint_has_its_method_path_and_retry_class(
    recorded, method, reference_path, call, path, retry
):
    client, transport = recorded
    call(client)
    assert transport.requests[0][:3] == (method, path, retry)


def test_register_with_adopt_existing_is_safe_to_retry(recorded):
    client, transport = recorded
    client.register_bot(code="c", name="n", adopt_existing=True)
    assert transport.requests[0][2] is IDEMPOTENT


def test_a_dialog_id_is_escaped_in_the_path(recorded):
    client, transport = recorded
    client.get_chat(7, "chat5/../../x")
    assert transport.requests[0][1] == "/bots/7/chats/chat5%2F..%2F..%2Fx"


def test_message_fields_are_wrapped_as_the_contract_says(recorded):
    client, transport = recorded
    client.send_message(7, dialog_id=12, text="hi", system=True, url_preview=False, reply_id=3)
    assert transport.requests[0][4] == {
        "dialogId": "12",
        "fields": {"message": "hi", "system": True, "urlPreview": False, "replyId": 3},
    }


def test_removing_a_keyboard_sends_n(recorded):
    client, transport = recorded
    client.update_message(7, 9, keyboard=False, attach=False)
    assert transport.requests[0][4] == {"fields": {"keyboard": "N", "attach": "N"}}


def test_changing_a_keyboard_names_the_bot_beside_its_buttons(recorded):
    """CONTRACT B §7.3.1: an edit changes the buttons only with BOT_ID next to BUTTONS; the bare array a
    send takes was sent, so a poll's live counts on its buttons would not change on the platform."""
    client, transport = recorded
    client.update_message(
        7, 9, text="t", keyboard=Keyboard().button("Pizza", command="vote", command_params="1")
    )
    assert transport.requests[0][4] == {
        "fields": {
            "message": "t",
            "keyboard": {
                "BOT_ID": 7,
                "BUTTONS": [{"TEXT": "Pizza", "COMMAND": "vote", "COMMAND_PARAMS": "1"}],
            },
        }
    }


@pytest.mark.parametrize(
    ("call", "priority"),
    [
        (lambda c: c.get_events(7), Priority.POLL),
        (lambda c: c.show_typing(7, dialog_id="12"), Priority.BEST_EFFORT),
        (lambda c: c.add_reaction(7, 9, reaction="like"), Priority.BEST_EFFORT),
        (lambda c: c.remove_reaction(7, 9, reaction="like"), Priority.BEST_EFFORT),
        (lambda c: c.mark_read(7, dialog_id="12"), Priority.BEST_EFFORT),
        (lambda c: c.send_message(7, dialog_id="12", text="hi"), Priority.REPLY),
    ],
    ids=["events", "typing", "react", "unreact", "read", "send"],
)
def test_polls_and_best_effort_calls_declare_their_priority(recorded, call, priority):
    client, transport = recorded
    call(client)
    assert transport.priorities == [priority]


@pytest.mark.parametrize(
    ("call", "held"),
    [
        (lambda c: c.show_typing(7, dialog_id="12"), False),
        (lambda c: c.add_reaction(7, 9, reaction="like"), True),
        (lambda c: c.remove_reaction(7, 9, reaction="like"), True),
        (lambda c: c.mark_read(7, dialog_id="12"), True),
    ],
    ids=["typing", "react", "unreact", "read"],
)
def test_best_effort_calls_worth_sending_late_are_held_and_typing_is_not(recorded, call, held):
    """Typing sent after the reply shows nothing; a reaction or a read mark still means what it did."""
    client, transport = recorded
    call(client)
    assert transport.holds == [held]
