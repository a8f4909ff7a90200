"""Slash commands over real HTTP: register (both body shapes), list, update, delete, and answer."""

from __future__ import annotations

import uuid

import pytest

from sandbox import activity
from tests.sandbox.helpers import (
    Tenant,
    client_for,
    error_of,
    ok,
    register_bot,
    seed_app,
    seed_personal,
    user_writes,
)


def add_command(client, bot_id, **body) -> dict:
    response = client.post(f"/bots/{bot_id}/commands", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]["command"]


def test_register_takes_the_echo_examples_flat_body(client, bot_id):
    body = {"command": "ping", "title": "Ping", "description": "Check whether the bot is alive"}
    response = client.post(f"/bots/{bot_id}/commands", json=body)
    assert response.status_code == 201
    command = response.json()["data"]["command"]
    assert isinstance(command["id"], int)
    assert (command["botId"], command["command"], command["title"]) == (bot_id, "/ping", {"en": "Ping"})
    assert command["description"] == {"en": "Check whether the bot is alive"}
    assert (command["common"], command["hidden"], command["extranetSupport"]) == (False, False, False)


def test_register_takes_the_imbot_v2_fields(client, bot_id):
    command = add_command(
        client,
        bot_id,
        fields={
            "command": "/report",
            "title": {"en": "Report", "ru": "Отчёт"},
            "params": {"en": "period"},
            "common": True,
            "hidden": "N",
            "extranetSupport": "Y",
        },
    )
    assert command["command"] == "/report"
    assert command["title"] == {"en": "Report", "ru": "Отчёт"} and command["params"] == {"en": "period"}
    assert (command["common"], command["hidden"], command["extranetSupport"]) == (True, False, True)


