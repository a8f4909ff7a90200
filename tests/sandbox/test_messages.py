"""The sandbox's message endpoints over real HTTP: send, edit, delete, get, context, read marks, reactions."""

from __future__ import annotations

import pytest

from sandbox import activity
from sandbox.api.messages import REACTIONS
from tests.sandbox.helpers import client_for, error_of, register_bot, seed_app, seed_personal, user_writes


def send(client, bot_id, dialog_id, **fields):
    return client.post(f"/bots/{bot_id}/messages", json={"dialogId": str(dialog_id), "fields": fields})


def sent_id(response) -> int:
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def message_of(sandbox, message_id):
    return sandbox.run_in_loop(lambda s: s.platform.messages[message_id])


def event_types(sandbox, bot_id) -> list[str]:
    return sandbox.run_in_loop(lambda s: [e.type for e in s.platform.bots[bot_id].events])


def seed_group(sandbox, tenant, member_ids, title="Team") -> int:
    """A group chat owned by the tenant's user with these other members; its id."""

    def seed(services):
        return services.platform.create_group_chat(
            portal_id=tenant.portal_id, owner_id=tenant.user_id, title=title, member_ids=member_ids
        ).id

    return sandbox.run_in_loop(seed)


def user_says_in(sandbox, user_id, chat_id, text) -> int:
    def act(services):
        platform = services.platform
        return activity.send_user_message(
            platform, user=platform.users[user_id], chat=platform.chats[chat_id], text=text
        ).id

    return sandbox.run_in_loop(act)


# --- send -----------------------------------------------------------------------------------------------


def test_send_answers_the_quick_start_shape_and_posts_in_the_users_dialog(sandbox, client, tenant, bot_id):
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    response = send(client, bot_id, tenant.user_id, message="Hi! How can I help?")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["uuidMap"] == [] and isinstance(data["id"], int)
    message = message_of(sandbox, data["id"])
    chat_id = sandbox.run_in_loop(lambda s: s.platform.private_chats[(tenant.user_id, bot_id)])
    assert (message.author_id, message.chat_id, message.text) == (bot_id, chat_id, "Hi! How can I help?")
    assert sandbox.run_in_loop(lambda s: s.platform.chats[chat_id].last_message_id) == data["id"]


def test_send_to_a_user_who_never_wrote_opens_the_dialog(sandbox, client, tenant, bot_id):
    colleague = tenant.extra_user_ids[0]
    message = message_of(sandbox, sent_id(send(client, bot_id, colleague, message="Good morning!")))
    chat = sandbox.run_in_loop(lambda s: s.platform.chats[message.chat_id])
    assert chat.type == "private" and set(chat.member_ids) == {colleague, bot_id}


def test_send_takes_a_numeric_dialog_id(sandbox, client, tenant, bot_id):
    response = client.post(
        f"/bots/{bot_id}/messages", json={"dialogId": tenant.user_id, "fields": {"message": "x"}}
    )
    assert response.status_code == 200


def test_send_to_a_group_chat_the_bot_is_in(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [bot_id])
    message = message_of(sandbox, sent_id(send(client, bot_id, f"chat{chat_id}", message="[b]Standup[/b]")))
    assert message.chat_id == chat_id


def test_send_to_a_group_chat_without_the_bot_is_403_access_denied(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [])
    response = send(client, bot_id, f"chat{chat_id}", message="let me in")
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    assert sandbox.run_in_loop(lambda s: s.platform.chat_messages(s.platform.chats[chat_id])) == []


@pytest.mark.parametrize(
    ("dialog_id", "status", "code"),
    [("chat999", 404, "CHAT_NOT_FOUND"), ("999", 404, "USER_NOT_FOUND"),
     ("general", 400, "DIALOG_ID_INVALID"), ("", 400, "INVALID_REQUEST")],
)  # fmt: skip
def test_send_to_an_unknown_dialog_is_a_clear_4xx(client, bot_id, dialog_id, status, code):
    response = send(client, bot_id, dialog_id, message="anyone?")
    assert response.status_code == status and error_of(response) == code


def test_send_to_a_user_of_another_portal_is_404(sandbox, client, bot_id):
    stranger = seed_personal(sandbox)
    response = send(client, bot_id, stranger.user_id, message="hi")
    assert response.status_code == 404 and error_of(response) == "USER_NOT_FOUND"


