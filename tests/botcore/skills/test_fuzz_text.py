"""Property-based fuzzing of what a person's text goes through: the BB-code helpers (escape, unmention,
shorten, pack, the builders) and routing an event, typed command included, to a skill and its handling.
Seeded (derandomize) so CI sees the same cases; FUZZ_EXAMPLES=20000 runs a longer hunt."""

from __future__ import annotations

import re
import warnings

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.builtin.help import HelpSkill
from botcore.skills.routing import select_skill
from botcore.skills.testing import RecordingContext
from botcore.skills.values import TextCutWarning
from botcore.vibe import bbcode as bb
from botcore.vibe.coerce import with_slash
from botcore.vibe.events import CommandAddEvent, MalformedEventError, MessageAddEvent
from botcore.vibe.parse import parse_event
from tests.fuzzing import fuzz_settings

# A hundred-odd cases each: most take over 0.2 s on the shared 2-core host (pyproject's "slow").
pytestmark = pytest.mark.slow

FUZZ = fuzz_settings(200)

# What a person may type: any code point (lone surrogates too), and the markup this code reads or escapes.
PIECES = st.sampled_from(
    [
        "[", "]", "[b]", "[/b]", "[USER=7]", "[/USER]", "[user=all]Everyone[/user]", "[USER=7]Bot[/USER], ",
        "#", "#BR#", "#br", "br#", "r#", "b", ">", ">>", "-", "------", "\n", " ", "\t", "\u200b", "\u202e",
        "\u2028", "\ud800", "/", "/ping", "/help", "PING", "\x00", "й", "😀",
    ]
)  # fmt: skip
TEXT = st.one_of(
    st.lists(st.one_of(PIECES, st.text(st.characters(codec=None), max_size=5)), max_size=12).map("".join),
    st.text(st.characters(codec=None)),
)
PLAIN = TEXT.filter(lambda t: bb.ZWSP not in t)

# Markup the messenger reads, in text that escape() made: a tag, a quote, a full quote or a line break.
_LIVE_MARKUP = re.compile(r"\[(?!\u200b)|^[^\S\n]*>>|^[^\S\n]*------|#br#", re.MULTILINE | re.IGNORECASE)


def shows_as_typed(markup: str) -> bool:
    return _LIVE_MARKUP.search(markup) is None


@FUZZ
@given(TEXT)
def test_escape_leaves_no_markup_and_is_idempotent(text):
    escaped = bb.escape(text)
    assert shows_as_typed(escaped)
    assert bb.escape(escaped) == escaped


@FUZZ
@given(PLAIN)
def test_unescape_gives_back_what_was_typed(text):
    assert bb.unescape(bb.escape(text)) == text


@FUZZ
@given(st.lists(PLAIN, max_size=5))
@example(["#b", "r#"])
@example(["\n-----", "-"])
@example([">", ">x"])
def test_text_built_from_escaped_parts_shows_as_typed(parts):
    """`+` and bb.join escape each plain part on its own: the parts together must still hold no markup."""
    joined = bb.join(parts)
    assert shows_as_typed(joined)
    assert bb.unescape(joined) == "".join(parts)
    added = bb.raw("")
    for part in parts:
        added = added + part
    assert added == joined


@FUZZ
@given(TEXT, st.integers(min_value=1, max_value=60))
def test_shorten_fits_its_limit_once_escaped(text, limit):
    short = bb.shorten(text, limit)
    assert len(bb.escape(short)) <= limit
    assert short == text or (short.endswith("…") and text.startswith(short[:-1]))


@FUZZ
@given(st.lists(TEXT, max_size=8), st.integers(min_value=1, max_value=80))
def test_pack_keeps_every_line_within_the_limit(lines, limit):
    messages = bb.pack(lines, limit=limit)
    assert "\n".join(bb.unescape(m) for m in messages) == bb.unescape(bb.join(lines, "\n"))
    for message in messages:
        alone = {bb.escape(line) for line in lines}
        assert len(message) <= limit or message in alone  # a line too long goes alone


