"""The sandbox's interface endpoints over real HTTP: the typing indicator (on the platform clock) and the
chat's input field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.api.interface import TYPING_CODES
from tests.sandbox.helpers import client_for, error_of, register_bot, seed_app, user_writes
from tests.sandbox.test_messages import seed_group


@pytest.fixture
def chat_id(sandbox, tenant, bot_id) -> int:
    """The user's 1:1 dialog with the bot, opened by writing to it."""
    said = user_writes(sandbox, tenant.user_id, bot_id, "hi")
    return sandbox.run_in_loop(lambda s: s.platform.messages[said].chat_id)


def visible_typing(sandbox, client, chat_id) -> list[dict]:
    """What the control API (and so the chat page) shows as typing right now."""
    return client.get(f"{sandbox.root_url}/_sandbox/chats/{chat_id}").json()["data"]["chat"]["typing"]


def advance_clock(sandbox, seconds: float) -> None:
    sandbox.run_in_loop(lambda s: setattr(s.platform, "clock_offset", s.platform.clock_offset + seconds))


# --- typing ---------------------------------------------------------------------------------------------


def test_typing_with_a_status_is_shown_until_its_duration_ends(sandbox, client, tenant, bot_id, chat_id):
    body = {
        "dialogId": str(tenant.user_id),
        "statusMessageCode": "IMBOT_AGENT_ACTION_THINKING",
        "duration": 25,
    }
    response = client.post(f"/bots/{bot_id}/typing", json=body)
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    status, now = sandbox.run_in_loop(lambda s: (s.platform.chats[chat_id].typing[bot_id], s.platform.now()))
    assert status.status_message_code == "IMBOT_AGENT_ACTION_THINKING"
    assert timedelta(seconds=24) < status.until - now <= timedelta(seconds=25)
    assert [(t["userId"], t["statusMessageCode"]) for t in visible_typing(sandbox, client, chat_id)] == [
        (bot_id, "IMBOT_AGENT_ACTION_THINKING")
    ]
    advance_clock(sandbox, 26)
    assert visible_typing(sandbox, client, chat_id) == []


def test_typing_without_a_code_is_plain_typing_for_30_seconds(sandbox, client, tenant, bot_id, chat_id):
    assert client.post(f"/bots/{bot_id}/typing", json={"dialogId": tenant.user_id}).status_code == 200
    [shown] = visible_typing(sandbox, client, chat_id)
    assert (shown["userId"], shown["statusMessageCode"]) == (bot_id, None)
    advance_clock(sandbox, 29)
    assert len(visible_typing(sandbox, client, chat_id)) == 1
    advance_clock(sandbox, 2)
    assert visible_typing(sandbox, client, chat_id) == []


def test_typing_again_replaces_the_status_and_a_message_ends_it(sandbox, client, tenant, bot_id, chat_id):
    dialog = str(tenant.user_id)
    client.post(
        f"/bots/{bot_id}/typing",
        json={"dialogId": dialog, "statusMessageCode": "IMBOT_AGENT_ACTION_SEARCHING"},
    )
    client.post(
        f"/bots/{bot_id}/typing",
        json={"dialogId": dialog, "statusMessageCode": "IMBOT_AGENT_ACTION_COMPOSING"},
    )
    assert [t["statusMessageCode"] for t in visible_typing(sandbox, client, chat_id)] == [
        "IMBOT_AGENT_ACTION_COMPOSING"
    ]
    client.post(f"/bots/{bot_id}/messages", json={"dialogId": dialog, "fields": {"message": "Found it"}})
    assert visible_typing(sandbox, client, chat_id) == []


@pytest.mark.parametrize("code", TYPING_CODES)
def test_every_documented_status_code_is_accepted(sandbox, client, tenant, bot_id, chat_id, code):
    assert (
        client.post(
            f"/bots/{bot_id}/typing", json={"dialogId": tenant.user_id, "statusMessageCode": code}
        ).status_code
        == 200
    )
    assert sandbox.run_in_loop(lambda s: s.platform.chats[chat_id].typing[bot_id].status_message_code) == code


def test_typing_in_a_group_chat_the_bot_is_in(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [bot_id])
    assert (
        client.post(
            f"/bots/{bot_id}/typing", json={"dialogId": f"chat{chat_id}", "duration": 600}
        ).status_code
        == 200
    )
    assert [t["userId"] for t in visible_typing(sandbox, client, chat_id)] == [bot_id]


