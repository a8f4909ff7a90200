"""Keyboard, Attach and BB-code builders: the wire shapes of CONTRACT part B §7.3, and escaping."""

from __future__ import annotations

import re

import pytest

from botcore.vibe import bbcode as bb
from botcore.vibe.attach import MAX_ATTACH_CHARS, Attach, AttachError, GridItem
from botcore.vibe.endpoints.base import message_fields
from botcore.vibe.keyboards import Keyboard, KeyboardError, to_wire

# --- keyboards ---------------------------------------------------------------------------------------


def test_keyboard_builds_the_reference_echo_bot_buttons():
    keyboard = (
        Keyboard()
        .button("Repeat", send="ping", color="primary", block=True)
        .button("Help", send="/help", color="secondary", display="LINE")
    )
    assert keyboard.to_wire() == [
        {
            "TEXT": "Repeat",
            "BG_COLOR_TOKEN": "primary",
            "ACTION": "SEND",
            "ACTION_VALUE": "ping",
            "BLOCK": "Y",
        },
        {
            "TEXT": "Help",
            "BG_COLOR_TOKEN": "secondary",
            "ACTION": "SEND",
            "ACTION_VALUE": "/help",
            "DISPLAY": "LINE",
        },
    ]


def test_keyboard_rows_are_separated_by_newline_items_and_a_trailing_one_is_dropped():
    keyboard = Keyboard().button("A", put="a").newline().button("B", copy="b").newline()
    assert [item.get("TYPE", item.get("TEXT")) for item in keyboard.to_wire()] == ["A", "NEWLINE", "B"]
    assert len(keyboard) == 2


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"send": "hi"}, {"ACTION": "SEND", "ACTION_VALUE": "hi"}),
        ({"put": "/cmd "}, {"ACTION": "PUT", "ACTION_VALUE": "/cmd "}),
        ({"copy": "code-42"}, {"ACTION": "COPY", "ACTION_VALUE": "code-42"}),
        ({"call": "+15551234567"}, {"ACTION": "CALL", "ACTION_VALUE": "+15551234567"}),
        ({"dialog": "chat12"}, {"ACTION": "DIALOG", "ACTION_VALUE": "chat12"}),
        ({"dialog": 7}, {"ACTION": "DIALOG", "ACTION_VALUE": "7"}),
        ({"link": "https://example.com/a?b=1"}, {"LINK": "https://example.com/a?b=1"}),
        ({"link": "/crm/deal/1/"}, {"LINK": "/crm/deal/1/"}),
        ({"command": "/help", "command_params": "billing"}, {"COMMAND": "help", "COMMAND_PARAMS": "billing"}),
    ],
)
def test_each_button_action_has_its_wire_form(kwargs, expected):
    assert Keyboard().button("Go", **kwargs).to_wire() == [{"TEXT": "Go", **expected}]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"send": "a", "link": "https://x.test"}, {"put": "a", "command": "help"}],
    ids=["no-action", "send-and-link", "put-and-command"],
)
def test_a_button_needs_exactly_one_action(kwargs):
    with pytest.raises(KeyboardError, match="exactly one action"):
        Keyboard().button("Go", **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"link": "javascript:alert(1)"},
        {"send": "a", "color": "red"},
        {"send": "a", "command_params": "x"},
    ],
    ids=["bad-link", "bad-color", "params-without-command"],
)
def test_buttons_the_platform_would_refuse_are_refused_here(kwargs):
    with pytest.raises(KeyboardError):
        Keyboard().button("Go", **kwargs)


def test_button_options_map_to_their_upper_case_keys():
    wire = (
        Keyboard()
        .button(
            "Go",
            send="x",
            disabled=True,
            context="MOBILE",
            width=120,
            bg_color="#ff0000",
            text_color="#ffffff",
        )
        .to_wire()
    )
    assert wire == [
        {
            "TEXT": "Go", "ACTION": "SEND", "ACTION_VALUE": "x", "DISABLED": "Y", "CONTEXT": "MOBILE",
            "WIDTH": 120, "BG_COLOR": "#ff0000", "TEXT_COLOR": "#ffffff",
        }
    ]  # fmt: skip


def test_to_wire_returns_copies_the_caller_cannot_use_to_change_the_keyboard():
    keyboard = Keyboard().button("A", send="a")
    keyboard.to_wire()[0]["TEXT"] = "changed"
    assert keyboard.to_wire()[0]["TEXT"] == "A"


