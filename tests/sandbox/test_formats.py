"""Message fields as the sandbox validates them: keyboards, attaches, the 20 000-character cut, flags, UTF-8.

Validation tables go through POST /v1/bots/{id}/messages over real HTTP; a few tests call
clean_message_fields directly because other endpoints (command answers) rely on its return shape.
"""

from __future__ import annotations

import json

import pytest

from sandbox.api.formats import clean_message_fields
from sandbox.http import ApiError
from tests.sandbox.helpers import error_of, register_bot, user_writes


@pytest.fixture
def bot_id(sandbox, client, tenant):
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hello")
    return bot_id


@pytest.fixture
def send(sandbox, client, tenant, bot_id):
    """POST a message with these fields to the user's dialog; the response."""

    def send(**fields):
        return client.post(
            f"/bots/{bot_id}/messages", json={"dialogId": str(tenant.user_id), "fields": fields}
        )

    return send


def stored(sandbox, response):
    assert response.status_code == 200, response.text
    message_id = response.json()["data"]["id"]
    return sandbox.run_in_loop(lambda s: s.platform.messages[message_id])


# --- the function's contract -------------------------------------------------------------------------


def test_clean_message_fields_returns_every_key_with_defaults():
    assert clean_message_fields({}) == {
        "text": "", "keyboard": None, "attach": None, "is_system": False, "url_preview": True,
        "reply_id": None, "template_id": None,
    }  # fmt: skip


def test_clean_message_fields_refuses_a_non_object():
    with pytest.raises(ApiError) as raised:
        clean_message_fields(["message"])
    assert raised.value.code == "INVALID_REQUEST"


def test_clean_message_fields_treats_n_and_empty_as_no_keyboard_or_attach():
    for cleared in ("N", "", [], None, "n"):
        cleaned = clean_message_fields({"message": "x", "keyboard": cleared, "attach": cleared})
        assert cleaned["keyboard"] is None and cleaned["attach"] is None


# --- keyboards ----------------------------------------------------------------------------------------

