"""The sandbox's chat endpoints over real HTTP: create, get, update, leave, owner, members and managers."""

from __future__ import annotations

import base64

import pytest

from tests.sandbox.helpers import client_for, error_of, register_bot, seed_app, seed_personal, user_writes
from tests.sandbox.test_messages import seed_group, user_says_in


@pytest.fixture
def tenant(sandbox):
    """An admin, a colleague and a third user of one portal; the admin holds a personal key."""
    tenant = seed_personal(sandbox)

    def add_third(services):
        platform = services.platform
        return platform.create_user(platform.portals[tenant.portal_id], name="Vera Smirnova").id

    tenant.extra_user_ids.append(sandbox.run_in_loop(add_third))
    return tenant


@pytest.fixture
def inactive_id(sandbox, tenant) -> int:
    """A user of the tenant's portal who has been deactivated."""

    def add_former(services):
        platform = services.platform
        user = platform.create_user(platform.portals[tenant.portal_id], name="Gleb Former")
        user.active = False
        return user.id

    return sandbox.run_in_loop(add_former)


def chat_of(sandbox, chat_id):
    return sandbox.run_in_loop(lambda s: s.platform.chats[chat_id])


def create(client, bot_id, **fields):
    response = client.post(f"/bots/{bot_id}/chats", json={"fields": fields})
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def group(client, tenant, bot_id) -> dict:
    """A chat the bot created and owns, with the tenant's user and one colleague."""
    return create(client, bot_id, title="Standup", userIds=[tenant.user_id, tenant.extra_user_ids[0]])["chat"]


# --- create ---------------------------------------------------------------------------------------------


def test_create_answers_the_chat_and_its_users(sandbox, client, tenant, bot_id):
    avatar = base64.b64encode(b"\x89PNG fake").decode()
    data = create(client, bot_id, title="Стендап 🚀", description="Daily", color="mint", avatar=avatar,
                  userIds=[tenant.user_id], entityType="STANDUP")  # fmt: skip
    chat = data["chat"]
    assert chat["dialogId"] == f"chat{chat['id']}" and chat["type"] == "chat"
    assert (chat["name"], chat["description"], chat["color"], chat["avatar"]) == (
        "Стендап 🚀",
        "Daily",
        "mint",
        avatar,
    )
    assert (chat["owner"], chat["role"], chat["managerList"]) == (bot_id, "owner", [bot_id])
    assert chat["userCounter"] == 2 and chat["textFieldEnabled"] is True and chat["lastMessageId"] == 0
    assert {"muteList", "dateCreate", "messageType", "entityType", "diskFolderId"} <= set(chat)
    assert {u["id"]: u["bot"] for u in data["users"]} == {bot_id: True, tenant.user_id: False}
    stored = chat_of(sandbox, chat["id"])
    assert (stored.title, stored.owner_id, stored.entity_type) == ("Стендап 🚀", bot_id, "STANDUP")
    assert set(stored.member_ids) == {bot_id, tenant.user_id}


def test_create_takes_the_flat_form(sandbox, client, tenant, bot_id):
    response = client.post(f"/bots/{bot_id}/chats", json={"title": "Flat", "userIds": [tenant.user_id]})
    assert response.status_code == 200
    assert chat_of(sandbox, response.json()["data"]["chat"]["id"]).title == "Flat"


@pytest.mark.parametrize(("given", "stored"), [("MINT", "mint"), ("lightblue", "lightBlue"),
                                               ("LIGHT_BLUE", "lightBlue"),
                                               ("Graphite", "graphite")])  # fmt: skip
def test_create_reads_the_color_case_insensitively(client, bot_id, given, stored):
    assert create(client, bot_id, title="Colors", color=given)["chat"]["color"] == stored


def test_create_skips_unknown_inactive_and_foreign_users_silently(
    sandbox, client, tenant, bot_id, inactive_id
):
    stranger = seed_personal(sandbox)
    other_bot = register_bot(client, code="other_bot")
    ids = [tenant.user_id, 99999, inactive_id, stranger.user_id, other_bot, str(tenant.user_id)]
    chat = create(client, bot_id, title="Mixed", userIds=ids)["chat"]
    assert chat_of(sandbox, chat["id"]).member_ids == [bot_id, tenant.user_id]


def test_create_for_another_owner_keeps_the_bot_a_manager(sandbox, client, tenant, bot_id):
    chat = create(client, bot_id, title="Theirs", ownerId=tenant.user_id)["chat"]
    assert (chat["owner"], chat["role"], chat["managerList"]) == (
        tenant.user_id,
        "manager",
        [tenant.user_id, bot_id],
    )
    assert set(chat_of(sandbox, chat["id"]).member_ids) == {tenant.user_id, bot_id}