def test_plain_command_register_answers_a_new_command_200(ctl, client, bot_id):
    """CONTRACT A §1 "Register answers 201" covers both of the reference's registrations ("Register a bot",
    "Register a command"); the reference itself shows its 201 on the bot's alone. `plain-command-register`
    reads the 201 as the bot's only: a new command is 200, with the same body."""
    ok(ctl.post("/_sandbox/dialects", json={"dialects": ["plain-command-register"]}))
    first = client.post(f"/bots/{bot_id}/commands", json={"command": "help", "title": "Help"})
    again = client.post(f"/bots/{bot_id}/commands", json={"command": "help", "title": "Help"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["data"]["command"]["command"] == "/help"
    assert client.post("/bots", json={"code": "second", "name": "Second"}).status_code == 201  # the bot's


def test_register_is_idempotent_per_bot(client, bot_id):
    first = client.post(f"/bots/{bot_id}/commands", json={"command": "help", "title": "Help"})
    again = client.post(f"/bots/{bot_id}/commands", json={"command": "/HELP", "title": "Other"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["data"]["command"] == first.json()["data"]["command"]
    assert len(client.get(f"/bots/{bot_id}/commands").json()["data"]["commands"]) == 1


def test_the_same_command_on_another_bot_is_another_command(client, bot_id):
    other = register_bot(client, "other_bot")
    assert (
        add_command(client, bot_id, command="help", title="Help")["id"]
        != add_command(client, other, command="help", title="Help")["id"]
    )


def test_a_command_is_one_per_bot_whichever_key_or_session_asks(sandbox, ctl):
    """Command registration is per bot (CONTRACT B §7.5, imbot.v2: idempotent per bot/app; the reference
    lists no code refusing a repeat): the owning app key through two users' sessions registers one command,
    and another key of the portal (a personal key, the app's rotated key) reaches no bot of that key
    (the reference's 403 BOT_ACCESS_DENIED), so it adds none. Counted on the platform's record of the bot."""
    app = seed_app(sandbox)

    def colleague_signs_in(services) -> str:
        platform = services.platform
        user = platform.users[app.extra_user_ids[0]]
        return platform.create_session(app=platform.apps[app.app_id], user=user).token

    colleague = sandbox.run_in_loop(colleague_signs_in)
    personal = seed_personal(sandbox, portal_id=app.portal_id)
    rotated = ctl.post("/_sandbox/apps/keys", json={"appKey": app.key}).json()["data"]["key"]
    with client_for(sandbox, app) as owner:
        bot_id = register_bot(owner)
        first = owner.post(f"/bots/{bot_id}/commands", json={"command": "ping", "title": "Ping"})
    as_colleague = Tenant(app.portal_id, app.extra_user_ids[0], app.key, colleague, app.app_id)
    others = [as_colleague, personal, Tenant(app.portal_id, app.user_id, rotated, app.token, app.app_id)]
    answers = []
    for tenant in others:
        with client_for(sandbox, tenant) as client:
            response = client.post(f"/bots/{bot_id}/commands", json={"command": "/PING", "title": "Other"})
            answers.append((response.status_code, response.json().get("error", {}).get("code")))
    assert first.status_code == 201
    assert answers == [(200, None), (403, "BOT_ACCESS_DENIED"), (403, "BOT_ACCESS_DENIED")]
    [bot] = [b for b in ctl.get("/_sandbox/bots").json()["data"]["bots"] if b["id"] == bot_id]
    registered = first.json()["data"]["command"]["id"]
    assert [(c["id"], c["command"]) for c in bot["commands"]] == [(registered, "/ping")]


def test_a_hidden_command_needs_no_title(client, bot_id):
    assert add_command(client, bot_id, command="secret", hidden=True)["title"] == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": "No name"}, "COMMAND_REQUIRED"),
        ({"command": "", "title": "Empty"}, "COMMAND_REQUIRED"),
        ({"command": "/", "title": "Slash only"}, "COMMAND_NAME_INVALID"),
        ({"command": "two words", "title": "Spaces"}, "COMMAND_NAME_INVALID"),
        ({"command": 12, "title": "Number"}, "COMMAND_NAME_INVALID"),
        ({"command": "x" * 65, "title": "Long"}, "COMMAND_NAME_INVALID"),
        ({"command": "untitled"}, "COMMAND_TITLE_REQUIRED"),
        ({"command": "blank", "title": "  "}, "COMMAND_TITLE_REQUIRED"),
        ({"command": "typed", "title": {"en": 5}}, "INVALID_REQUEST"),
        ({"command": "flag", "title": "T", "common": "always"}, "INVALID_REQUEST"),
    ],
)
def test_a_bad_command_is_400_with_a_clear_code(client, bot_id, body, code):
    response = client.post(f"/bots/{bot_id}/commands", json=body)
    assert response.status_code == 400
    assert error_of(response) == code


def test_list_answers_the_bots_commands_in_order(client, bot_id):
    names = [add_command(client, bot_id, command=name, title=name)["command"] for name in ("ping", "help")]
    response = client.get(f"/bots/{bot_id}/commands")
    assert response.status_code == 200
    assert [c["command"] for c in response.json()["data"]["commands"]] == names == ["/ping", "/help"]


def test_update_changes_texts_flags_and_name(client, bot_id):
    command = add_command(client, bot_id, command="ping", title="Ping")
    response = client.patch(
        f"/bots/{bot_id}/commands/{command['id']}",
        json={"fields": {"title": {"en": "Pong"}, "common": True, "command": "pong"}},
    )
    assert response.status_code == 200
    updated = response.json()["data"]["command"]
    assert (updated["command"], updated["title"], updated["common"]) == ("/pong", {"en": "Pong"}, True)
    assert client.get(f"/bots/{bot_id}/commands").json()["data"]["commands"] == [updated]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "INVALID_REQUEST"),
        ({"command": "help"}, 409, "COMMAND_ALREADY_EXISTS"),
        ({"title": ""}, 400, "COMMAND_TITLE_REQUIRED"),
        ({"command": "bad name"}, 400, "COMMAND_NAME_INVALID"),
    ],
)
def test_a_bad_update_is_refused(client, bot_id, body, status, code):
    add_command(client, bot_id, command="help", title="Help")
    command = add_command(client, bot_id, command="ping", title="Ping")
    response = client.patch(f"/bots/{bot_id}/commands/{command['id']}", json=body)
    assert response.status_code == status
    assert error_of(response) == code


