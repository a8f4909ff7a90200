"""Property-based fuzzing of what the platform sends: any JSON as an answer or an event item is read as a
well-typed result or refused with the project's own error, never a bare KeyError/TypeError/OverflowError,
and no error's text carries the key or the session token. Seeded (derandomize) so CI sees the same cases."""

from __future__ import annotations

import json
import math
import traceback

import httpx
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from botcore.vibe import NoBudget, VibeClient
from botcore.vibe.answers import parse_retry_after, raise_for_response
from botcore.vibe.errors import VibeApiError, VibeError, VibeProtocolError
from botcore.vibe.events import (
    EVENT_CLASSES,
    BaseEvent,
    CommandAddEvent,
    EventType,
    MalformedEventError,
    UnknownEvent,
    UserMessageEvent,
)
from botcore.vibe.identity import identity_from_me, token_from_exchange
from botcore.vibe.parse import parse_event, read_event_batch
from tenants.errors import InstallationError
from tests.fuzzing import fuzz_settings

# A hundred-odd cases each: most take over 0.2 s on the shared 2-core host (pyproject's "slow").
pytestmark = pytest.mark.slow

# FUZZ_EXAMPLES=20000 runs a longer hunt with fresh random cases (CI's run stays the seeded 150).
FUZZ = fuzz_settings(150, also_suppress=(HealthCheck.data_too_large,))
SECRET_KEY = "vibe_app_fuzzKEY0123456789abcdef"
SECRET_TOKEN = "vibe_session_fuzzTOKEN9876543210"

# Text the platform (or a person through it) may send: any code point, lone surrogates included (JSON's
# "\ud800" decodes to one), and the pieces that mean something to a parser here.
TRICKY = st.sampled_from(
    [
        "", " ", "\x00", "\u200b", "\u202e", "\ufeff", "\ud800", "\U0001f600", "[USER=1]Bot[/USER]",
        "[user=all]", "#BR#", ">>", "------", "/ping", "/", "ping", "Y", "N", "true", "null", "-1", "42",
        "1e400", "NaN",
        "2026-12-06T10:00:00Z", "2026-12-06T10:00:00", "chat7", "9" * 30,
    ]
)  # fmt: skip
TEXT = st.one_of(
    TRICKY, st.text(st.characters(codec=None), max_size=40), st.text(max_size=8).map(lambda s: s * 500)
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**62, max_value=2**200),
    st.integers(min_value=-(2**200), max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
TYPES = st.one_of(
    st.sampled_from([str(t) for t in EventType]),
    st.sampled_from([str(t).lower() + " " for t in EventType]),
    JSON,
)


def _object(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """An object with any of `fields` (each a garbage value or a plausible one), plus garbage keys."""
    return st.one_of(
        JSON,
        st.fixed_dictionaries({}, optional={k: st.one_of(v, JSON) for k, v in fields.items()}),
    )


MESSAGE = _object(
    {
        "id": NUMBERS, "chatId": NUMBERS, "authorId": NUMBERS, "text": TEXT, "date": TEXT,
        "isSystem": SCALARS,
        "params": st.one_of(JSON, st.fixed_dictionaries({"files": st.lists(JSON, max_size=3)})),
    }
)  # fmt: skip
DATA = _object(
    {
        "bot": _object({"id": NUMBERS, "code": TEXT}),
        "dialogId": TEXT,
        "chat": _object({"id": NUMBERS, "dialogId": TEXT, "owner": NUMBERS}),
        "user": _object({"id": NUMBERS, "bot": SCALARS, "name": TEXT}),
        "message": MESSAGE,
        "messageId": NUMBERS,
        "command": _object({"id": NUMBERS, "command": TEXT, "params": TEXT, "context": TEXT}),
        "reaction": TEXT,
        "action": TEXT,
        "context": JSON,
        "language": TEXT,
    }
)
ITEM = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"eventId": st.one_of(st.integers(min_value=0, max_value=2**70), JSON), "type": TYPES},
        optional={"date": st.one_of(TEXT, JSON), "data": DATA},
    ),
)