def test_create_posts_the_first_message_as_the_bot(sandbox, client, bot_id):
    chat = create(client, bot_id, title="Hello", message="Welcome, [b]team[/b]!")["chat"]
    messages = sandbox.run_in_loop(lambda s: s.platform.chat_messages(s.platform.chats[chat["id"]]))
    assert [(m.author_id, m.text) for m in messages] == [(bot_id, "Welcome, [b]team[/b]!")]


def test_create_without_a_title_names_the_chat_after_its_people(client, tenant, bot_id):
    assert create(client, bot_id, userIds=[tenant.user_id])["chat"]["name"] == "Chat: Helper, Anna"


def test_create_works_with_an_app_key_and_session(sandbox):
    tenant = seed_app(sandbox)
    with client_for(sandbox, tenant) as client:
        bot_id = register_bot(client)
        assert create(client, bot_id, title="App chat", userIds=[tenant.user_id])["chat"]["owner"] == bot_id


@pytest.mark.parametrize(
    "fields",
    [{"title": "x", "color": "orange"}, {"title": "x", "avatar": "data:image/png;base64,AAAA"},
     {"title": "x", "avatar": "not base64!"}, {"title": "x", "userIds": "1,2"},
     {"title": "x", "userIds": [True]}, {"title": 5}, {"title": "x", "ownerId": 99999},
     {"title": "x", "ownerId": "me"}, {"title": "x", "message": 1}, {"title": "x", "description": ["d"]}],
)  # fmt: skip
def test_create_with_a_bad_field_is_400_and_makes_nothing(sandbox, client, bot_id, fields):
    response = client.post(f"/bots/{bot_id}/chats", json={"fields": fields})
    assert response.status_code == 400 and error_of(response) == "INVALID_REQUEST"
    assert sandbox.run_in_loop(lambda s: [c for c in s.platform.chats.values() if c.type == "chat"]) == []


# --- get and update -------------------------------------------------------------------------------------


def test_get_answers_the_chat_as_the_bot_sees_it(client, bot_id, group):
    response = client.get(f"/bots/{bot_id}/chats/{group['dialogId']}")
    assert response.status_code == 200
    assert response.json()["data"]["chat"] == group


def test_get_of_a_private_dialog_by_user_id(sandbox, client, tenant, bot_id):
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    chat = client.get(f"/bots/{bot_id}/chats/{tenant.user_id}").json()["data"]["chat"]
    assert (chat["type"], chat["dialogId"], chat["name"]) == ("private", str(tenant.user_id), "Anna Petrova")


@pytest.mark.parametrize(
    ("dialog", "status", "code"),
    [("chat{theirs}", 403, "ACCESS_DENIED"), ("chat4242", 404, "CHAT_NOT_FOUND"),
     ("{colleague}", 404, "CHAT_NOT_FOUND"), ("4242", 404, "USER_NOT_FOUND"),
     ("team", 400, "DIALOG_ID_INVALID")],
)  # fmt: skip
def test_get_errors(sandbox, client, tenant, bot_id, dialog, status, code):
    names = {"theirs": seed_group(sandbox, tenant, []), "colleague": tenant.extra_user_ids[0]}
    response = client.get(f"/bots/{bot_id}/chats/{dialog.format(**names)}")
    assert response.status_code == status and error_of(response) == code


def test_update_changes_the_sent_fields(sandbox, client, bot_id, group):
    body = {"fields": {"title": "Daily standup", "description": "9:30", "color": "AZURE"}}
    response = client.patch(f"/bots/{bot_id}/chats/{group['dialogId']}", json=body)
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    stored = chat_of(sandbox, group["id"])
    assert (stored.title, stored.description, stored.color) == ("Daily standup", "9:30", "azure")
    client.patch(f"/bots/{bot_id}/chats/{group['dialogId']}", json={"description": "flat"})
    assert (chat_of(sandbox, group["id"]).title, chat_of(sandbox, group["id"]).description) == (
        "Daily standup",
        "flat",
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({}, 400, "INVALID_REQUEST"), ({"fields": {"title": ""}}, 400, "INVALID_REQUEST"),
     ({"fields": {"color": "orange"}}, 400, "INVALID_REQUEST"),
     ({"fields": "title"}, 400, "INVALID_REQUEST")],
)  # fmt: skip
def test_a_bad_update_is_400(sandbox, client, bot_id, group, body, status, code):
    response = client.patch(f"/bots/{bot_id}/chats/{group['dialogId']}", json=body)
    assert response.status_code == status and error_of(response) == code
    assert chat_of(sandbox, group["id"]).title == "Standup"


def test_update_needs_owner_or_manager_rights(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [bot_id])
    response = client.patch(f"/bots/{bot_id}/chats/chat{chat_id}", json={"fields": {"title": "Mine now"}})
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    sandbox.run_in_loop(lambda s: s.platform.chats[chat_id].manager_ids.add(bot_id))
    assert (
        client.patch(f"/bots/{bot_id}/chats/chat{chat_id}", json={"fields": {"title": "Ours"}}).status_code
        == 200
    )