def test_send_without_dialog_id_is_400(client, bot_id):
    response = client.post(f"/bots/{bot_id}/messages", json={"fields": {"message": "x"}})
    assert response.status_code == 400 and "dialogId" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "fields", [{}, {"message": ""}, {"message": "   \n"}, {"keyboard": "N", "attach": []}]
)
def test_a_message_with_nothing_to_show_is_400_empty_message(client, tenant, bot_id, fields):
    response = client.post(
        f"/bots/{bot_id}/messages", json={"dialogId": str(tenant.user_id), "fields": fields}
    )
    assert response.status_code == 400 and error_of(response) == "EMPTY_MESSAGE"


def test_an_attach_or_a_keyboard_alone_is_a_message(sandbox, client, tenant, bot_id):
    assert sent_id(send(client, bot_id, tenant.user_id, attach=[{"MESSAGE": "card"}]))
    keyboard = [{"TEXT": "Go", "ACTION": "SEND", "ACTION_VALUE": "go"}]
    assert (
        message_of(sandbox, sent_id(send(client, bot_id, tenant.user_id, keyboard=keyboard))).keyboard
        == keyboard
    )


def test_send_keeps_system_flag_and_reply(sandbox, client, tenant, bot_id):
    asked = user_writes(sandbox, tenant.user_id, bot_id, "question")
    message = message_of(
        sandbox, sent_id(send(client, bot_id, tenant.user_id, message="answer", system=True, replyId=asked))
    )
    assert (message.is_system, message.reply_id) == (True, asked)


def test_a_reply_to_a_message_of_another_chat_is_404(sandbox, client, tenant, bot_id):
    elsewhere = user_says_in(sandbox, tenant.user_id, seed_group(sandbox, tenant, []), "private talk")
    response = send(client, bot_id, tenant.user_id, message="re", replyId=elsewhere)
    assert response.status_code == 404 and error_of(response) == "MESSAGE_NOT_FOUND"


def test_send_works_with_an_app_key_and_session(sandbox):
    tenant = seed_app(sandbox)
    with client_for(sandbox, tenant) as client:
        bot_id = register_bot(client)
        message = message_of(
            sandbox, sent_id(send(client, bot_id, tenant.user_id, message="from the catalog app"))
        )
    assert message.author_id == bot_id


def test_bot_actions_raise_no_events_for_any_bot(sandbox, client, tenant, bot_id):
    watcher = register_bot(client, code="watcher", type="supervisor")
    chat_id = seed_group(sandbox, tenant, [bot_id, watcher])
    said = user_says_in(sandbox, tenant.user_id, chat_id, f"[user={bot_id}]Bot[/user] hi")
    before = {b: event_types(sandbox, b) for b in (bot_id, watcher)}
    mine = sent_id(send(client, bot_id, f"chat{chat_id}", message=f"[user={watcher}]W[/user] hello"))
    client.patch(f"/bots/{bot_id}/messages/{mine}", json={"fields": {"message": "edited"}})
    client.post(f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "like"})
    client.post(f"/bots/{bot_id}/messages/{mine}/reactions", json={"reaction": "fire"})
    client.delete(f"/bots/{bot_id}/messages/{mine}")
    assert {b: event_types(sandbox, b) for b in (bot_id, watcher)} == before


# --- edit -----------------------------------------------------------------------------------------------


@pytest.fixture
def own(sandbox, client, tenant, bot_id):
    """A bot message with text, keyboard and attach."""
    keyboard = [{"TEXT": "A", "ACTION": "SEND", "ACTION_VALUE": "a"}]
    return sent_id(
        send(client, bot_id, tenant.user_id, message="draft", keyboard=keyboard, attach=[{"MESSAGE": "card"}])
    )


def test_edit_changes_only_what_is_sent(sandbox, client, bot_id, own):
    response = client.patch(f"/bots/{bot_id}/messages/{own}", json={"fields": {"message": "final"}})
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    message = message_of(sandbox, own)
    assert message.text == "final" and message.edited_at is not None
    assert message.keyboard and message.attach == [{"MESSAGE": "card"}]


@pytest.mark.parametrize("cleared", ["N", ""])
def test_edit_with_keyboard_n_or_empty_removes_the_keyboard(sandbox, client, bot_id, own, cleared):
    assert (
        client.patch(f"/bots/{bot_id}/messages/{own}", json={"fields": {"keyboard": cleared}}).status_code
        == 200
    )
    message = message_of(sandbox, own)
    assert message.keyboard is None and message.text == "draft"