def test_one_reading_of_a_keyboard_serves_the_client_and_the_skills_checks():
    """keyboards.to_wire: what the client sends (endpoints.base.message_fields) and what
    botcore.skills.values.check_keyboard reads are one function's answer."""
    keyboard = Keyboard().button("A", send="a")
    assert to_wire(keyboard) == keyboard.to_wire()
    bare = [{"TEXT": "B", "COMMAND": "b"}]
    assert to_wire(bare) == bare and to_wire(bare)[0] is not bare[0]  # copies
    assert to_wire(tuple(bare)) == bare
    assert to_wire(None) == to_wire(False) == to_wire(True) == []  # no buttons: left out, or removed
    assert message_fields(text="x", keyboard=bare)["keyboard"] == bare
    assert message_fields(text="x", keyboard=False)["keyboard"] == "N"
    others = [
        {"TYPE": "NEWLINE"},
        {"TEXT": "C", "ACTION": "SEND", "ACTION_VALUE": "/c", "BG_COLOR_TOKEN": "secondary"},
        {"TEXT": "D", "APP_ID": "5", "APP_PARAMS": "x"},
    ]
    assert to_wire(others) == others  # the reference's other shapes are taken as they are


@pytest.mark.parametrize(
    "keyboard, said",
    [
        ([{"TEXT": "A", "COMMAND": "a"}, "B"], "button 1 of the keyboard is a str"),
        ({"TEXT": "A", "COMMAND": "a"}, "not a dict"),  # one button where the list belongs
        ("A", "not a str"),
        # From a skill author's trial: these passed the kit, and the platform refused the post (the
        # sandbox: 400 KEYBOARD_ERROR), so the person got no answer at all.
        (
            [{"text": "Vote", "command": "vote"}],
            r"button 0 of the keyboard: its keys are UPPER-CASE: COMMAND, TEXT",
        ),
        (
            [{"TEXT": "Vote", "command": "vote"}],
            r"button 0 of the keyboard: its keys are UPPER-CASE: COMMAND",
        ),
        ([{"COMMAND": "vote"}], "button 0 of the keyboard has no TEXT"),
        ([{"TEXT": "Vote"}], r"button 'Vote' needs exactly one action .*got none"),
        ([{"TEXT": "Vote", "COMMAND": "vote", "LINK": "https://x.example"}], "got LINK, COMMAND"),
    ],
)
def test_a_keyboard_the_platform_cannot_read_is_refused_with_the_reason(keyboard, said):
    # Before: the client failed with dict()'s own words ("dictionary update sequence element #0 ..."), and
    # the skills' check passed it (it skipped what was no button object).
    with pytest.raises(KeyboardError, match=said):
        to_wire(keyboard)
    with pytest.raises(KeyboardError, match=said):
        message_fields(text="x", keyboard=keyboard)


# --- attach ------------------------------------------------------------------------------------------


def test_attach_builds_every_block_kind_in_order():
    attach = (
        Attach(color_token="primary", id=5)
        .user("John Smith", avatar="https://example.com/a.png", link="/company/personal/user/1/")
        .message("[b]Report[/b]")
        .delimiter()
        .grid(GridItem("Done", "12"), GridItem("Left", "3", display="BLOCK", width=100))
        .link(
            "https://example.com/r", name="Details", desc="Full report", preview="https://example.com/p.png"
        )
        .image("https://example.com/chart.png", name="Chart")
        .file("https://example.com/r.pdf", name="r.pdf", size=2048)
    )
    assert attach.to_wire() == {
        "ID": 5,
        "COLOR_TOKEN": "primary",
        "BLOCKS": [
            {
                "USER": {
                    "NAME": "John Smith",
                    "AVATAR": "https://example.com/a.png",
                    "LINK": "/company/personal/user/1/",
                }
            },
            {"MESSAGE": "[b]Report[/b]"},
            {"DELIMITER": {"SIZE": 200, "COLOR": "#c6c6c6"}},
            {
                "GRID": [
                    {"NAME": "Done", "VALUE": "12", "DISPLAY": "LINE"},
                    {"NAME": "Left", "VALUE": "3", "DISPLAY": "BLOCK", "WIDTH": 100},
                ]
            },
            {
                "LINK": {
                    "LINK": "https://example.com/r",
                    "NAME": "Details",
                    "DESC": "Full report",
                    "PREVIEW": "https://example.com/p.png",
                }
            },
            {"IMAGE": [{"LINK": "https://example.com/chart.png", "NAME": "Chart"}]},
            {"FILE": [{"LINK": "https://example.com/r.pdf", "NAME": "r.pdf", "SIZE": 2048}]},
        ],
    }