def test_a_private_dialog_cannot_be_changed(sandbox, client, tenant, bot_id):
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    response = client.patch(f"/bots/{bot_id}/chats/{tenant.user_id}", json={"fields": {"title": "x"}})
    assert response.status_code == 400 and error_of(response) == "CHAT_TYPE_INVALID"


# --- leave and owner ------------------------------------------------------------------------------------


def test_leave_takes_the_bot_out_and_hands_its_chat_to_a_user(sandbox, client, tenant, bot_id, group):
    response = client.post(f"/bots/{bot_id}/chats/{group['dialogId']}/leave")
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    stored = chat_of(sandbox, group["id"])
    assert bot_id not in stored.member_ids and stored.owner_id == tenant.user_id
    again = client.get(f"/bots/{bot_id}/chats/{group['dialogId']}")
    assert again.status_code == 403 and error_of(again) == "ACCESS_DENIED"


def test_set_owner_hands_the_chat_to_a_member(sandbox, client, tenant, bot_id, group):
    response = client.post(f"/bots/{bot_id}/chats/{group['dialogId']}/owner", json={"userId": tenant.user_id})
    assert response.status_code == 200
    stored = chat_of(sandbox, group["id"])
    assert stored.owner_id == tenant.user_id and bot_id in stored.member_ids
    again = client.post(f"/bots/{bot_id}/chats/{group['dialogId']}/owner", json={"userId": tenant.user_id})
    assert again.status_code == 403 and error_of(again) == "ACCESS_DENIED"


@pytest.mark.parametrize(
    ("body", "code"),
    [({"userId": "{third}"}, "USER_NOT_IN_CHAT"), ({}, "INVALID_REQUEST"),
     ({"userId": "x"}, "INVALID_REQUEST")],
)  # fmt: skip
def test_set_owner_errors(sandbox, client, tenant, bot_id, group, body, code):
    body = {k: (tenant.extra_user_ids[1] if v == "{third}" else v) for k, v in body.items()}
    response = client.post(f"/bots/{bot_id}/chats/{group['dialogId']}/owner", json=body)
    assert response.status_code == 400 and error_of(response) == code
    assert chat_of(sandbox, group["id"]).owner_id == bot_id


# --- members --------------------------------------------------------------------------------------------


def test_add_users_adds_active_portal_users_and_skips_the_rest(
    sandbox, client, tenant, bot_id, group, inactive_id
):
    third = tenant.extra_user_ids[1]
    body = {"userIds": [third, inactive_id, 99999, tenant.user_id]}
    response = client.post(f"/bots/{bot_id}/chats/{group['dialogId']}/users", json=body)
    assert response.status_code == 200 and response.json()["data"] == {"result": True}
    assert chat_of(sandbox, group["id"]).member_ids == [
        bot_id,
        tenant.user_id,
        tenant.extra_user_ids[0],
        third,
    ]


def test_add_users_needs_rights(sandbox, client, tenant, bot_id):
    chat_id = seed_group(sandbox, tenant, [bot_id])
    response = client.post(
        f"/bots/{bot_id}/chats/chat{chat_id}/users", json={"userIds": [tenant.extra_user_ids[0]]}
    )
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    assert tenant.extra_user_ids[0] not in chat_of(sandbox, chat_id).member_ids


def test_remove_users_by_one_id_or_many(sandbox, client, tenant, bot_id, group):
    colleague, third = tenant.extra_user_ids
    client.post(f"/bots/{bot_id}/chats/{group['dialogId']}/users", json={"userIds": [third]})
    response = client.request(
        "DELETE", f"/bots/{bot_id}/chats/{group['dialogId']}/users", json={"userId": colleague}
    )
    assert response.status_code == 200
    assert colleague not in chat_of(sandbox, group["id"]).member_ids
    client.request(
        "DELETE", f"/bots/{bot_id}/chats/{group['dialogId']}/users", json={"userIds": [third, tenant.user_id]}
    )
    assert chat_of(sandbox, group["id"]).member_ids == [bot_id]


def test_the_owner_cannot_be_removed(sandbox, client, tenant, bot_id):
    chat = create(client, bot_id, title="Theirs", ownerId=tenant.user_id)["chat"]
    response = client.request(
        "DELETE", f"/bots/{bot_id}/chats/{chat['dialogId']}/users", json={"userId": tenant.user_id}
    )
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    assert tenant.user_id in chat_of(sandbox, chat["id"]).member_ids