def test_delete_unregisters_and_a_repeat_is_command_not_found(client, bot_id):
    command = add_command(client, bot_id, command="ping", title="Ping")
    assert client.delete(f"/bots/{bot_id}/commands/{command['id']}").json()["data"]["result"] is True
    assert client.get(f"/bots/{bot_id}/commands").json()["data"]["commands"] == []
    repeat = client.delete(f"/bots/{bot_id}/commands/{command['id']}")
    assert repeat.status_code == 404 and error_of(repeat) == "COMMAND_NOT_FOUND"


def test_a_command_of_another_bot_is_command_not_found(client, bot_id):
    other = register_bot(client, "other_bot")
    command = add_command(client, other, command="ping", title="Ping")
    for response in (
        client.patch(f"/bots/{bot_id}/commands/{command['id']}", json={"title": "X"}),
        client.delete(f"/bots/{bot_id}/commands/{command['id']}"),
    ):
        assert response.status_code == 404 and error_of(response) == "COMMAND_NOT_FOUND"


def test_a_non_numeric_command_id_is_a_clear_400(client, bot_id):
    response = client.delete(f"/bots/{bot_id}/commands/ping")
    assert response.status_code == 400 and error_of(response) == "INVALID_BOT_ID"  # CONTRACT A §9


def test_a_user_typing_the_command_raises_commandadd(sandbox, client, tenant, bot_id):
    command = add_command(client, bot_id, command="ping", title="Ping")
    message_id = user_writes(sandbox, tenant.user_id, bot_id, "/ping now")
    event = client.get(f"/bots/{bot_id}/events").json()["data"]["events"][-1]
    assert event["type"] == "ONIMBOTV2COMMANDADD"
    assert event["data"]["command"] == {
        "id": command["id"],
        "command": "ping",
        "params": "now",
        "context": "textarea",
    }
    assert event["data"]["message"]["id"] == message_id


# --- answer ----------------------------------------------------------------------------------------------
ASKED = "<the command message>"  # stands for the id of the message the command came in


def command_message(sandbox, client, tenant, bot_id, text="/ping") -> tuple[dict, int]:
    command = add_command(client, bot_id, command="ping", title="Ping")
    return command, user_writes(sandbox, tenant.user_id, bot_id, text)


def chat_messages(sandbox, chat_id: int) -> list:
    return sandbox.run_in_loop(lambda s: [m for m in s.platform.messages.values() if m.chat_id == chat_id])


def answer_to(sandbox, message_id: int):
    """The message posted as the answer to the command in `message_id` (the answer itself does not say it)."""
    return sandbox.run_in_loop(
        lambda s: next(m for m in s.platform.messages.values() if m.answer_to == message_id)
    )


def test_answer_posts_in_the_chat_of_the_command_message(sandbox, client, tenant, bot_id):
    command, message_id = command_message(sandbox, client, tenant, bot_id)
    response = client.post(
        f"/bots/{bot_id}/commands/{command['id']}/answer",
        json={"messageId": message_id, "message": "[B]Pong![/B] The bot is working fine."},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"result": True}  # CONTRACT B §7.5: no id of the message posted
    answer = answer_to(sandbox, message_id)
    asked = sandbox.run_in_loop(lambda s: s.platform.messages[message_id])
    assert (answer.chat_id, answer.author_id, answer.answer_to) == (asked.chat_id, bot_id, message_id)
    assert answer.text == "[B]Pong![/B] The bot is working fine." and answer.is_system is False


def test_answer_takes_fields_with_a_keyboard(sandbox, client, tenant, bot_id):
    command, message_id = command_message(sandbox, client, tenant, bot_id)
    response = client.post(
        f"/bots/{bot_id}/commands/{command['id']}/answer",
        json={
            "messageId": message_id,
            "dialogId": str(tenant.user_id),
            "fields": {
                "message": "Choose",
                "keyboard": [{"TEXT": "Again", "ACTION": "SEND", "ACTION_VALUE": "/ping"}],
            },
        },
    )
    assert response.status_code == 200, response.text
    answer = answer_to(sandbox, message_id)
    assert answer.keyboard[0]["TEXT"] == "Again"