def test_attach_refuses_a_url_that_is_neither_http_nor_portal_relative():
    with pytest.raises(AttachError):
        Attach().link("ftp://example.com/x")
    with pytest.raises(AttachError):
        Attach().image("data:image/png;base64,AAAA")


def test_an_empty_attach_is_refused():
    with pytest.raises(AttachError):
        Attach().to_wire()


def test_an_attach_over_the_platform_limit_is_refused_before_sending():
    attach = Attach().message("x" * MAX_ATTACH_CHARS)
    with pytest.raises(AttachError, match="60000"):
        attach.to_wire()


# --- BB codes ----------------------------------------------------------------------------------------

TAG = re.compile(r"\[/?(b|i|u|s|url|user|chat|send|put|call|code|img|size|color|context|br)\b", re.IGNORECASE)


@pytest.mark.parametrize(
    "typed",
    [
        "[b]bold[/b]",
        "[B]BOLD[/B]",
        "[user=all]everyone[/user]",
        "[url=https://evil.test]click[/url]",
        "[send=/delete_everything]free money[/send]",
        "[img size=large]https://x.test/a.png [/img]",
        "a [br] break",
        "[[b]]nested[[/b]]",
    ],
)
def test_escape_leaves_no_tag_a_parser_could_match(typed):
    escaped = bb.escape(typed)
    assert TAG.search(escaped) is None
    assert escaped.replace(bb.ZWSP, "") == typed  # what the reader sees is exactly what was typed


def test_escape_neutralises_line_level_markup_too():
    typed = (
        ">>quoted\n------\nfull quote\n------\nline#BR#break\n\n\n  >>after blank lines, indented\r\n\t------"
    )
    escaped = bb.escape(typed)
    assert not any(line.strip().startswith((">>", "------")) for line in escaped.split("\n"))
    assert "#BR#" not in escaped.upper()
    assert bb.unescape(escaped) == typed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[USER=6]Vibe Bot[/USER] hello", "hello"),
        ("[user=6]Vibe Bot[/user]: hello [USER=7]Anna[/USER], hi", "hello Anna, hi"),
        ("ask [USER=all]everyone[/USER]", "ask everyone"),
        ("[USER=6]Vibe Bot[/USER]", "Vibe Bot"),  # nothing but the mention: it stays, as a name
        ("no mentions [b]here[/b]", "no mentions [b]here[/b]"),
        (
            "[USER=7]Anna [b]B[/b][/USER] and [USER=7 unclosed",
            "[USER=7]Anna [b]B[/b][/USER] and [USER=7 unclosed",
        ),
    ],
)
def test_unmention_shows_mentions_as_names_and_leaves_the_addressees_out(text, expected):
    assert bb.unmention(text, addressee=6) == expected


def test_pack_puts_whole_lines_in_as_few_messages_as_hold_them():
    lines = [bb.bold("Title"), "a" * 6, "[b]typed[/b]", "c" * 30]
    parts = bb.pack(lines, "\n", limit=24)
    assert parts == ["[b]Title[/b]\naaaaaa", "[\u200bb]typed[\u200b/b]", "c" * 30]  # user text escaped once
    assert all(isinstance(part, bb.BB) for part in parts) and bb.pack([]) == []


def test_escape_is_idempotent_and_unescape_reverses_it():
    typed = "[b]x[/b] >>not a quote at line start\n>>a quote"
    once = bb.escape(typed)
    assert bb.escape(once) == once
    assert bb.unescape(once) == typed


def test_plain_text_without_markup_is_unchanged():
    assert bb.escape("Привет, мир! 👋 2 > 1 - ok #tag") == "Привет, мир! 👋 2 > 1 - ok #tag"


def test_builders_escape_plain_strings_but_nest_markup():
    assert bb.bold("[i]x[/i]") == f"[b][{bb.ZWSP}i]x[{bb.ZWSP}/i][/b]"
    assert bb.bold(bb.italic("x")) == "[b][i]x[/i][/b]"


def test_adding_plain_text_to_markup_escapes_the_plain_part():
    name = "[user=all]"
    text = bb.bold("Hi ") + name + " " + bb.send_link("/help", "Help")
    assert isinstance(text, bb.BB)
    assert text == f"[b]Hi [/b][{bb.ZWSP}user=all] [send=/help]Help[/send]"
    assert ("> " + bb.bold("x")) == "> [b]x[/b]"


