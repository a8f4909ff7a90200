"""The control API over real HTTP: setting the platform up, acting as portal users, reading back what bots
did."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.sandbox.helpers import ok, refused


# --- helpers -------------------------------------------------------------------------------------------
@pytest.fixture
def portal(ctl) -> dict:
    return ok(ctl.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}))["portal"]


@pytest.fixture
def admin(ctl, portal) -> dict:
    return ok(
        ctl.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Anna Petrova", "isAdmin": True})
    )["user"]


@pytest.fixture
def colleague(ctl, portal) -> dict:
    return ok(ctl.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Boris Ivanov"}))["user"]


@pytest.fixture
def key(ctl, admin) -> str:
    return ok(ctl.post("/_sandbox/keys", json={"userId": admin["id"]}))["key"]


def register(api, key: str, code: str = "helper", **fields) -> int:
    response = api.post("/bots", headers={"X-Api-Key": key}, json={"code": code, "name": "Helper", **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]["bot"]["id"]


@pytest.fixture
def bot_id(api, key) -> int:
    return register(api, key)


def events_of(ctl, bot_id: int) -> list[dict]:
    return ok(ctl.get(f"/_sandbox/bots/{bot_id}/events"))["events"]


def types_of(ctl, bot_id: int) -> list[str]:
    return [e["type"] for e in events_of(ctl, bot_id)]


def bot_says(api, key: str, bot_id: int, dialog_id: str, text: str, **fields) -> int:
    """The bot sends a message through the platform API; its id."""
    response = api.post(
        f"/bots/{bot_id}/messages",
        headers={"X-Api-Key": key},
        json={"dialogId": dialog_id, "fields": {"message": text, **fields}},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def bot_calls(api, key: str, path: str, body: dict) -> None:
    response = api.post(path, headers={"X-Api-Key": key}, json=body)
    assert response.status_code in (200, 201), response.text


# --- setup ---------------------------------------------------------------------------------------------
def test_created_portal_and_user_come_back_with_their_ids(ctl, portal, admin):
    assert portal["domain"] == "acme.bitrix24.com" and portal["name"] == "Acme"
    assert portal["id"] and portal["memberId"]
    assert admin == {
        "id": admin["id"],
        "portalId": portal["id"],
        "name": "Anna Petrova",
        "firstName": "Anna",
        "lastName": "Petrova",
        "isAdmin": True,
        "language": "en",
        "workPosition": "",
    }
    for path in ("/_sandbox/state", "/_sandbox/portals"):
        portals = ok(ctl.get(path))["portals"]
        assert [p["id"] for p in portals] == [portal["id"]]
        assert [u["id"] for u in portals[0]["users"]] == [admin["id"]]


def test_a_second_portal_with_the_same_domain_is_409(ctl, portal):
    refused(ctl.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com"}), 409, "PORTAL_EXISTS")


def test_users_of_an_unknown_portal_are_404(ctl):
    refused(ctl.post("/_sandbox/portals/nope/users", json={"name": "X"}), 404, "PORTAL_NOT_FOUND")


def test_reset_forgets_everything(ctl, portal, bot_id):
    ok(ctl.post("/_sandbox/faults", json={"errorRate": 1}))
    ok(ctl.post("/_sandbox/reset"))
    state = ok(ctl.get("/_sandbox/state"))
    assert state["portals"] == [] and state["bots"] == [] and state["chats"] == []
    assert ok(ctl.get("/_sandbox/faults"))["faults"] == []
    assert ok(ctl.get("/_sandbox/calls"))["calls"] == []


def test_app_key_and_session_register_a_bot_through_the_platform(ctl, api, admin):
    created = ok(ctl.post("/_sandbox/apps", json={"name": "Standup", "scopes": ["imbot", "im"]}))
    assert created["app"]["name"] == "Standup" and created["app"]["scopes"] == ["im", "imbot"]
    assert created["key"].startswith("vibe_app_")
    session = ok(ctl.post("/_sandbox/sessions", json={"appKey": created["key"], "userId": admin["id"]}))
    assert session["token"].startswith("vibe_session_")
    assert (session["portalId"], session["userId"]) == (admin["portalId"], admin["id"])
    headers = {"X-Api-Key": created["key"], "Authorization": f"Bearer {session['token']}"}
    response = api.post("/bots", headers=headers, json={"code": "standup", "name": "Standup"})
    assert response.status_code == 201, response.text
    bots = ok(ctl.get("/_sandbox/bots", params={"portalId": admin["portalId"]}))["bots"]
    assert [(b["code"], b["keyKind"], b["appId"]) for b in bots] == [("standup", "app", created["app"]["id"])]


def test_a_session_needs_an_app_key(ctl, key, admin):
    refused(
        ctl.post("/_sandbox/sessions", json={"appKey": key, "userId": admin["id"]}), 400, "INVALID_REQUEST"
    )
    refused(
        ctl.post("/_sandbox/sessions", json={"appKey": "vibe_app_unknown", "userId": admin["id"]}),
        404,
        "KEY_NOT_FOUND",
    )


def test_a_session_with_a_negative_ttl_is_already_expired(ctl, api, admin):
    created = ok(ctl.post("/_sandbox/apps", json={}))
    session = ok(
        ctl.post(
            "/_sandbox/sessions", json={"appKey": created["key"], "userId": admin["id"], "ttlSeconds": -1}
        )
    )
    headers = {"X-Api-Key": created["key"], "Authorization": f"Bearer {session['token']}"}
    refused(api.get("/bots", headers=headers), 401, "TOKEN_EXPIRED")


def test_advancing_the_clock_expires_sessions(ctl, api, admin):
    created = ok(ctl.post("/_sandbox/apps", json={}))
    session = ok(
        ctl.post(
            "/_sandbox/sessions", json={"appKey": created["key"], "userId": admin["id"], "ttlSeconds": 100}
        )
    )
    headers = {"X-Api-Key": created["key"], "Authorization": f"Bearer {session['token']}"}
    assert api.get("/bots", headers=headers).status_code == 200
    now = ok(ctl.post("/_sandbox/clock", json={"advanceSeconds": 200}))["now"]
    assert datetime.fromisoformat(now) > datetime.fromisoformat(session["expiresAt"])
    refused(api.get("/bots", headers=headers), 401, "TOKEN_EXPIRED")


def test_session_ttl_setting_applies_to_new_sessions(ctl, admin):
    created = ok(ctl.post("/_sandbox/apps", json={}))
    ok(ctl.post("/_sandbox/settings", json={"sessionTtlSeconds": 5}))
    session = ok(ctl.post("/_sandbox/sessions", json={"appKey": created["key"], "userId": admin["id"]}))
    now = ok(ctl.post("/_sandbox/clock", json={"advanceSeconds": 0}))["now"]
    lifetime = datetime.fromisoformat(session["expiresAt"]) - datetime.fromisoformat(now)
    assert lifetime.total_seconds() <= 5
    assert ok(ctl.get("/_sandbox/state"))["settings"]["sessionTtlSeconds"] == 5


def test_a_personal_key_acts_on_its_users_portal(ctl, api, key, admin):
    bot_id = register(api, key)
    bot = ok(ctl.get("/_sandbox/bots"))["bots"][0]
    assert (bot["id"], bot["portalId"], bot["keyKind"], bot["ownerUserId"]) == (
        bot_id,
        admin["portalId"],
        "api",
        admin["id"],
    )


def test_a_revoked_key_is_refused_by_the_platform(ctl, api, key):
    ok(ctl.post("/_sandbox/keys/revoke", json={"key": key}))
    refused(api.get("/bots", headers={"X-Api-Key": key}), 403, "KEY_REVOKED")
    refused(ctl.post("/_sandbox/keys/revoke", json={"key": "vibe_api_nope"}), 404, "KEY_NOT_FOUND")


def test_a_keys_rate_limit_applies_from_the_next_call(ctl, api, key):
    ok(ctl.post("/_sandbox/rate-limit", json={"key": key, "perSecond": 1}))
    statuses = [api.get("/bots", headers={"X-Api-Key": key}).status_code for _ in range(3)]
    assert 429 in statuses
    ok(ctl.post("/_sandbox/rate-limit", json={"key": key, "perSecond": None}))  # back to the default


def test_the_default_rate_limit_is_settable(ctl, api, key):
    ok(ctl.post("/_sandbox/rate-limit", json={"perSecond": 1}))
    assert ok(ctl.get("/_sandbox/state"))["settings"]["defaultRateLimit"] == 1
    statuses = [api.get("/bots", headers={"X-Api-Key": key}).status_code for _ in range(3)]
    assert 429 in statuses


def test_a_fault_forces_its_code_until_cleared(ctl, api, key):
    fault = ok(
        ctl.post(
            "/_sandbox/faults",
            json={"method": "GET", "path": "/v1/bots", "errorRate": 1, "errorCode": "BITRIX_UNAVAILABLE"},
        )
    )
    assert isinstance(fault["id"], int)
    refused(api.get("/bots", headers={"X-Api-Key": key}), 502, "BITRIX_UNAVAILABLE")
    assert ok(ctl.get("/_sandbox/faults"))["faults"][0]["path"] == "/v1/bots"
    ok(ctl.delete("/_sandbox/faults"))
    assert api.get("/bots", headers={"X-Api-Key": key}).status_code == 200


def test_one_fault_can_be_removed_by_id(ctl):
    fault_id = ok(ctl.post("/_sandbox/faults", json={"latencyMs": 1}))["id"]
    ok(ctl.delete(f"/_sandbox/faults/{fault_id}"))
    refused(ctl.delete(f"/_sandbox/faults/{fault_id}"), 404, "FAULT_NOT_FOUND")


# --- acting as a user ----------------------------------------------------------------------------------
def test_a_first_message_opens_the_dialog_and_the_bot_hears_join_then_the_message(ctl, admin, bot_id):
    message = ok(
        ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "hello"})
    )["message"]
    assert (message["authorId"], message["text"], message["deleted"]) == (admin["id"], "hello", False)
    events = events_of(ctl, bot_id)
    assert [e["type"] for e in events] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]
    assert events[1]["data"]["message"]["id"] == message["id"]
    assert events[1]["data"]["dialogId"] == str(admin["id"])
    ok(
        ctl.post(
            "/_sandbox/act/messages",
            json={"userId": admin["id"], "chatId": message["chatId"], "text": "again"},
        )
    )
    assert types_of(ctl, bot_id)[-1] == "ONIMBOTV2MESSAGEADD"


def test_opening_a_dialog_twice_joins_once(ctl, admin, bot_id):
    chat = ok(ctl.post("/_sandbox/act/open", json={"userId": admin["id"], "botId": bot_id}))["chat"]
    again = ok(ctl.post("/_sandbox/act/open", json={"userId": admin["id"], "botId": bot_id}))["chat"]
    assert chat["id"] == again["id"] and chat["type"] == "private" and chat["botId"] == bot_id
    assert types_of(ctl, bot_id) == ["ONIMBOTV2JOINCHAT"]


def test_a_command_message_raises_commandadd_from_the_textarea(ctl, api, key, admin, bot_id):
    response = api.post(
        f"/bots/{bot_id}/commands", headers={"X-Api-Key": key}, json={"command": "help", "title": "Help"}
    )
    assert response.status_code in (200, 201), response.text
    ok(ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "/help me"}))
    command = events_of(ctl, bot_id)[-1]
    assert command["type"] == "ONIMBOTV2COMMANDADD"
    assert (command["data"]["command"]["command"], command["data"]["command"]["params"]) == ("help", "me")
    assert command["data"]["command"]["context"] == "textarea"


def test_a_bot_in_a_group_chat_hears_only_mentions(ctl, admin, colleague, bot_id):
    chat = ok(
        ctl.post(
            "/_sandbox/act/chats",
            json={"userId": admin["id"], "title": "Team", "memberIds": [colleague["id"], bot_id]},
        )
    )["chat"]
    assert chat["owner"] == admin["id"] and chat["members"] == [admin["id"], colleague["id"], bot_id]
    assert chat["dialogId"] == f"chat{chat['id']}" and admin["id"] in chat["managers"]
    assert types_of(ctl, bot_id) == ["ONIMBOTV2JOINCHAT"]
    ok(
        ctl.post(
            "/_sandbox/act/messages", json={"userId": colleague["id"], "chatId": chat["id"], "text": "hi all"}
        )
    )
    assert types_of(ctl, bot_id) == ["ONIMBOTV2JOINCHAT"]
    text = f"[USER={bot_id}]Helper[/USER] status?"
    ok(
        ctl.post(
            "/_sandbox/act/messages", json={"userId": colleague["id"], "chatId": chat["id"], "text": text}
        )
    )
    assert types_of(ctl, bot_id) == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]


def test_adding_a_bot_to_a_group_chat_raises_joinchat(ctl, admin, bot_id):
    chat = ok(ctl.post("/_sandbox/act/chats", json={"userId": admin["id"], "title": "Team"}))["chat"]
    chat = ok(
        ctl.post(f"/_sandbox/act/chats/{chat['id']}/bots", json={"userId": admin["id"], "botId": bot_id})
    )["chat"]
    assert bot_id in chat["members"]
    join = events_of(ctl, bot_id)[0]
    assert join["type"] == "ONIMBOTV2JOINCHAT" and join["data"]["dialogId"] == f"chat{chat['id']}"


def test_only_members_write_in_a_group_chat(ctl, admin, colleague):
    chat = ok(ctl.post("/_sandbox/act/chats", json={"userId": admin["id"], "title": "Private"}))["chat"]
    refused(
        ctl.post(
            "/_sandbox/act/messages", json={"userId": colleague["id"], "chatId": chat["id"], "text": "x"}
        ),
        403,
        "ACCESS_DENIED",
    )


def test_editing_and_deleting_own_messages_tell_the_bot(ctl, admin, bot_id):
    message = ok(
        ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "helo"})
    )["message"]
    edited = ok(
        ctl.post(
            f"/_sandbox/act/messages/{message['id']}/edit", json={"userId": admin["id"], "text": "hello"}
        )
    )["message"]
    assert edited["text"] == "hello" and edited["editedAt"]
    deleted = ok(ctl.post(f"/_sandbox/act/messages/{message['id']}/delete", json={"userId": admin["id"]}))[
        "message"
    ]
    assert deleted["deleted"] is True
    events = events_of(ctl, bot_id)
    assert [e["type"] for e in events][-2:] == ["ONIMBOTV2MESSAGEUPDATE", "ONIMBOTV2MESSAGEDELETE"]
    assert events[-1]["data"]["messageId"] == message["id"]
    history = ok(ctl.get(f"/_sandbox/chats/{message['chatId']}/messages"))["messages"]
    assert [(m["id"], m["deleted"]) for m in history] == [(message["id"], True)]


def test_nobody_edits_someone_elses_message(ctl, admin, colleague, bot_id):
    chat = ok(
        ctl.post(
            "/_sandbox/act/chats", json={"userId": admin["id"], "title": "T", "memberIds": [colleague["id"]]}
        )
    )["chat"]
    message = ok(
        ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "chatId": chat["id"], "text": "mine"})
    )["message"]
    refused(
        ctl.post(
            f"/_sandbox/act/messages/{message['id']}/edit", json={"userId": colleague["id"], "text": "x"}
        ),
        403,
        "MESSAGE_ACCESS_DENIED",
    )


def test_keyboard_buttons_send_as_the_user_or_raise_a_keyboard_command(ctl, api, key, admin, bot_id):
    bot_calls(api, key, f"/bots/{bot_id}/commands", {"command": "more", "title": "More"})
    ok(ctl.post("/_sandbox/act/open", json={"userId": admin["id"], "botId": bot_id}))
    keyboard = [
        {"TEXT": "Again", "ACTION": "SEND", "ACTION_VALUE": "again please"},
        {"TYPE": "NEWLINE"},
        {"TEXT": "More", "COMMAND": "more", "COMMAND_PARAMS": "page 2"},
        {"TEXT": "Site", "LINK": "https://example.com"},
    ]
    message_id = bot_says(api, key, bot_id, str(admin["id"]), "Pick one", keyboard=keyboard)

    sent = ok(
        ctl.post("/_sandbox/act/buttons", json={"userId": admin["id"], "messageId": message_id, "index": 0})
    )
    assert sent["message"]["text"] == "again please" and sent["message"]["authorId"] == admin["id"]
    assert events_of(ctl, bot_id)[-1]["data"]["message"]["text"] == "again please"

    pressed = ok(
        ctl.post("/_sandbox/act/buttons", json={"userId": admin["id"], "messageId": message_id, "index": 1})
    )
    assert "message" not in pressed and pressed["button"]["COMMAND"] == "more"
    command = events_of(ctl, bot_id)[-1]
    assert command["type"] == "ONIMBOTV2COMMANDADD"
    assert command["data"]["command"] | {"id": None} == {
        "id": None,
        "command": "more",
        "params": "page 2",
        "context": "keyboard",
    }

    before = len(events_of(ctl, bot_id))
    assert ok(
        ctl.post("/_sandbox/act/buttons", json={"userId": admin["id"], "messageId": message_id, "index": 2})
    )["button"]["LINK"]
    assert len(events_of(ctl, bot_id)) == before  # a link acts in the client only
    refused(
        ctl.post("/_sandbox/act/buttons", json={"userId": admin["id"], "messageId": message_id, "index": 3}),
        400,
        "BUTTON_NOT_FOUND",
    )


def test_reactions_are_added_removed_and_reported(ctl, api, key, admin, bot_id):
    ok(ctl.post("/_sandbox/act/open", json={"userId": admin["id"], "botId": bot_id}))
    message_id = bot_says(api, key, bot_id, str(admin["id"]), "Rate me")
    body = {"userId": admin["id"], "messageId": message_id, "reaction": "fire"}
    assert ok(ctl.post("/_sandbox/act/reactions", json=body))["message"]["reactions"] == {
        "fire": [admin["id"]]
    }
    refused(ctl.post("/_sandbox/act/reactions", json=body), 409, "REACTION_ALREADY_SET")
    assert (
        ok(ctl.post("/_sandbox/act/reactions", json={**body, "action": "delete"}))["message"]["reactions"]
        == {}
    )
    changes = [e["data"] for e in events_of(ctl, bot_id) if e["type"] == "ONIMBOTV2REACTIONCHANGE"]
    assert [(c["reaction"], c["action"]) for c in changes] == [("fire", "add"), ("fire", "delete")]
    refused(ctl.post("/_sandbox/act/reactions", json={**body, "reaction": "<b>"}), 400, "REACTION_INVALID")
    refused(ctl.post("/_sandbox/act/reactions", json={**body, "action": "toggle"}), 400, "INVALID_REQUEST")


def test_following_a_context_link_raises_contextget(ctl, admin, bot_id):
    ok(
        ctl.post(
            "/_sandbox/act/context",
            json={"userId": admin["id"], "botId": bot_id, "context": {"entityType": "deal", "entityId": 7}},
        )
    )
    event = events_of(ctl, bot_id)[-1]
    assert event["type"] == "ONIMBOTV2CONTEXTGET" and event["data"]["context"] == {
        "entityType": "deal",
        "entityId": 7,
    }
    refused(
        ctl.post("/_sandbox/act/context", json={"userId": admin["id"], "botId": bot_id, "context": "deal"}),
        400,
        "INVALID_REQUEST",
    )


def test_only_an_admin_deletes_a_bot_and_it_hears_delete_last(ctl, admin, colleague, bot_id):
    refused(
        ctl.post(f"/_sandbox/act/bots/{bot_id}/delete", json={"userId": colleague["id"]}),
        403,
        "ACCESS_DENIED",
    )
    ok(ctl.post(f"/_sandbox/act/bots/{bot_id}/delete", json={"userId": admin["id"]}))
    ok(ctl.post(f"/_sandbox/act/bots/{bot_id}/delete", json={"userId": admin["id"]}))
    assert types_of(ctl, bot_id) == ["ONIMBOTV2DELETE"]
    assert ok(ctl.get("/_sandbox/bots"))["bots"][0]["deleting"] is True


def test_a_disabled_text_field_refuses_typed_messages_but_not_buttons(ctl, api, key, admin, bot_id):
    chat = ok(ctl.post("/_sandbox/act/open", json={"userId": admin["id"], "botId": bot_id}))["chat"]
    message_id = bot_says(
        api,
        key,
        bot_id,
        str(admin["id"]),
        "Choose",
        keyboard=[{"TEXT": "Yes", "ACTION": "SEND", "ACTION_VALUE": "yes"}],
    )
    bot_calls(api, key, f"/bots/{bot_id}/text-field", {"dialogId": str(admin["id"]), "enabled": False})
    assert ok(ctl.get(f"/_sandbox/chats/{chat['id']}"))["chat"]["textFieldEnabled"] is False
    refused(
        ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "hi"}),
        409,
        "TEXT_FIELD_DISABLED",
    )
    pressed = ok(
        ctl.post("/_sandbox/act/buttons", json={"userId": admin["id"], "messageId": message_id, "index": 0})
    )
    assert pressed["message"]["text"] == "yes"
    linked = ok(
        ctl.post(
            "/_sandbox/act/messages",
            json={"userId": admin["id"], "botId": bot_id, "text": "/help", "via": "link"},
        )
    )
    assert linked["message"]["text"] == "/help"


# --- reading back ---------------------------------------------------------------------------------------
def test_bot_messages_show_keyboards_attach_system_flag_answers_edits_and_deletions(
    ctl, api, key, admin, bot_id
):
    bot_calls(api, key, f"/bots/{bot_id}/commands", {"command": "ask", "title": "Ask"})
    question = ok(
        ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "/ask"})
    )["message"]
    command_id = events_of(ctl, bot_id)[-1]["data"]["command"]["id"]
    keyboard = [{"TEXT": "Yes", "ACTION": "SEND", "ACTION_VALUE": "yes"}]
    attach = [{"MESSAGE": "[B]note[/B]"}]
    first = bot_says(api, key, bot_id, str(admin["id"]), "Sure?", keyboard=keyboard, attach=attach)
    bot_says(api, key, bot_id, str(admin["id"]), "joined", system=True)
    bot_calls(
        api,
        key,
        f"/bots/{bot_id}/commands/{command_id}/answer",
        {"messageId": question["id"], "message": "answer"},
    )
    third = bot_says(api, key, bot_id, str(admin["id"]), "oops")
    assert (
        api.patch(
            f"/bots/{bot_id}/messages/{first}",
            headers={"X-Api-Key": key},
            json={"fields": {"message": "Sure now?"}},
        ).status_code
        == 200
    )
    assert api.delete(f"/bots/{bot_id}/messages/{third}", headers={"X-Api-Key": key}).status_code == 200
    bot_calls(api, key, f"/bots/{bot_id}/messages/{question['id']}/reactions", {"reaction": "like"})

    sent = ok(ctl.get(f"/_sandbox/bots/{bot_id}/messages"))["messages"]
    assert [(m["text"], m["isSystem"], m["answerTo"], m["deleted"]) for m in sent] == [
        ("Sure now?", False, None, False),
        ("joined", True, None, False),
        ("answer", False, question["id"], False),
        ("oops", False, None, True),
    ]
    assert sent[0]["editedAt"] and sent[0]["keyboard"][0]["ACTION_VALUE"] == "yes"
    assert sent[0]["attach"] == attach
    assert set(sent[0]) >= {
        "id",
        "chatId",
        "authorId",
        "text",
        "isSystem",
        "keyboard",
        "attach",
        "params",
        "reactions",
        "deleted",
        "editedAt",
        "answerTo",
        "date",
    }
    history = ok(ctl.get(f"/_sandbox/chats/{question['chatId']}/messages"))["messages"]
    assert history[0]["reactions"] == {"like": [bot_id]}


def test_chat_readback_names_members_owner_managers_typing_and_read_marks(
    ctl, api, key, admin, colleague, bot_id
):
    chat = ok(
        ctl.post(
            "/_sandbox/act/chats",
            json={"userId": admin["id"], "title": "Team", "memberIds": [colleague["id"], bot_id]},
        )
    )["chat"]
    said = ok(
        ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "chatId": chat["id"], "text": "hi"})
    )["message"]
    bot_calls(api, key, f"/bots/{bot_id}/chats/{chat['dialogId']}/read", {"messageId": said["id"]})
    bot_calls(
        api,
        key,
        f"/bots/{bot_id}/typing",
        {"dialogId": chat["dialogId"], "statusMessageCode": "IMBOT_AGENT_ACTION_THINKING", "duration": 30},
    )
    read = ok(ctl.get(f"/_sandbox/chats/{chat['id']}"))["chat"]
    assert read["readMarks"][str(bot_id)] == said["id"]
    assert (read["title"], read["owner"], read["members"], read["managers"]) == (
        "Team",
        admin["id"],
        [admin["id"], colleague["id"], bot_id],
        [admin["id"]],
    )
    assert {p["id"]: p["isBot"] for p in read["people"]} == {
        admin["id"]: False,
        colleague["id"]: False,
        bot_id: True,
    }
    assert [(t["userId"], t["statusMessageCode"]) for t in read["typing"]] == [
        (bot_id, "IMBOT_AGENT_ACTION_THINKING")
    ]
    ok(ctl.post("/_sandbox/clock", json={"advanceSeconds": 60}))
    assert ok(ctl.get(f"/_sandbox/chats/{chat['id']}"))["chat"]["typing"] == []


def test_pending_events_are_read_without_acknowledging_them(ctl, api, key, admin, bot_id):
    ok(ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "hello"}))
    assert len(events_of(ctl, bot_id)) == 2
    polled = api.get(f"/bots/{bot_id}/events", headers={"X-Api-Key": key}).json()["data"]
    assert len(polled["events"]) == 2  # the control read took nothing away
    api.get(f"/bots/{bot_id}/events", params={"offset": polled["nextOffset"]}, headers={"X-Api-Key": key})
    assert events_of(ctl, bot_id) == []
    assert ok(ctl.get(f"/_sandbox/bots/{bot_id}/events"))["storedOffset"] == polled["nextOffset"]


def test_calls_are_filtered_by_bot_and_since(ctl, api, key, bot_id):
    other = register(api, key, code="other")
    api.get(f"/bots/{bot_id}", headers={"X-Api-Key": key})
    api.get(f"/bots/{other}", headers={"X-Api-Key": key})
    mine = ok(ctl.get("/_sandbox/calls", params={"botId": bot_id}))["calls"]
    assert [(c["method"], c["path"], c["botId"], c["status"]) for c in mine] == [
        ("GET", f"/v1/bots/{bot_id}", bot_id, 200)
    ]
    every = ok(ctl.get("/_sandbox/calls"))["calls"]
    later = ok(ctl.get("/_sandbox/calls", params={"since": every[-2]["seq"]}))["calls"]
    assert [c["seq"] for c in later] == [every[-1]["seq"]]
    assert {c["keyKind"] for c in every} == {"api"}


def test_no_read_back_shows_a_key_or_a_session_token(ctl, api, admin, key):
    created = ok(ctl.post("/_sandbox/apps", json={}))
    token = ok(ctl.post("/_sandbox/sessions", json={"appKey": created["key"], "userId": admin["id"]}))[
        "token"
    ]
    api.post(
        "/bots",
        headers={"X-Api-Key": created["key"], "Authorization": f"Bearer {token}"},
        json={"code": "app_bot", "name": "App bot"},
    )
    bot_id = register(api, key)
    ok(ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "hi"}))
    chat_id = ok(ctl.get("/_sandbox/state"))["chats"][0]["id"]
    for path in (
        "/_sandbox/state",
        "/_sandbox/bots",
        "/_sandbox/calls",
        f"/_sandbox/bots/{bot_id}/events",
        f"/_sandbox/chats/{chat_id}",
        f"/_sandbox/chats/{chat_id}/messages",
        f"/_sandbox/users/{admin['id']}/dialogs",
    ):
        text = ctl.get(path).text
        assert key not in text and created["key"] not in text and token not in text, path


def test_a_users_dialogs_list_every_bot_and_their_group_chats(ctl, api, key, admin, colleague, bot_id):
    second = register(api, key, code="second", name="Second")
    ok(ctl.post("/_sandbox/act/messages", json={"userId": admin["id"], "botId": bot_id, "text": "latest"}))
    team = ok(
        ctl.post(
            "/_sandbox/act/chats",
            json={"userId": colleague["id"], "title": "Team", "memberIds": [admin["id"]]},
        )
    )["chat"]
    ok(ctl.post("/_sandbox/act/chats", json={"userId": colleague["id"], "title": "Not mine"}))
    listing = ok(ctl.get(f"/_sandbox/users/{admin['id']}/dialogs"))
    by_key = {d["key"]: d for d in listing["dialogs"]}
    assert set(by_key) == {f"bot-{bot_id}", f"bot-{second}", f"chat-{team['id']}"}
    assert by_key[f"bot-{bot_id}"]["lastMessage"]["text"] == "latest"
    assert by_key[f"bot-{second}"]["chatId"] is None  # not opened yet
    assert listing["dialogs"][0]["key"] == f"bot-{bot_id}"  # the most recent activity first
    assert {p["id"] for p in listing["people"]} == {admin["id"], colleague["id"], bot_id, second}


def test_a_bot_file_is_downloadable_for_the_chat_page(ctl, api, key, admin, bot_id):
    import base64

    ok(ctl.post("/_sandbox/act/open", json={"userId": admin["id"], "botId": bot_id}))
    response = api.post(
        f"/bots/{bot_id}/files",
        headers={"X-Api-Key": key},
        json={
            "dialogId": str(admin["id"]),
            "fields": {"name": "report.txt", "content": base64.b64encode(b"data").decode()},
        },
    )
    assert response.status_code == 200, response.text
    message = ok(ctl.get(f"/_sandbox/bots/{bot_id}/messages"))["messages"][-1]
    assert [(f["name"], f["size"]) for f in message["files"]] == [("report.txt", 4)]
    download = ctl.get(f"/_sandbox/files/{message['files'][0]['id']}")
    assert download.status_code == 200 and download.content == b"data"
    refused(ctl.get("/_sandbox/files/999"), 404, "FILE_NOT_FOUND")


def test_the_chat_page_is_served_with_a_strict_content_security_policy(ctl):
    page = ctl.get("/chat")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'data-testid="message-list"' in page.text
    for name in ("bbcode.js", "render.js", "actions.js", "chat.js"):
        script = ctl.get(f"/chat/static/sandbox/{name}")
        assert script.status_code == 200
        # Text reaches the DOM only as text nodes: no HTML-parsing sink anywhere in the page's code.
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", script.text), name


# --- bad input ------------------------------------------------------------------------------------------
BAD_INPUT = [
    ("POST", "/_sandbox/portals", {"domain": 5}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/portals", {"domain": "a b"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/portals/{portal}/users", {}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/portals/{portal}/users", {"name": "X", "isAdmin": "yes"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/apps", {"scopes": "imbot,"}, 200, None),
    ("POST", "/_sandbox/apps", {"scopes": [1]}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/keys", {}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/keys", {"userId": 999}, 404, "USER_NOT_FOUND"),
    ("POST", "/_sandbox/keys", {"userId": True}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/keys/revoke", {"key": 7}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/rate-limit", {"perSecond": 0}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/rate-limit", {"perSecond": "fast"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/rate-limit", {}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/sessions", {"userId": 1}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/settings", {"sessionTtlSeconds": -5}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/clock", {}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/clock", {"advanceSeconds": "1h"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/faults", {"errorRate": 2}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/faults", {"path": "v1/bots"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/faults", {"latencyMs": -1}, 400, "INVALID_REQUEST"),
    ("DELETE", "/_sandbox/faults/abc", None, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/act/open", {"userId": "{user}"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/act/open", {"userId": "{user}", "botId": 999}, 404, "BOT_NOT_FOUND"),
    ("POST", "/_sandbox/act/messages", {"userId": "{user}", "text": "x"}, 400, "INVALID_REQUEST"),
    (
        "POST",
        "/_sandbox/act/messages",
        {"userId": "{user}", "botId": "{bot}", "text": "   "},
        400,
        "EMPTY_MESSAGE",
    ),
    (
        "POST",
        "/_sandbox/act/messages",
        {"userId": "{user}", "botId": "{bot}", "text": ["x"]},
        400,
        "INVALID_REQUEST",
    ),
    (
        "POST",
        "/_sandbox/act/messages",
        {"userId": "{user}", "chatId": 999, "text": "x"},
        404,
        "CHAT_NOT_FOUND",
    ),
    (
        "POST",
        "/_sandbox/act/messages",
        {"userId": "{user}", "botId": "{bot}", "text": "x", "via": "api"},
        400,
        "INVALID_REQUEST",
    ),
    ("POST", "/_sandbox/act/messages/abc/edit", {"userId": "{user}", "text": "x"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/act/messages/999/delete", {"userId": "{user}"}, 404, "MESSAGE_NOT_FOUND"),
    (
        "POST",
        "/_sandbox/act/buttons",
        {"userId": "{user}", "messageId": 999, "index": 0},
        404,
        "MESSAGE_NOT_FOUND",
    ),
    ("POST", "/_sandbox/act/buttons", {"userId": "{user}", "messageId": 1}, 400, "INVALID_REQUEST"),
    (
        "POST",
        "/_sandbox/act/reactions",
        {"userId": "{user}", "messageId": 999, "reaction": "like"},
        404,
        "MESSAGE_NOT_FOUND",
    ),
    ("POST", "/_sandbox/act/chats", {"userId": "{user}"}, 400, "INVALID_REQUEST"),
    (
        "POST",
        "/_sandbox/act/chats",
        {"userId": "{user}", "title": "T", "memberIds": "1,2"},
        400,
        "INVALID_REQUEST",
    ),
    (
        "POST",
        "/_sandbox/act/chats",
        {"userId": "{user}", "title": "T", "memberIds": [999]},
        404,
        "USER_NOT_FOUND",
    ),
    ("POST", "/_sandbox/act/chats/999/bots", {"userId": "{user}", "botId": "{bot}"}, 404, "CHAT_NOT_FOUND"),
    ("POST", "/_sandbox/act/context", {"userId": "{user}", "botId": "{bot}"}, 400, "INVALID_REQUEST"),
    ("POST", "/_sandbox/act/bots/999/delete", {"userId": "{user}"}, 404, "BOT_NOT_FOUND"),
    ("GET", "/_sandbox/bots?portalId=nope", None, 404, "PORTAL_NOT_FOUND"),
    ("GET", "/_sandbox/bots/999/messages", None, 404, "BOT_NOT_FOUND"),
    ("GET", "/_sandbox/bots/999/events", None, 404, "BOT_NOT_FOUND"),
    ("GET", "/_sandbox/bots/x/events", None, 400, "INVALID_REQUEST"),
    ("GET", "/_sandbox/chats/999", None, 404, "CHAT_NOT_FOUND"),
    ("GET", "/_sandbox/chats/abc/messages", None, 400, "INVALID_REQUEST"),
    ("GET", "/_sandbox/calls?since=-1", None, 400, "INVALID_REQUEST"),
    ("GET", "/_sandbox/calls?botId=abc", None, 400, "INVALID_REQUEST"),
    ("GET", "/_sandbox/users/999/dialogs", None, 404, "USER_NOT_FOUND"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), BAD_INPUT, ids=lambda v: str(v)[:40])
def test_bad_input_answers_a_clear_4xx(ctl, portal, admin, bot_id, method, path, body, status, code):
    values = {"{portal}": portal["id"], "{user}": str(admin["id"]), "{bot}": str(bot_id)}
    for placeholder, value in values.items():
        path = path.replace(placeholder, value)
    if body is not None:
        body = {k: (values.get(v, v) if isinstance(v, str) else v) for k, v in body.items()}
    response = ctl.request(method, path, json=body)
    if code is None:
        ok(response)
    else:
        refused(response, status, code)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400(ctl, raw):
    response = ctl.post("/_sandbox/portals", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] in (
        "INVALID_JSON",
        "INVALID_REQUEST",
    )


def test_an_unknown_control_path_is_a_json_404(ctl):
    response = ctl.get("/_sandbox/nothing-here")
    assert response.status_code == 404 and response.json()["success"] is False