@FUZZ
@given(TEXT, st.one_of(st.none(), st.integers(), TEXT))
def test_unmention_takes_any_text(text, addressee):
    shown = bb.unmention(text, addressee=addressee)
    assert isinstance(shown, str) and len(shown) <= len(text)
    if "[" not in text:
        assert shown in (text.strip(), text)  # as typed where nothing but blanks would be left


@FUZZ
@given(TEXT, TEXT)
def test_builders_escape_their_text_and_refuse_only_bad_attributes(text, attribute):
    for build in (bb.bold, bb.italic, bb.code, bb.strike, bb.underline):
        assert bb.unescape(build(text)).count(bb.unescape(bb.escape(text))) >= 1
    assert shows_as_typed(bb.quote(text).replace(">>", ">\u200b>"))  # each line quoted, none with markup
    for build in (bb.send_link, bb.put_link, bb.mention, bb.chat_link, bb.url):
        try:
            made = build(attribute, text)
        except ValueError:
            assert any(char in attribute for char in "[]\n")
        else:
            assert isinstance(made, bb.BB)


# --- commands and routing ----------------------------------------------------------------------------------
SKILLS = [HelpSkill(), EchoSkill()]


def _command_event(command: str, params: str, context: str) -> CommandAddEvent:
    item = {
        "eventId": 5,
        "type": "ONIMBOTV2COMMANDADD",
        "data": {
            "bot": {"id": 1},
            "dialogId": "3",
            "user": {"id": 3, "firstName": "Anna"},
            "command": {"id": 1, "command": command, "params": params, "context": context},
        },
    }
    event = parse_event(item)
    assert isinstance(event, CommandAddEvent)
    return event


@FUZZ
@given(TEXT)
def test_a_command_is_read_in_one_form(command):
    once = with_slash(command)
    assert with_slash(once) == once and (once == "" or once.startswith("/"))


@FUZZ
@given(TEXT, TEXT, st.one_of(st.sampled_from(["textarea", "keyboard", "menu", ""]), TEXT))
@example("/PING", "", "textarea")
@example(" ping ", "x", "menu")
@example("/", "", "")
def test_any_command_goes_to_its_owner_or_a_catch_all_and_is_answered(command, params, context):
    event = _command_event(command, params, context)
    skill = select_skill(event, SKILLS, context_for=lambda s: RecordingContext(skill=s, event=event))
    name = event.command.name.lower()
    if name == "help":
        assert isinstance(skill, HelpSkill)
    elif skill is not None:
        assert skill.owns_command(name)  # echo owns ping and help; no catch-all among these
    if skill is not None:
        ctx = RecordingContext(skill=skill, event=event, enabled_skills=SKILLS)
        skill.handle(event, ctx)
        assert len(ctx.actions) >= 1


@FUZZ
@given(TEXT, st.one_of(st.none(), st.integers(), TEXT), st.booleans())
@example("[USER=1]Bot[/USER], hi", 1, True)
@example("\x00" * 3, None, False)
def test_any_message_is_routed_and_answered_within_the_platform_limits(text, author, in_group):
    item = {
        "eventId": 9,
        "type": "ONIMBOTV2MESSAGEADD",
        "data": {
            "bot": {"id": 1},
            "dialogId": "chat7" if in_group else "3",
            "user": {"id": 3, "firstName": "Anna"},
            "message": {"id": 11, "chatId": 7, "authorId": author, "text": text},
        },
    }
    try:
        event = parse_event(item)
    except MalformedEventError:
        return
    assert isinstance(event, MessageAddEvent)
    skill = select_skill(
        event, SKILLS, context_for=lambda s: RecordingContext(skill=s, event=event), bot_id=1
    )
    if skill is None:
        return
    ctx = RecordingContext(skill=skill, event=event, enabled_skills=SKILLS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TextCutWarning)  # a reply the platform would cut
        skill.handle(event, ctx)  # an empty reply raises ValueError: the platform refuses it
    assert ctx.posts