def test_join_and_raw():
    assert bb.join([bb.bold("a"), "[b]"], ", ") == f"[b]a[/b], [{bb.ZWSP}b]"
    assert bb.raw("[b]trusted[/b]") == "[b]trusted[/b]"


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (bb.italic("i"), "[i]i[/i]"),
        (bb.underline("u"), "[u]u[/u]"),
        (bb.strike("s"), "[s]s[/s]"),
        (bb.size("big", 20), "[size=20]big[/size]"),
        (bb.color("red", "#ff0000"), "[color=#ff0000]red[/color]"),
        (bb.url("https://example.com"), "[url]https://example.com[/url]"),
        (bb.url("https://example.com", "site"), "[url=https://example.com]site[/url]"),
        (bb.mention(12, "John"), "[user=12]John[/user]"),
        (bb.mention_all(), "[user=all]all[/user]"),
        (bb.chat_link(5, "Team"), "[chat=5]Team[/chat]"),
        (bb.context_link("chat5", 77, "there"), "[context=chat5/77]there[/context]"),
        (bb.send_link("/ping", "Ping"), "[send=/ping]Ping[/send]"),
        (bb.put_link("/standup ", "Answer"), "[put=/standup ]Answer[/put]"),
        (bb.call_link("+15551234567"), "[call]+15551234567[/call]"),
        (bb.call_link("+15551234567", "Call us"), "[call=+15551234567]Call us[/call]"),
        (bb.code("x = [1]"), f"[code]x = [{bb.ZWSP}1][/code]"),
        (bb.image("https://example.com/a.png", "small"), "[img size=small]https://example.com/a.png [/img]"),
        (bb.quote("one\ntwo"), ">>one\n>>two"),
        (bb.line_break(), "[br]"),
    ],
)
def test_each_builder_writes_its_documented_tag(built, expected):
    assert built == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda: bb.size("x", 31),
        lambda: bb.color("x", "red"),
        lambda: bb.url("https://x.test/]evil[b]", "t"),
        lambda: bb.send_link("/a]b", "x"),
    ],
    ids=["size", "color", "url-bracket", "send-bracket"],
)
def test_bad_builder_arguments_are_refused(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("value", ["77]x", "77[b", "7\n7", "a]b"])
def test_fits_attribute_says_which_values_a_builder_would_refuse(value):
    """A caller holding a value someone else gave asks first, and the builder agrees with the answer."""
    assert not bb.fits_attribute(value)
    with pytest.raises(ValueError):
        bb.chat_link(value, "x")
    assert bb.fits_attribute("77") and bb.chat_link("77", "x") == "[chat=77]x[/chat]"


@pytest.mark.parametrize(
    "text",
    ["x" * 25_000, "[b]" * 9_000, "a[" * 7_000, ">>quoted\n" * 3_000, "ü" * 30_000],
    ids=["plain", "tags", "brackets", "quotes", "unicode"],
)
def test_shorten_cuts_a_users_text_to_fit_once_escaped_and_says_it_was_cut(text):
    room = 1_000

    shortened = bb.shorten(text, room)

    assert len(bb.escape(shortened)) <= room
    assert len(bb.escape(shortened)) >= room - 2  # no more cut than the escaping of one character needs
    assert shortened.endswith("…") and text.startswith(shortened[:-1])


def test_shorten_leaves_text_that_fits_as_it_is():
    assert bb.shorten("[b]hi[/b]", 12) == "[b]hi[/b]"  # 11 characters once escaped
    assert bb.shorten("[b]hi[/b]", 10) == "[b]hi[/…"  # "[b]hi[/" is 9 once escaped, with room for the "…"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Sales\n\nThe app's key expired\r\n>>x", "Sales The app's key expired >>x"),
        ("a\u2028b\u2029c\x0bd\x85e\tf", "a b c d e f"),
        ("Team\u202e\u2066 evil\u2069\u202c", "Team evil"),
        ("\u05e9\u05dc\u05d5\u05dd\u200f (HQ)", "\u05e9\u05dc\u05d5\u05dd\u200f (HQ)"),  # a mark stays
        ("  Anna  ", "Anna"),
    ],
)
def test_one_line_makes_a_name_one_line_that_turns_nothing_after_it_around(name, expected):
    assert bb.one_line(name) == expected