def test_edit_replaces_the_keyboard_and_removes_the_attach(sandbox, client, bot_id, own):
    keyboard = {"BOT_ID": bot_id, "BUTTONS": [{"TEXT": "B", "COMMAND": "help"}]}
    response = client.patch(
        f"/bots/{bot_id}/messages/{own}", json={"fields": {"keyboard": keyboard, "attach": "N"}}
    )
    assert response.status_code == 200
    message = message_of(sandbox, own)
    assert message.keyboard == [{"TEXT": "B", "COMMAND": "help"}] and message.attach is None


def test_edit_cuts_long_text_too(sandbox, client, bot_id, own):
    client.patch(f"/bots/{bot_id}/messages/{own}", json={"fields": {"message": "x" * 25_000}})
    assert message_of(sandbox, own).text == "x" * 20_000 + " (...)"


def test_edit_of_someone_elses_message_is_403(sandbox, client, tenant, bot_id):
    theirs = user_writes(sandbox, tenant.user_id, bot_id, "mine")
    response = client.patch(f"/bots/{bot_id}/messages/{theirs}", json={"fields": {"message": "hacked"}})
    assert response.status_code == 403 and error_of(response) == "MESSAGE_ACCESS_DENIED"
    assert message_of(sandbox, theirs).text == "mine"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [({}, 400, "INVALID_REQUEST"), ({"message": "", "keyboard": "N", "attach": "N"}, 400, "EMPTY_MESSAGE"),
     ({"keyboard": [{"TEXT": "x"}]}, 400, "KEYBOARD_ERROR"),
     ({"attach": {"BLOCKS": "x"}}, 400, "ATTACH_ERROR"), ({"message": 5}, 400, "INVALID_REQUEST")],
)  # fmt: skip
def test_a_bad_edit_is_refused_and_changes_nothing(sandbox, client, bot_id, own, fields, status, code):
    response = client.patch(f"/bots/{bot_id}/messages/{own}", json={"fields": fields})
    assert response.status_code == status and error_of(response) == code
    message = message_of(sandbox, own)
    assert message.text == "draft" and message.keyboard and message.edited_at is None


def test_edit_of_an_unknown_or_deleted_message_is_404(client, bot_id, own):
    assert (
        error_of(client.patch(f"/bots/{bot_id}/messages/99999", json={"fields": {"message": "x"}}))
        == "MESSAGE_NOT_FOUND"
    )
    client.delete(f"/bots/{bot_id}/messages/{own}")
    response = client.patch(f"/bots/{bot_id}/messages/{own}", json={"fields": {"message": "x"}})
    assert response.status_code == 404 and error_of(response) == "MESSAGE_NOT_FOUND"


# --- delete ---------------------------------------------------------------------------------------------


def test_delete_marks_the_message_deleted_and_a_repeat_is_404(sandbox, client, bot_id, own):
    response = client.delete(f"/bots/{bot_id}/messages/{own}")
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    assert message_of(sandbox, own).deleted is True
    again = client.delete(f"/bots/{bot_id}/messages/{own}")
    assert again.status_code == 404 and error_of(again) == "MESSAGE_NOT_FOUND"


def test_delete_of_someone_elses_message_is_403(sandbox, client, tenant, bot_id):
    theirs = user_writes(sandbox, tenant.user_id, bot_id, "keep me")
    response = client.delete(f"/bots/{bot_id}/messages/{theirs}")
    assert response.status_code == 403 and error_of(response) == "MESSAGE_ACCESS_DENIED"
    assert message_of(sandbox, theirs).deleted is False


def test_another_bots_message_cannot_be_touched(sandbox, client, tenant, bot_id, own):
    other = register_bot(client, code="other_bot")
    assert error_of(client.delete(f"/bots/{other}/messages/{own}")) == "MESSAGE_ACCESS_DENIED"


# --- get and context ------------------------------------------------------------------------------------


@pytest.fixture
def supervisor(client):
    return register_bot(client, code="watcher", type="supervisor")