SEND = {"TEXT": "Repeat", "ACTION": "SEND", "ACTION_VALUE": "ping"}
VALID_KEYBOARDS = [
    ("bare array", [SEND], [SEND]),
    ("object with BUTTONS", {"BUTTONS": [SEND]}, [SEND]),
    ("object with BOT_ID", {"BOT_ID": 5, "BUTTONS": [SEND]}, [SEND]),
    ("JSON string of an array", json.dumps([SEND]), [SEND]),
    ("JSON string of an object", json.dumps({"BUTTONS": [SEND]}), [SEND]),
    ("newline between rows", [SEND, {"TYPE": "NEWLINE"}, SEND], [SEND, {"TYPE": "NEWLINE"}, SEND]),
    ("absolute link", [{"TEXT": "Docs", "LINK": "https://example.com/docs?a=1"}], None),
    ("portal-relative link", [{"TEXT": "Tasks", "LINK": "/company/personal/"}], None),
    ("command with params", [{"TEXT": "Help", "COMMAND": "help", "COMMAND_PARAMS": "all"}], None),
    ("put", [{"TEXT": "Put", "ACTION": "PUT", "ACTION_VALUE": "/ask "}], None),
    ("copy", [{"TEXT": "Copy", "ACTION": "COPY", "ACTION_VALUE": "ABC-123"}], None),
    ("call", [{"TEXT": "Call", "ACTION": "CALL", "ACTION_VALUE": "+7 (495) 123-45-67"}], None),
    ("dialog with a user", [{"TEXT": "Chat", "ACTION": "DIALOG", "ACTION_VALUE": "12"}], None),
    ("dialog with a group", [{"TEXT": "Chat", "ACTION": "DIALOG", "ACTION_VALUE": "chat7"}], None),
    ("legacy app", [{"TEXT": "App", "APP_ID": 3, "APP_PARAMS": "x"}], None),
    ("every style field", [{**SEND, "BLOCK": "Y", "DISABLED": "N", "CONTEXT": "MOBILE", "DISPLAY": "LINE",
                            "BG_COLOR_TOKEN": "alert", "BG_COLOR": "#29619b", "TEXT_COLOR": "#fff",
                            "OFF_BG_COLOR": "#000000", "OFF_TEXT_COLOR": "#AAA", "WIDTH": 120}], None),
    ("booleans for BLOCK/DISABLED become Y/N", [{**SEND, "BLOCK": True, "DISABLED": False}],
     [{**SEND, "BLOCK": "Y", "DISABLED": "N"}]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("keyboard", "expected"), [c[1:] for c in VALID_KEYBOARDS], ids=[c[0] for c in VALID_KEYBOARDS]
)
def test_a_valid_keyboard_is_stored_as_a_list_of_buttons(sandbox, send, keyboard, expected):
    message = stored(sandbox, send(message="Choose", keyboard=keyboard))
    assert message.keyboard == (expected if expected is not None else keyboard)


INVALID_KEYBOARDS = [
    ("not JSON", "[{TEXT", "not valid JSON"),
    ("a number", 5, "keyboard"),
    ("object without BUTTONS", {"BOT_ID": 1}, "BUTTONS"),
    ("object with an unknown key", {"BUTTONS": [SEND], "ROWS": 1}, "ROWS"),
    ("button not an object", ["Repeat"], "keyboard[0]"),
    ("lower-case keys", [{"text": "Repeat", "action": "SEND", "action_value": "x"}], "UPPER-CASE"),
    ("unknown key", [{**SEND, "COLOUR": "red"}], "COLOUR"),
    ("missing TEXT", [{"ACTION": "SEND", "ACTION_VALUE": "x"}], "TEXT"),
    ("blank TEXT", [{**SEND, "TEXT": "  "}], "TEXT"),
    ("no action", [{"TEXT": "Nothing"}], "exactly one action"),
    ("two actions", [{**SEND, "LINK": "https://example.com"}], "exactly one action"),
    ("bad TYPE", [{"TYPE": "BUTTON", **SEND}], "NEWLINE"),
    ("unknown ACTION", [{**SEND, "ACTION": "OPEN"}], "ACTION must be one of"),
    ("ACTION without value", [{"TEXT": "Send", "ACTION": "SEND"}], "ACTION_VALUE"),
    ("ACTION_VALUE without ACTION", [{"TEXT": "X", "COMMAND": "help", "ACTION_VALUE": "x"}], "ACTION_VALUE"),
    ("CALL without a phone", [{"TEXT": "Call", "ACTION": "CALL", "ACTION_VALUE": "call me"}], "phone"),
    ("DIALOG with a name", [{"TEXT": "Chat", "ACTION": "DIALOG", "ACTION_VALUE": "general"}], "chatN"),
    ("javascript link", [{"TEXT": "X", "LINK": "javascript:alert(1)"}], "LINK"),
    ("protocol-relative link", [{"TEXT": "X", "LINK": "//evil.example"}], "LINK"),
    ("empty COMMAND", [{"TEXT": "X", "COMMAND": "/"}], "COMMAND"),
    ("COMMAND_PARAMS without COMMAND", [{**SEND, "COMMAND_PARAMS": "x"}], "COMMAND_PARAMS"),
    ("BLOCK not Y/N", [{**SEND, "BLOCK": "yes"}], "BLOCK"),
    ("DISABLED not Y/N", [{**SEND, "DISABLED": 1}], "DISABLED"),
    ("bad CONTEXT", [{**SEND, "CONTEXT": "TABLET"}], "CONTEXT"),
    ("bad DISPLAY", [{**SEND, "DISPLAY": "ROW"}], "DISPLAY"),
    ("bad BG_COLOR_TOKEN", [{**SEND, "BG_COLOR_TOKEN": "danger"}], "BG_COLOR_TOKEN"),
    ("bad BG_COLOR", [{**SEND, "BG_COLOR": "red"}], "BG_COLOR"),
    ("negative WIDTH", [{**SEND, "WIDTH": -5}], "WIDTH"),
    ("second button bad", [SEND, {"TEXT": "Bad"}], "keyboard[1]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("keyboard", "mentions"), [c[1:] for c in INVALID_KEYBOARDS], ids=[c[0] for c in INVALID_KEYBOARDS]
)
def test_a_bad_keyboard_is_400_keyboard_error_naming_the_problem(sandbox, send, keyboard, mentions):
    response = send(message="Choose", keyboard=keyboard)
    assert response.status_code == 400
    assert error_of(response) == "KEYBOARD_ERROR"
    assert mentions in response.json()["error"]["message"]
    assert sandbox.run_in_loop(lambda s: [m for m in s.platform.messages.values() if m.keyboard]) == []


# --- attaches -----------------------------------------------------------------------------------------

MESSAGE_BLOCK = {"MESSAGE": "[b]Report[/b] for May"}
VALID_ATTACHES = [
    ("full form", {"ID": 1, "COLOR_TOKEN": "primary", "COLOR": "#29619b", "BLOCKS": [MESSAGE_BLOCK]}),
    ("bare array of blocks", [MESSAGE_BLOCK, {"DELIMITER": {}}]),
    ("JSON string", json.dumps({"BLOCKS": [MESSAGE_BLOCK]})),
    ("several full attaches", [{"BLOCKS": [MESSAGE_BLOCK]},
                               {"COLOR_TOKEN": "alert", "BLOCKS": [MESSAGE_BLOCK]}]),
    ("user block", [{"USER": {"NAME": "Anna", "AVATAR": "https://example.com/a.png",
                              "LINK": "/company/personal/user/1/"}}]),
    ("link block", [{"LINK": {"NAME": "Docs", "DESC": "Read [i]this[/i]", "LINK": "https://example.com",
                              "PREVIEW": "https://example.com/p.png", "WIDTH": 100, "HEIGHT": 50}}]),
    ("delimiter block", [{"DELIMITER": {"SIZE": 200, "COLOR": "#c2c2c2"}}]),
    ("grid block", [{"GRID": [{"NAME": "Done", "VALUE": "12", "DISPLAY": "LINE", "WIDTH": 100},
                              {"NAME": "Left", "VALUE": 3, "DISPLAY": "ROW", "COLOR_TOKEN": "secondary"},
                              {"VALUE": "only value", "DISPLAY": "BLOCK"}]}]),
    ("image list", [{"IMAGE": [{"LINK": "https://example.com/i.png", "NAME": "Chart",
                                "PREVIEW": "/p.png"}]}]),
    ("single image object", [{"IMAGE": {"LINK": "https://example.com/i.png"}}]),
    ("file block", [{"FILE": [{"LINK": "https://example.com/r.pdf", "NAME": "r.pdf", "SIZE": 1024}]}]),
]  # fmt: skip


@pytest.mark.parametrize("attach", [c[1] for c in VALID_ATTACHES], ids=[c[0] for c in VALID_ATTACHES])
def test_a_valid_attach_is_stored_as_sent(sandbox, send, attach):
    message = stored(sandbox, send(message="See below", attach=attach))
    assert message.attach == (json.loads(attach) if isinstance(attach, str) else attach)


INVALID_ATTACHES = [
    ("not JSON", "{BLOCKS", "not valid JSON"),
    ("a number", 7, "attach"),
    ("full form without BLOCKS", {"COLOR_TOKEN": "primary"}, "BLOCKS"),
    ("empty BLOCKS", {"BLOCKS": []}, "BLOCKS"),
    ("unknown header key", {"BLOCKS": [MESSAGE_BLOCK], "TITLE": "x"}, "TITLE"),
    ("bad COLOR_TOKEN", {"COLOR_TOKEN": "red", "BLOCKS": [MESSAGE_BLOCK]}, "COLOR_TOKEN"),
    ("bad COLOR", {"COLOR": "blue", "BLOCKS": [MESSAGE_BLOCK]}, "COLOR"),
    ("unknown block kind", [{"TABLE": []}], "TABLE"),
    ("two kinds in one block", [{"MESSAGE": "a", "DELIMITER": {}}], "exactly one kind"),
    ("block not an object", ["text"], "attach[0]"),
    ("empty MESSAGE", [{"MESSAGE": ""}], "MESSAGE"),
    ("USER without NAME", [{"USER": {"LINK": "/u/1/"}}], "NAME"),
    ("LINK without LINK", [{"LINK": {"NAME": "Docs"}}], "LINK is required"),
    ("LINK to ftp", [{"LINK": {"LINK": "ftp://example.com"}}], "http(s)"),
    ("relative image without slash", [{"IMAGE": [{"LINK": "img.png"}]}], "IMAGE"),
    ("empty GRID", [{"GRID": []}], "GRID"),
    ("GRID item without NAME or VALUE", [{"GRID": [{"DISPLAY": "LINE"}]}], "NAME or VALUE"),
    ("bad GRID DISPLAY", [{"GRID": [{"NAME": "a", "VALUE": "b", "DISPLAY": "TABLE"}]}], "DISPLAY"),
    ("FILE without LINK", [{"FILE": [{"NAME": "r.pdf"}]}], "LINK"),
    ("SIZE not a number", [{"FILE": [{"LINK": "/r.pdf", "SIZE": "big"}]}], "SIZE"),
    ("unknown item key", [{"USER": {"NAME": "Anna", "EMAIL": "a@b"}}], "EMAIL"),
    ("second block bad", [MESSAGE_BLOCK, {"DELIMITER": "line"}], "attach[1]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("attach", "mentions"), [c[1:] for c in INVALID_ATTACHES], ids=[c[0] for c in INVALID_ATTACHES]
)
def test_a_bad_attach_is_400_attach_error_naming_the_problem(send, attach, mentions):
    response = send(message="See below", attach=attach)
    assert response.status_code == 400
    assert error_of(response) == "ATTACH_ERROR"
    assert mentions in response.json()["error"]["message"]


def _attach_of_size(size: int) -> list:
    """An attach whose json.dumps(ensure_ascii=False) is exactly `size` characters (a Cyrillic letter
    counts as one)."""
    overhead = len(json.dumps([{"MESSAGE": ""}], ensure_ascii=False))
    return [{"MESSAGE": "ж" * (size - overhead)}]


def test_an_attach_of_exactly_60000_characters_is_accepted(sandbox, send):
    message = stored(sandbox, send(attach=_attach_of_size(60_000)))
    assert len(json.dumps(message.attach, ensure_ascii=False)) == 60_000


def test_an_attach_over_60000_characters_is_400_attach_oversize(send):
    response = send(attach=_attach_of_size(60_001))
    assert response.status_code == 400 and error_of(response) == "ATTACH_OVERSIZE"
    assert "60001" in response.json()["error"]["message"]


# --- text -----------------------------------------------------------------------------------------------


def test_text_of_20000_characters_is_kept_whole(sandbox, send):
    text = "a" * 20_000
    assert stored(sandbox, send(message=text)).text == text


def test_text_over_20000_characters_is_cut_with_an_ellipsis_mark(sandbox, send):
    message = stored(sandbox, send(message="b" * 19_999 + "cd" + "e" * 500))
    assert message.text == "b" * 19_999 + "c" + " (...)"


def test_the_cut_counts_characters_not_bytes(sandbox, send):
    message = stored(sandbox, send(message="я" * 20_000 + "🙂"))
    assert message.text == "я" * 20_000 + " (...)"


def test_bb_codes_pass_through_untouched(sandbox, send):
    text = (
        "[B]Bold[/B] [url=https://example.com]link[/url] [user=1]Anna[/user]\n>>quote [send=/ping]Ping[/send]"
    )
    assert stored(sandbox, send(message=text)).text == text


def test_cyrillic_and_emoji_round_trip_byte_for_byte(sandbox, client, tenant, bot_id):
    text = "Привет, мир! Ёжик 🦔 👩‍💻 🇷🇺 — «кавычки» and 日本語"
    raw = json.dumps(
        {"dialogId": str(tenant.user_id), "fields": {"message": text}}, ensure_ascii=False
    ).encode()
    response = client.post(
        f"/bots/{bot_id}/messages", content=raw, headers={"Content-Type": "application/json"}
    )
    message = stored(sandbox, response)
    assert message.text.encode("utf-8") == text.encode("utf-8")
    readback = client.get(f"{sandbox.root_url}/_sandbox/bots/{bot_id}/messages")
    assert text.encode("utf-8") in readback.content


# --- flags and ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("Y", True), ("N", False), ("y", True)]
)
def test_system_takes_booleans_and_y_n(sandbox, send, value, expected):
    assert stored(sandbox, send(message="note", system=value)).is_system is expected


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("Y", True), ("N", False)])
def test_url_preview_takes_booleans_and_y_n(sandbox, send, value, expected):
    assert stored(sandbox, send(message="https://example.com", urlPreview=value)).url_preview is expected


@pytest.mark.parametrize(
    ("field", "value"),
    [("system", 1), ("system", "yes"), ("urlPreview", []), ("urlPreview", "true"), ("replyId", "abc"),
     ("replyId", -3), ("replyId", True), ("message", 42), ("message", ["a"]), ("templateId", "not-a-uuid"),
     ("templateId", {"id": 1})],
)  # fmt: skip
def test_a_wrong_type_is_400_naming_the_field(send, field, value):
    response = send(**{"message": "x", field: value})
    assert response.status_code == 400 and error_of(response) == "INVALID_REQUEST"
    assert field in response.json()["error"]["message"]