def _look_at(event: BaseEvent) -> None:
    """Every property a skill or the event log reads, each of its declared type."""
    assert isinstance(event.event_id, int) and event.event_id >= 0
    assert isinstance(event.type, str)
    assert isinstance(event.text, str)
    if isinstance(event, UserMessageEvent):
        assert isinstance(event.text_to_bot, str) and isinstance(event.is_from_bot, bool)
        assert all(isinstance(i, int) for i in event.message.file_ids)
        assert isinstance(event.dialog_id, str)
    if isinstance(event, CommandAddEvent):
        assert event.command.command in ("", "/" + event.command.name)
    known = EVENT_CLASSES.get(event.type) if isinstance(event.type, EventType) else None
    assert isinstance(event, known or UnknownEvent)


@FUZZ
@given(ITEM)
@example({"eventId": 1, "type": "[" * 900 + "]" * 900})
@example({"eventId": 1, "type": "ONIMBOTV2MESSAGEADD", "data": {"message": {"text": [[[[[[[]]]]]]]}}})
def test_any_event_item_is_read_or_refused_as_malformed(item):
    try:
        event = parse_event(item)
    except MalformedEventError as error:
        refusal = str(error)
    else:
        _look_at(event)
        return
    assert refusal


@FUZZ
@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"events": st.one_of(st.lists(ITEM, max_size=5), st.dictionaries(TEXT, ITEM, max_size=3), JSON)},
            optional={
                "nextOffset": st.one_of(NUMBERS, JSON),
                "lastEventId": st.one_of(NUMBERS, JSON),
                "hasMore": SCALARS,
                "storedOffset": st.one_of(NUMBERS, JSON),
                "persisted": SCALARS,
            },
        ),
    ),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1)),
)
def test_any_events_answer_is_a_batch_keeping_every_item_or_a_protocol_error(data, current):
    try:
        batch = read_event_batch(data, bot_id=7)
    except VibeProtocolError as error:
        refusal = str(error)
    else:
        refusal = ""
    if refusal:
        assert "events" in refusal
        return
    events = data.get("events") if isinstance(data, dict) else None
    items = events if isinstance(events, list) else list(events.values()) if isinstance(events, dict) else []
    assert len(batch.events) + len(batch.malformed) == len(items)  # none dropped
    for event in batch.events:
        _look_at(event)
    assert isinstance(batch.next_offset, int) and isinstance(batch.has_more, bool)
    after = batch.offset_after(current)
    assert after is None or isinstance(after, int)
    if current is not None:
        assert after is not None and after >= current  # never backwards