def test_an_answer_in_a_chat_without_the_bot_is_a_system_message(sandbox, client, tenant, bot_id):
    command = add_command(client, bot_id, command="ping", title="Ping", common=True)

    def group_without_bot(services):
        platform = services.platform
        user = platform.users[tenant.user_id]
        chat = platform.create_group_chat(
            portal_id=tenant.portal_id, owner_id=user.id, title="Team", member_ids=[]
        )
        return activity.send_user_message(platform, user=user, chat=chat, text="/ping").id

    message_id = sandbox.run_in_loop(group_without_bot)
    response = client.post(
        f"/bots/{bot_id}/commands/{command['id']}/answer", json={"messageId": message_id, "message": "Pong"}
    )
    assert response.status_code == 200, response.text
    answer = answer_to(sandbox, message_id)
    assert answer.is_system is True


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"messageId": 999999, "message": "Pong"}, 404, "MESSAGE_NOT_FOUND"),
        ({"message": "Pong"}, 400, "INVALID_REQUEST"),
        ({"messageId": "first", "message": "Pong"}, 400, "INVALID_REQUEST"),
        ({"messageId": ASKED, "message": "Pong", "dialogId": "chat999999"}, 400, "COMMAND_ANSWER_FAILED"),
        ({"messageId": ASKED, "message": "Pong", "dialogId": "999999"}, 400, "COMMAND_ANSWER_FAILED"),
        ({"messageId": ASKED, "message": "  "}, 400, "EMPTY_MESSAGE"),
        ({"messageId": ASKED, "message": "Pong", "keyboard": [{"TEXT": "No action"}]}, 400, "KEYBOARD_ERROR"),
        ({"messageId": ASKED, "message": 5}, 400, "INVALID_REQUEST"),
        ({"messageId": ASKED, "message": "Pong", "replyId": 999999}, 404, "MESSAGE_NOT_FOUND"),
    ],
)
def test_a_bad_answer_is_refused(sandbox, client, tenant, bot_id, body, status, code):
    command, message_id = command_message(sandbox, client, tenant, bot_id)
    if body.get("messageId") == ASKED:
        body = {**body, "messageId": message_id}
    response = client.post(f"/bots/{bot_id}/commands/{command['id']}/answer", json=body)
    assert response.status_code == status
    assert error_of(response) == code


def test_an_answer_to_a_message_of_another_portal_is_message_not_found(sandbox, client, tenant, bot_id):
    command = add_command(client, bot_id, command="ping", title="Ping")
    stranger = seed_personal(sandbox)
    with client_for(sandbox, stranger) as other:
        other_bot = register_bot(other)
    foreign_message = user_writes(sandbox, stranger.user_id, other_bot, "hello")
    response = client.post(
        f"/bots/{bot_id}/commands/{command['id']}/answer",
        json={"messageId": foreign_message, "message": "Pong"},
    )
    assert response.status_code == 404 and error_of(response) == "MESSAGE_NOT_FOUND"


def test_an_answer_for_an_unknown_command_is_command_not_found(sandbox, client, tenant, bot_id):
    _, message_id = command_message(sandbox, client, tenant, bot_id)
    body = {"messageId": message_id, "message": "x"}
    response = client.post(f"/bots/{bot_id}/commands/999999/answer", json=body)
    assert response.status_code == 404 and error_of(response) == "COMMAND_NOT_FOUND"


def test_a_repeated_template_id_answers_result_true_and_posts_once(sandbox, client, tenant, bot_id):
    """The repeat is absorbed (the sandbox's templateId reading), and its answer, like the first's, is the
    contract's {result: true}: nothing in it tells the caller the templateId was honoured."""
    command, message_id = command_message(sandbox, client, tenant, bot_id)
    body = {"messageId": message_id, "fields": {"message": "Pong", "templateId": str(uuid.uuid4())}}
    path = f"/bots/{bot_id}/commands/{command['id']}/answer"
    answers = [client.post(path, json=body).json()["data"] for _ in range(2)]
    assert answers == [{"result": True}, {"result": True}]
    chat_id = answer_to(sandbox, message_id).chat_id
    assert [m.text for m in chat_messages(sandbox, chat_id)] == ["/ping", "Pong"]