def test_get_answers_the_message_its_chat_and_author(sandbox, client, tenant, supervisor):
    said = user_writes(sandbox, tenant.user_id, supervisor, "Привет 👋")
    response = client.get(f"/bots/{supervisor}/messages/{said}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["message"]["id"], data["message"]["text"], data["message"]["authorId"]) == (
        said,
        "Привет 👋",
        tenant.user_id,
    )
    assert data["chat"]["dialogId"] == str(tenant.user_id)
    assert [u["id"] for u in data["users"]] == [tenant.user_id]


def test_get_works_for_personal_bots(sandbox, client, tenant):
    personal = register_bot(client, code="assistant", type="personal")
    said = user_writes(sandbox, tenant.user_id, personal, "hello")
    assert client.get(f"/bots/{personal}/messages/{said}").status_code == 200


@pytest.mark.parametrize("path", ["", "/context"])
def test_get_and_context_are_403_for_an_ordinary_bot(sandbox, client, tenant, bot_id, path):
    said = user_writes(sandbox, tenant.user_id, bot_id, "hello")
    response = client.get(f"/bots/{bot_id}/messages/{said}{path}")
    assert response.status_code == 403 and error_of(response) == "BOT_TYPE_NOT_ALLOWED"


def test_get_of_an_unknown_message_is_404(client, supervisor):
    response = client.get(f"/bots/{supervisor}/messages/424242")
    assert response.status_code == 404 and error_of(response) == "MESSAGE_NOT_FOUND"


def test_get_of_a_message_in_a_chat_without_the_bot_is_403(sandbox, client, tenant, supervisor):
    said = user_says_in(sandbox, tenant.user_id, seed_group(sandbox, tenant, []), "secret")
    response = client.get(f"/bots/{supervisor}/messages/{said}/context")
    assert response.status_code == 403 and error_of(response) == "MESSAGE_ACCESS_DENIED"


def test_context_pages_around_a_message(sandbox, client, tenant, supervisor):
    said = [user_writes(sandbox, tenant.user_id, supervisor, f"m{i}") for i in range(6)]
    response = client.get(f"/bots/{supervisor}/messages/{said[2]}/context", params={"range": 1})
    data = response.json()["data"]
    assert [m["text"] for m in data["messages"]] == ["m1", "m2", "m3"]
    assert (data["hasPrevPage"], data["hasNextPage"]) == (True, True)
    assert [u["id"] for u in data["users"]] == [tenant.user_id]
    edge = client.get(f"/bots/{supervisor}/messages/{said[0]}/context", params={"range": 50}).json()["data"]
    assert [m["text"] for m in edge["messages"]] == [f"m{i}" for i in range(6)]
    assert (edge["hasPrevPage"], edge["hasNextPage"]) == (False, False)


def test_context_defaults_to_50_each_side_and_lists_bot_authors(sandbox, client, tenant, supervisor):
    said = [user_writes(sandbox, tenant.user_id, supervisor, f"m{i}") for i in range(53)]
    sent_id(send(client, supervisor, tenant.user_id, message="from the bot"))
    data = client.get(f"/bots/{supervisor}/messages/{said[0]}/context").json()["data"]
    assert len(data["messages"]) == 51 and data["hasNextPage"] is True
    tail = client.get(f"/bots/{supervisor}/messages/{said[-1]}/context", params={"range": 1}).json()["data"]
    assert {u["id"]: u["bot"] for u in tail["users"]} == {tenant.user_id: False, supervisor: True}


@pytest.mark.parametrize("bad_range", ["0", "51", "ten", "-1"])
def test_context_range_outside_1_to_50_is_400(sandbox, client, tenant, supervisor, bad_range):
    said = user_writes(sandbox, tenant.user_id, supervisor, "x")
    response = client.get(f"/bots/{supervisor}/messages/{said}/context", params={"range": bad_range})
    assert response.status_code == 400 and "range" in response.json()["error"]["message"]


# --- read marks -----------------------------------------------------------------------------------------


def read_mark(sandbox, chat_id, bot_id):
    return sandbox.run_in_loop(lambda s: s.platform.chats[chat_id].read_marks.get(bot_id))