@pytest.mark.parametrize(
    ("method", "body"),
    [("POST", {}), ("POST", {"userIds": 5}), ("POST", {"userIds": ["a"]}), ("DELETE", {}),
     ("DELETE", {"userId": None}), ("DELETE", {"userIds": [1.5]})],
)  # fmt: skip
def test_member_changes_with_bad_ids_are_400(client, bot_id, group, method, body):
    response = client.request(method, f"/bots/{bot_id}/chats/{group['dialogId']}/users", json=body)
    assert response.status_code == 400 and error_of(response) == "INVALID_REQUEST"


def test_list_users_answers_user_objects_in_order(sandbox, client, tenant, bot_id, group):
    response = client.get(f"/bots/{bot_id}/chats/{group['dialogId']}/users")
    assert response.status_code == 200
    users = response.json()["data"]
    ids = sorted([bot_id, tenant.user_id, tenant.extra_user_ids[0]])
    assert [u["id"] for u in users] == ids
    assert {"name", "firstName", "lastName", "active", "bot"} <= set(users[0])
    desc = client.get(
        f"/bots/{bot_id}/chats/{group['dialogId']}/users", params={"order[userId]": "DESC", "limit": 2}
    )
    assert [u["id"] for u in desc.json()["data"]] == ids[::-1][:2]


def test_list_users_orders_by_last_message(sandbox, client, tenant, bot_id, group):
    colleague = tenant.extra_user_ids[0]
    user_says_in(sandbox, colleague, group["id"], "first")
    user_says_in(sandbox, tenant.user_id, group["id"], "second")
    params = {"order[lastSendMessageId]": "desc"}
    users = client.get(f"/bots/{bot_id}/chats/{group['dialogId']}/users", params=params).json()["data"]
    assert [u["id"] for u in users] == [tenant.user_id, colleague, bot_id]


def test_list_users_of_a_private_dialog(sandbox, client, tenant, bot_id):
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    users = client.get(f"/bots/{bot_id}/chats/{tenant.user_id}/users").json()["data"]
    assert {u["id"] for u in users} == {tenant.user_id, bot_id}


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"limit": "all"},
                                    {"order[name]": "ASC"}, {"order[id]": "UP"}])  # fmt: skip
def test_list_users_with_bad_paging_is_400(client, bot_id, group, params):
    response = client.get(f"/bots/{bot_id}/chats/{group['dialogId']}/users", params=params)
    assert response.status_code == 400 and error_of(response) == "INVALID_REQUEST"


def test_list_users_of_a_chat_without_the_bot_is_403(sandbox, client, tenant, bot_id):
    response = client.get(f"/bots/{bot_id}/chats/chat{seed_group(sandbox, tenant, [])}/users")
    assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"


# --- managers -------------------------------------------------------------------------------------------


def test_managers_are_added_and_removed_by_the_owner(sandbox, client, tenant, bot_id, group):
    third = tenant.extra_user_ids[1]
    body = {"userIds": [tenant.user_id, third]}  # the third user is no member: skipped
    assert client.post(f"/bots/{bot_id}/chats/{group['dialogId']}/managers", json=body).status_code == 200
    assert chat_of(sandbox, group["id"]).manager_ids == {tenant.user_id}
    readback = client.get(f"/bots/{bot_id}/chats/{group['dialogId']}").json()["data"]["chat"]
    assert readback["managerList"] == [bot_id, tenant.user_id]
    response = client.request(
        "DELETE", f"/bots/{bot_id}/chats/{group['dialogId']}/managers", json={"userIds": [tenant.user_id]}
    )
    assert response.status_code == 200 and chat_of(sandbox, group["id"]).manager_ids == set()


def test_a_manager_bot_cannot_appoint_managers(sandbox, client, tenant, bot_id):
    chat = create(client, bot_id, title="Theirs", ownerId=tenant.user_id, userIds=[tenant.extra_user_ids[0]])[
        "chat"
    ]
    body = {"userIds": [tenant.extra_user_ids[0]]}
    for method in ("POST", "DELETE"):
        response = client.request(method, f"/bots/{bot_id}/chats/{chat['dialogId']}/managers", json=body)
        assert response.status_code == 403 and error_of(response) == "ACCESS_DENIED"
    assert chat_of(sandbox, chat["id"]).manager_ids == {bot_id}


def test_bad_input_to_chat_endpoints_is_4xx_never_500(sandbox, client, bot_id, group):
    path = f"/bots/{bot_id}/chats/{group['dialogId']}"
    for method, suffix, content in [
        ("POST", "", b"{oops"), ("PATCH", "", b"[]"), ("POST", "/owner", b"\xff"),
        ("POST", "/users", b'{"userIds": {}}'), ("DELETE", "/managers", b'{"userIds": [null]}'),
        ("POST", "/leave", b"42"), ("GET", "/users?limit=-1", b""),
    ]:  # fmt: skip
        target = f"/bots/{bot_id}/chats" if suffix == "" and method == "POST" else path + suffix
        response = client.request(
            method, target, content=content, headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (method, suffix, response.text)