@pytest.mark.parametrize(
    ("body", "mentions"),
    [({"statusMessageCode": "IMBOT_AGENT_ACTION_DANCING"}, "statusMessageCode"),
     ({"statusMessageCode": "thinking"}, "statusMessageCode"), ({"duration": 0}, "duration"),
     ({"duration": 601}, "duration"), ({"duration": "10"}, "duration"), ({"duration": True}, "duration"),
     ({"duration": 2.5}, "duration"), ({"dialogId": None}, "dialogId"), ({"dialogId": ["1"]}, "dialogId")],
)  # fmt: skip
def test_bad_typing_input_is_400_naming_the_field(sandbox, client, tenant, bot_id, chat_id, body, mentions):
    response = client.post(f"/bots/{bot_id}/typing", json={"dialogId": str(tenant.user_id), **body})
    assert response.status_code == 400 and error_of(response) == "INVALID_REQUEST"
    assert mentions in response.json()["error"]["message"]
    assert visible_typing(sandbox, client, chat_id) == []


def test_typing_where_the_bot_is_no_member_is_403_and_unknown_chats_404(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [])
    response = client.post(f"/bots/{bot_id}/typing", json={"dialogId": f"chat{chat_id}"})
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    assert sandbox.run_in_loop(lambda s: s.platform.chats[chat_id].typing) == {}
    response = client.post(f"/bots/{bot_id}/typing", json={"dialogId": "chat9999"})
    assert response.status_code == 404 and error_of(response) == "CHAT_NOT_FOUND"


def test_typing_works_with_an_app_key_and_session(sandbox):
    tenant = seed_app(sandbox)
    with client_for(sandbox, tenant) as client:
        bot_id = register_bot(client)
        assert (
            client.post(f"/bots/{bot_id}/typing", json={"dialogId": str(tenant.user_id)}).status_code == 200
        )


# --- text field -----------------------------------------------------------------------------------------


def text_field(sandbox, chat_id) -> bool:
    return sandbox.run_in_loop(lambda s: s.platform.chats[chat_id].text_field_enabled)


@pytest.mark.parametrize(("off", "on"), [(False, True), ("N", "Y")])
def test_text_field_turns_the_input_off_and_on(sandbox, client, tenant, bot_id, chat_id, off, on):
    response = client.post(
        f"/bots/{bot_id}/text-field", json={"dialogId": str(tenant.user_id), "enabled": off}
    )
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    assert text_field(sandbox, chat_id) is False
    readback = client.get(f"{sandbox.root_url}/_sandbox/chats/{chat_id}").json()["data"]["chat"]
    assert readback["textFieldEnabled"] is False
    client.post(f"/bots/{bot_id}/text-field", json={"dialogId": str(tenant.user_id), "enabled": on})
    assert text_field(sandbox, chat_id) is True


def test_text_field_in_a_group_chat(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [bot_id])
    assert (
        client.post(
            f"/bots/{bot_id}/text-field", json={"dialogId": f"chat{chat_id}", "enabled": False}
        ).status_code
        == 200
    )
    assert text_field(sandbox, chat_id) is False


@pytest.mark.parametrize("body", [{}, {"enabled": None}, {"enabled": "off"}, {"enabled": 0}, {"enabled": []}])
def test_text_field_without_a_boolean_is_400(sandbox, client, tenant, bot_id, chat_id, body):
    response = client.post(f"/bots/{bot_id}/text-field", json={"dialogId": str(tenant.user_id), **body})
    assert response.status_code == 400 and "enabled" in response.json()["error"]["message"]
    assert text_field(sandbox, chat_id) is True


def test_text_field_where_the_bot_is_no_member_is_403(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [])
    response = client.post(
        f"/bots/{bot_id}/text-field", json={"dialogId": f"chat{chat_id}", "enabled": False}
    )
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    assert text_field(sandbox, chat_id) is True


@pytest.mark.parametrize("path", ["/typing", "/text-field"])
@pytest.mark.parametrize("content", [b"{nope", b"[]", b"\xc3\x28", b'"chat1"'])
def test_bad_json_to_interface_endpoints_is_400(client, bot_id, path, content):
    response = client.post(
        f"/bots/{bot_id}{path}", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["success"] is False