def test_read_marks_up_to_a_message_and_never_back(sandbox, client, tenant, bot_id):
    first = user_writes(sandbox, tenant.user_id, bot_id, "one")
    second = user_writes(sandbox, tenant.user_id, bot_id, "two")
    chat_id = message_of(sandbox, first).chat_id
    response = client.post(f"/bots/{bot_id}/chats/{tenant.user_id}/read", json={"messageId": second})
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    assert read_mark(sandbox, chat_id, bot_id) == second
    client.post(f"/bots/{bot_id}/chats/{tenant.user_id}/read", json={"messageId": first})
    assert read_mark(sandbox, chat_id, bot_id) == second
    readback = client.get(f"{sandbox.root_url}/_sandbox/chats/{chat_id}").json()["data"]["chat"]
    assert readback["readMarks"] == {str(bot_id): second}


def test_read_without_a_message_id_marks_everything(sandbox, client, tenant, bot_id):
    user_writes(sandbox, tenant.user_id, bot_id, "one")
    last = user_writes(sandbox, tenant.user_id, bot_id, "two")
    chat_id = message_of(sandbox, last).chat_id
    assert client.post(f"/bots/{bot_id}/chats/{tenant.user_id}/read").status_code == 200
    assert read_mark(sandbox, chat_id, bot_id) == last


def test_read_in_a_group_chat(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [bot_id])
    said = user_says_in(sandbox, tenant.user_id, chat_id, "all read this")
    assert (
        client.post(f"/bots/{bot_id}/chats/chat{chat_id}/read", json={"messageId": said}).status_code == 200
    )
    assert read_mark(sandbox, chat_id, bot_id) == said


@pytest.mark.parametrize(
    ("dialog", "body", "status", "code"),
    [("chat{other}", {}, 403, "ACCESS_DENIED"),
     ("{user}", {"messageId": "{foreign}"}, 404, "MESSAGE_NOT_FOUND"),
     ("{user}", {"messageId": "abc"}, 400, "INVALID_REQUEST"),
     ("{user}", {"messageId": True}, 400, "INVALID_REQUEST"),
     ("{colleague}", {}, 404, "CHAT_NOT_FOUND"), ("chat0", {}, 404, "CHAT_NOT_FOUND")],
)  # fmt: skip
def test_read_errors(sandbox, client, tenant, bot_id, dialog, body, status, code):
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    other = seed_group(sandbox, tenant, [])
    names = {"other": other, "user": tenant.user_id, "colleague": tenant.extra_user_ids[0],
             "foreign": user_says_in(sandbox, tenant.user_id, other, "elsewhere")}  # fmt: skip
    body = {
        k: (int(v.format(**names)) if isinstance(v, str) and v.startswith("{") else v)
        for k, v in body.items()
    }
    response = client.post(f"/bots/{bot_id}/chats/{dialog.format(**names)}/read", json=body)
    assert response.status_code == status and error_of(response) == code


# --- reactions ------------------------------------------------------------------------------------------


@pytest.fixture
def said(sandbox, tenant, bot_id):
    return user_writes(sandbox, tenant.user_id, bot_id, "react to me")


def reactions_of(sandbox, message_id):
    return sandbox.run_in_loop(
        lambda s: {k: set(v) for k, v in s.platform.messages[message_id].reactions.items() if v}
    )


def test_reaction_add_and_remove(sandbox, client, bot_id, said):
    response = client.post(f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "like"})
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    assert reactions_of(sandbox, said) == {"like": {bot_id}}
    response = client.request(
        "DELETE", f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "like"}
    )
    assert response.status_code == 200
    assert reactions_of(sandbox, said) == {}


def test_reaction_twice_is_409_and_removing_an_absent_one_is_404(client, bot_id, said):
    client.post(f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "fire"})
    again = client.post(f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "fire"})
    assert again.status_code == 409 and error_of(again) == "REACTION_ALREADY_SET"
    absent = client.request("DELETE", f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "like"})
    assert absent.status_code == 404 and error_of(absent) == "REACTION_NOT_FOUND"


def test_reaction_delete_takes_the_code_from_the_query_too(sandbox, client, bot_id, said):
    client.post(f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "eyes"})
    assert (
        client.delete(f"/bots/{bot_id}/messages/{said}/reactions", params={"reaction": "eyes"}).status_code
        == 200
    )
    assert reactions_of(sandbox, said) == {}