# --- raw answers ----------------------------------------------------------------------------------------
STATUSES = st.sampled_from(
    [200, 201, 204, 301, 302, 400, 401, 403, 404, 409, 410, 413, 429, 431, 500, 502, 504]
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
RETRY_AFTER = st.one_of(
    HEADER_TEXT,
    st.sampled_from(
        ["Mon, 01 Jan 99999999999999999999 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "1e400"]
    ),
    st.integers().map(str),
)
ENVELOPE = st.one_of(
    JSON,
    st.fixed_dictionaries({"success": st.one_of(st.just(True), SCALARS), "data": JSON}),
    st.fixed_dictionaries(
        {
            "success": st.one_of(st.just(False), SCALARS),
            "error": _object(
                {
                    "code": TEXT,
                    "message": JSON,
                    "hint": JSON,
                    "retryAfter": st.one_of(NUMBERS, TEXT),
                    "botId": JSON,
                }
            ),
        },
        optional={"data": JSON},
    ),
)


def _body(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@FUZZ
@given(
    STATUSES,
    st.one_of(ENVELOPE.map(_body), st.binary(max_size=64)),
    st.fixed_dictionaries(
        {},
        optional={
            "content-type": st.sampled_from(["application/json", "text/html", "", "application/json; x"]),
            "retry-after": RETRY_AFTER,
            "location": HEADER_TEXT,
        },
    ),
)
@example(429, b'{"success":false,"error":{"code":"RATE_LIMIT","retryAfter":1' + b"0" * 400 + b"}}", {})
@example(
    429,
    b'{"success":false,"error":{"code":"RATE_LIMIT"}}',
    {"retry-after": "Thu, 1 Jan 99999999999 0:0:0 GMT"},
)
def test_any_answer_is_its_data_or_a_vibe_api_error(status, body, headers):
    response = httpx.Response(
        status, content=body, headers=headers, request=httpx.Request("GET", "http://p/v1/x")
    )
    try:
        raise_for_response(response)
    except VibeApiError as error:
        refusal: VibeApiError | None = error
    else:
        refusal = None
    if refusal is not None:
        assert isinstance(refusal.status, int) and str(refusal) and repr(refusal)
        assert isinstance(refusal.is_transient, bool) and isinstance(refusal.may_have_acted, bool)
        # A wait is a number of seconds every caller can add to a clock or round up (tenants' Retry-After).
        assert refusal.retry_after is None or (
            math.isfinite(refusal.retry_after) and refusal.retry_after >= 0
        )


@FUZZ
@given(st.one_of(NUMBERS, TEXT, RETRY_AFTER, JSON))
def test_a_retry_after_is_none_or_a_finite_wait(value):
    wait = parse_retry_after(value)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


# --- secrets ----------------------------------------------------------------------------------------------
def _quoting(text: str) -> st.SearchStrategy[str]:
    """Strings in which the platform quotes `text` back, alone or inside its own words."""
    return st.one_of(st.just(text), st.tuples(TRICKY, TRICKY).map(lambda p: p[0] + text + p[1]))


QUOTED = st.one_of(_quoting(SECRET_KEY), _quoting(SECRET_TOKEN), _quoting(f"Bearer {SECRET_TOKEN}"))
HEADER_QUOTED = st.one_of(
    st.just(SECRET_KEY), st.just(SECRET_TOKEN), HEADER_TEXT.map(lambda s: s + SECRET_TOKEN)
)


@FUZZ
@given(
    st.sampled_from([400, 401, 403, 404, 409, 429, 500, 502]),
    st.fixed_dictionaries(
        {
            "success": st.just(False),
            "error": st.fixed_dictionaries(
                {},
                optional={
                    "code": st.one_of(QUOTED, TEXT),
                    "message": st.one_of(QUOTED, JSON),
                    "hint": st.one_of(QUOTED, JSON),
                    "retryAfter": st.one_of(QUOTED, NUMBERS),
                },
            ),
        },
        optional={"data": st.one_of(JSON, st.fixed_dictionaries({"botId": QUOTED}))},
    ),
    st.fixed_dictionaries(
        {}, optional={"retry-after": HEADER_QUOTED, "location": HEADER_QUOTED.map(lambda s: "http://h/" + s)}
    ),
)
def test_an_error_answer_quoting_our_secrets_never_passes_them_on(status, body, headers):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=_body(body), headers=headers)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    client = VibeClient(
        api_key=SECRET_KEY, session_token=SECRET_TOKEN, base_url="http://p", http=http, budget=NoBudget(),
        max_attempts=1,
    )  # fmt: skip
    with pytest.raises(VibeError) as caught:
        client.list_bots()
    error = caught.value
    said = "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])
    said += "\n" + " ".join(str(getattr(error, name, "")) for name in ("message", "hint", "code"))
    assert SECRET_KEY not in said and SECRET_TOKEN not in said


# --- who a credential is ------------------------------------------------------------------------------------
ME = st.fixed_dictionaries(
    {},
    optional={
        "portal": _object({"id": NUMBERS, "memberId": TEXT, "domain": TEXT, "name": TEXT}),
        "currentUser": _object({"id": NUMBERS, "bitrixUserId": NUMBERS, "name": TEXT, "isAdmin": SCALARS}),
        "owner": _object({"id": NUMBERS, "name": TEXT}),
        "session": _object({"expiresAt": TEXT}),
        "scopes": JSON,
        "access_token": st.one_of(TEXT, JSON),
        "expires_at": st.one_of(TEXT, JSON),
        "expires_in": st.one_of(NUMBERS, JSON),
        "user": _object({"id": NUMBERS, "name": TEXT}),
    },
)


@FUZZ
@given(ME)
@example({"portal": {"memberId": "m"}, "currentUser": {"id": 1}, "scopes": 5})
@example({"access_token": "t", "expires_in": 1e300})
@example({"access_token": "t", "expires_in": float("nan")})
def test_any_identity_answer_is_an_identity_or_an_installation_error(data):
    """GET /v1/me's and the OAuth exchange's answers: a wrong one is the visitor's plain error page (tenants'
    InstallationError), never a 500 of a TypeError or an OverflowError."""
    for read in (identity_from_me, token_from_exchange):
        try:
            made = read(data)
        except InstallationError as error:
            refusal = str(error)
        else:
            refusal = ""
            identity = getattr(made, "identity", made)
            assert isinstance(identity.member_id, str) and isinstance(identity.bitrix_user_id, int)
            assert all(isinstance(scope, str) for scope in identity.scopes)
            assert identity.expires_at is None or identity.expires_at.tzinfo is not None
        assert refusal or made is not None


# --- every read of the client -------------------------------------------------------------------------------
CALLS = {
    "list_bots": lambda c: c.list_bots(),
    "get_bot": lambda c: c.get_bot(7),
    "get_revision": lambda c: c.get_revision(),
    "register_bot": lambda c: c.register_bot(code="b", name="B"),
    "get_chat": lambda c: c.get_chat(7, "chat3"),
    "list_chat_users": lambda c: c.list_chat_users(7, "chat3"),
    "list_commands": lambda c: c.list_commands(7),
    "get_events": lambda c: c.get_events(7),
    "get_file_download_url": lambda c: c.get_file_download_url(7, 3),
    "send_message": lambda c: c.send_message(7, dialog_id="3", text="hi"),
    "get_message": lambda c: c.get_message(7, 11),
    "get_message_context": lambda c: c.get_message_context(7, 11),
    "list_users": lambda c: c.list_users(),
    "create_chat": lambda c: c.create_chat(7, title="T"),
    "upload_file": lambda c: c.upload_file(7, dialog_id="3", name="a.txt", content=b"a"),
}


@FUZZ
@given(st.sampled_from(sorted(CALLS)), JSON)
def test_any_data_in_a_success_answer_is_a_typed_result_or_a_protocol_error(call, data):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_body({"success": True, "data": data}))

    http = httpx.Client(transport=httpx.MockTransport(answer))
    client = VibeClient(api_key=SECRET_KEY, base_url="http://p", http=http, budget=NoBudget(), max_attempts=1)
    try:
        CALLS[call](client)
    except VibeError as error:
        assert str(error)  # noqa: PT017 - the error's own words, whatever the data


@pytest.mark.parametrize("where", ["envelope", "data", "message"])
def test_a_key_holding_half_an_emoji_costs_no_message(where):
    """pydantic reads no field of an object with a key that is no valid text (a lone surrogate): the message
    event was refused as malformed, never answered."""
    item = {"eventId": 1, "type": "ONIMBOTV2MESSAGEADD", "data": {"message": {"id": 5, "text": "hi"}}}
    holder = {"envelope": item, "data": item["data"], "message": item["data"]["message"]}[where]
    holder["\ud83d"] = "x"
    event = parse_event(item)
    assert event.text == "hi" and event.raw is item