def test_the_bots_reaction_sits_beside_a_users(sandbox, client, tenant, bot_id, said):
    def user_likes(services):
        platform = services.platform
        user, message = platform.users[tenant.user_id], platform.messages[said]
        activity.react(platform, user=user, message=message, reaction="like")

    sandbox.run_in_loop(user_likes)
    client.post(f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": "like"})
    assert reactions_of(sandbox, said) == {"like": {tenant.user_id, bot_id}}


def test_every_documented_reaction_code_is_accepted(sandbox, client, bot_id, said):
    assert len(REACTIONS) == 48
    for code in sorted(REACTIONS):
        response = client.post(f"/bots/{bot_id}/messages/{said}/reactions", json={"reaction": code})
        assert response.status_code == 200, code
    assert set(reactions_of(sandbox, said)) == REACTIONS


@pytest.mark.parametrize(
    ("body", "code"),
    [({"reaction": "thumbsUp"}, "REACTION_INVALID"), ({"reaction": "LIKE"}, "REACTION_INVALID"),
     ({}, "INVALID_REQUEST"), ({"reaction": 1}, "INVALID_REQUEST")],
)  # fmt: skip
def test_a_bad_reaction_is_400(client, bot_id, said, body, code):
    response = client.post(f"/bots/{bot_id}/messages/{said}/reactions", json=body)
    assert response.status_code == 400 and error_of(response) == code


def test_reacting_in_a_chat_without_the_bot_is_403_and_to_nothing_404(sandbox, client, tenant, bot_id):
    elsewhere = user_says_in(sandbox, tenant.user_id, seed_group(sandbox, tenant, []), "not for bots")
    response = client.post(f"/bots/{bot_id}/messages/{elsewhere}/reactions", json={"reaction": "like"})
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    response = client.post(f"/bots/{bot_id}/messages/77777/reactions", json={"reaction": "like"})
    assert response.status_code == 404 and error_of(response) == "MESSAGE_NOT_FOUND"


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [("POST", "/messages", b"{not json"), ("POST", "/messages", b"[1, 2]"),
     ("POST", "/messages", b'{"fields": "hi"}'),
     ("POST", "/messages", b'{"dialogId": ["1"], "fields": {"message": "x"}}'),
     ("PATCH", "/messages/1", b"\xff\xfe"), ("PATCH", "/messages/1", b'{"fields": [1]}'),
     ("POST", "/messages/1/reactions", b'"like"'), ("POST", "/chats/1/read", b"{"),
     ("GET", "/messages/abc", b""), ("GET", "/messages/99999999999999999999999/context", b"")],
)  # fmt: skip
def test_bad_input_is_4xx_never_500(sandbox, client, tenant, bot_id, method, path, content):
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    response = client.request(
        method, f"/bots/{bot_id}{path}", content=content, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["success"] is False


def test_a_repeated_template_id_answers_the_first_message_instead_of_posting_again(sandbox):
    """imbot.v2's templateId: the sender's UUID for a message; a repeat maps to the first (uuidMap)."""
    import uuid as uuid_module

    ctx = _templated_setup(sandbox)
    template = str(uuid_module.uuid4())
    body = {"dialogId": str(ctx["user_id"]), "fields": {"message": "once", "templateId": template}}
    first = ctx["http"].post(f"/bots/{ctx['bot_id']}/messages", json=body).json()["data"]
    again = ctx["http"].post(f"/bots/{ctx['bot_id']}/messages", json=body).json()["data"]
    assert first["id"] == again["id"] and again["uuidMap"] == {template: first["id"]}
    sent = sandbox.run_in_loop(
        lambda s: [m.text for m in s.platform.messages.values() if m.author_id == ctx["bot_id"]]
    )
    assert sent == ["once"]
    bad = ctx["http"].post(
        f"/bots/{ctx['bot_id']}/messages",
        json={"dialogId": str(ctx["user_id"]), "fields": {"message": "x", "templateId": "nope"}},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST"


def _templated_setup(sandbox):
    import httpx

    def seed(services):
        platform = services.platform
        portal = platform.create_portal()
        user = platform.create_user(portal, name="Tess Template")
        key = platform.issue_personal_key(user)
        bot = platform.add_bot(owner_key=key.value, portal_id=portal.id, code="templated", name="Templated")
        return key.value, user.id, bot.id

    key, user_id, bot_id = sandbox.run_in_loop(seed)
    return {
        "http": httpx.Client(base_url=sandbox.base_url, headers={"X-Api-Key": key}),
        "user_id": user_id,
        "bot_id": bot_id,
    }
