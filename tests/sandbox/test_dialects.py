"""Dialects: alternative readings of the platform, chosen at start-up or through the control API."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from datetime import datetime

import pytest

from sandbox.dialects import DIALECTS, parse_dialects
from sandbox.runner import SandboxThread
from tests.sandbox.helpers import (
    client_for,
    ok,
    refused,
    register_bot,
    seed_app,
    seed_personal,
    seed_session,
    user_writes,
)
from tests.sandbox.test_rate_limit import FrozenClock


def speak(ctl, *names: str) -> list[str]:
    return ok(ctl.post("/_sandbox/dialects", json={"dialects": list(names)}))["dialects"]


def test_names_parse_from_commas_and_lists_and_unknown_ones_are_refused():
    assert parse_dialects("command-slash, flat-bot-id") == {"command-slash", "flat-bot-id"}
    assert parse_dialects(["no-long-poll", "me-no-expiry,no-retry-after"]) == {
        "no-long-poll",
        "me-no-expiry",
        "no-retry-after",
    }
    with pytest.raises(ValueError, match="no-such-thing"):
        parse_dialects("command-slash,no-such-thing")
    with pytest.raises(ValueError, match="cannot be spoken together"):
        parse_dialects("bare-bot-list,items-bot-list")


def test_the_control_api_lists_sets_and_resets_dialects(sandbox, ctl):
    listed = ok(ctl.get("/_sandbox/dialects"))
    assert listed["dialects"] == [] and set(listed["known"]) == set(DIALECTS)
    assert speak(ctl, "no-retry-after", "portal-rate-limit") == ["no-retry-after", "portal-rate-limit"]
    assert ok(ctl.get("/_sandbox/state"))["settings"]["dialects"] == ["no-retry-after", "portal-rate-limit"]
    refused(ctl.post("/_sandbox/dialects", json={"dialects": ["klingon"]}), 400, "INVALID_REQUEST")
    refused(ctl.post("/_sandbox/dialects", json={}), 400, "INVALID_REQUEST")
    ok(ctl.post("/_sandbox/reset"))
    assert ok(ctl.get("/_sandbox/dialects"))["dialects"] == []


@pytest.mark.slow
def test_a_sandbox_started_with_dialects_returns_to_them_after_a_reset():
    sandbox = SandboxThread(dialects="command-slash,no-long-poll").start()
    try:
        assert sandbox.run_in_loop(lambda s: s.platform.dialects) == {"command-slash", "no-long-poll"}
        sandbox.run_in_loop(lambda s: setattr(s.platform, "dialects", frozenset()))
        sandbox.reset()
        assert sandbox.run_in_loop(lambda s: s.platform.dialects) == {"command-slash", "no-long-poll"}
    finally:
        sandbox.stop()


@pytest.fixture
def two_portals(sandbox):
    """One app key installed on two portals, limited to 2 requests/s, on a clock that stands still."""
    clock = FrozenClock()
    sandbox.run_in_loop(lambda s: setattr(s.limiter, "clock", clock))
    sandbox.run_in_loop(lambda s: setattr(s.platform, "default_rate_limit", 2.0))
    first = seed_app(sandbox)
    return first, seed_session(sandbox, first)


def test_by_default_one_key_shares_its_rate_across_portals(sandbox, two_portals):
    first, second = two_portals
    with client_for(sandbox, first) as one, client_for(sandbox, second) as other:
        assert [one.get("/bots").status_code for _ in range(2)] == [200, 200]
        assert other.get("/bots").status_code == 429


def test_portal_rate_limit_gives_each_portal_of_a_key_its_own_rate(sandbox, ctl, two_portals):
    speak(ctl, "portal-rate-limit")
    first, second = two_portals
    with client_for(sandbox, first) as one, client_for(sandbox, second) as other:
        assert [one.get("/bots").status_code for _ in range(3)] == [200, 200, 429]
        answers = [other.get("/bots") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "per key and portal" in answers[-1].json()["error"]["hint"]


def test_no_retry_after_refuses_without_saying_how_long_to_wait(sandbox, ctl, two_portals):
    speak(ctl, "no-retry-after")
    first, _ = two_portals
    with client_for(sandbox, first) as client:
        client.get("/bots"), client.get("/bots")
        answer = client.get("/bots")
    error = refused(answer, 429, "RATE_LIMIT")
    assert "retryAfter" not in error and "retry-after" not in answer.headers


def test_the_default_429_says_how_long_to_wait(sandbox, two_portals):
    first, _ = two_portals
    with client_for(sandbox, first) as client:
        client.get("/bots"), client.get("/bots")
        answer = client.get("/bots")
    error = refused(answer, 429, "RATE_LIMIT")
    assert error["retryAfter"] >= 1 and answer.headers["Retry-After"] == str(error["retryAfter"])


# --- the readings of shapes -------------------------------------------------------------------------
def command_event(sandbox, client, tenant) -> dict:
    bot_id = register_bot(client)
    registered = client.post(f"/bots/{bot_id}/commands", json={"command": "ping", "title": "Ping"})
    assert registered.status_code == 201
    user_writes(sandbox, tenant.user_id, bot_id, "/ping now")
    events = ok(client.get(f"/bots/{bot_id}/events"))["events"]
    return next(e for e in events if e["type"] == "ONIMBOTV2COMMANDADD")["data"]["command"]


def test_command_events_carry_the_bare_name_as_the_reference_example_compares_it(sandbox, tenant, client):
    command = command_event(sandbox, client, tenant)
    assert (command["command"], command["params"]) == ("ping", "now")


def test_command_slash_sends_the_name_with_its_slash(sandbox, ctl, tenant, client):
    speak(ctl, "command-slash")
    assert command_event(sandbox, client, tenant)["command"] == "/ping"


def test_command_message_raises_the_message_too_just_before_its_command(sandbox, ctl, tenant, client):
    speak(ctl, "command-message")
    bot_id = register_bot(client)
    assert (
        client.post(f"/bots/{bot_id}/commands", json={"command": "ping", "title": "Ping"}).status_code == 201
    )
    user_writes(sandbox, tenant.user_id, bot_id, "/ping now")
    events = [
        e for e in ok(client.get(f"/bots/{bot_id}/events"))["events"] if e["type"] != "ONIMBOTV2JOINCHAT"
    ]
    assert [e["type"] for e in events] == ["ONIMBOTV2MESSAGEADD", "ONIMBOTV2COMMANDADD"]
    assert events[0]["data"]["message"] == events[1]["data"]["message"]


def test_auth_in_events_carries_a_webhooks_credentials_and_file_links_with_a_token(
    sandbox, ctl, tenant, client
):
    """Classic imbot webhooks carry `auth` (the portal user's OAuth tokens, the app's application_token); a
    platform or proxy forwarding them would put the block in each event, and its token in a file's link."""
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    plain = ok(client.get(f"/bots/{bot_id}/events"))
    assert all("auth" not in e["data"] for e in plain["events"])  # the default reading carries none
    speak(ctl, "auth-in-events")
    content = base64.b64encode(b"report").decode()
    sent = client.post(
        f"/bots/{bot_id}/files",
        json={"dialogId": str(tenant.user_id), "fields": {"name": "r.txt", "content": content}},
    )
    file_id = ok(sent)["file"]["id"]
    # A message carrying that file (no portal user uploads here), as the platform lists files: their ids.
    message = {"id": 900, "chatId": 1, "authorId": tenant.user_id, "text": "", "params": {"files": [file_id]}}
    raw = {"botId": bot_id, "type": "ONIMBOTV2MESSAGEADD", "data": {"dialogId": "1", "message": message}}
    ok(ctl.post("/_sandbox/act/raw-events", json=raw))
    user_writes(sandbox, tenant.user_id, bot_id, "thanks")
    events = ok(client.get(f"/bots/{bot_id}/events", params={"offset": plain["nextOffset"]}))["events"]
    assert len(events) == 2
    auths = [e["data"]["auth"] for e in events]
    assert all(a["access_token"] and a["refresh_token"] and a["application_token"] for a in auths)
    assert auths[0]["access_token"] != auths[1]["access_token"]  # fresh each event, as OAuth tokens rotate
    files = events[0]["data"]["message"]["params"]["files"]
    assert files == [{"id": file_id, "name": "r.txt", "urlDownload": files[0]["urlDownload"]}]
    assert files[0]["urlDownload"].endswith(f"&auth={auths[0]['access_token']}")


def test_own_messages_brings_a_post_back_to_its_bot_and_no_event_bot_leaves_the_bot_out(
    sandbox, ctl, tenant, client
):
    speak(ctl, "own-messages", "no-event-bot")
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    ok(client.get(f"/bots/{bot_id}/events"))
    sent = ok(
        client.post(
            f"/bots/{bot_id}/messages", json={"dialogId": str(tenant.user_id), "fields": {"message": "yo"}}
        )
    )
    events = ok(client.get(f"/bots/{bot_id}/events"))["events"]
    back = [
        e for e in events if e["type"] == "ONIMBOTV2MESSAGEADD" and e["data"]["message"]["id"] == sent["id"]
    ]
    assert len(back) == 1 and back[0]["data"]["message"]["authorId"] == bot_id
    assert "bot" not in back[0]["data"]["user"] and all("bot" not in e["data"] for e in events)


def test_keyed_events_answers_an_object_keyed_by_id_and_null_events_null_when_none_wait(
    sandbox, ctl, tenant, client
):
    speak(ctl, "keyed-events", "null-events")
    bot_id = register_bot(client)
    assert ok(client.get(f"/bots/{bot_id}/events"))["events"] is None  # nothing waits
    for text in ("one", "two"):
        user_writes(sandbox, tenant.user_id, bot_id, text)
    events = ok(client.get(f"/bots/{bot_id}/events"))["events"]
    assert isinstance(events, dict) and [int(key) for key in events] == [
        e["eventId"] for e in events.values()
    ]
    assert [e["data"]["message"]["text"] for e in events.values() if "message" in e["data"]] == ["one", "two"]


def test_last_id_next_offset_names_the_last_event_which_then_comes_again(sandbox, ctl, tenant, client):
    speak(ctl, "last-id-next-offset")
    bot_id = register_bot(client)
    assert ok(client.get(f"/bots/{bot_id}/events"))["nextOffset"] == 0  # nothing waits
    for text in ("one", "two"):
        user_writes(sandbox, tenant.user_id, bot_id, text)
    batch = ok(client.get(f"/bots/{bot_id}/events"))
    last = batch["events"][-1]["eventId"]
    assert batch["nextOffset"] == last
    again = ok(client.get(f"/bots/{bot_id}/events", params={"offset": batch["nextOffset"]}))["events"]
    assert [e["eventId"] for e in again] == [last]
    assert ok(client.get(f"/bots/{bot_id}/events", params={"offset": last + 1}))["events"] == []


def test_unstored_offset_answers_null_until_a_poll_names_an_offset(sandbox, ctl, tenant, client):
    """By default a fresh bot's answer says storedOffset 0 (nothing below 0 to acknowledge); under
    `unstored-offset` it says null and persisted false until a poll names an offset, 0 included."""
    bot_id = register_bot(client)
    fresh = ok(client.get(f"/bots/{bot_id}/events"))
    assert (fresh["storedOffset"], fresh["persisted"]) == (0, True)
    speak(ctl, "unstored-offset")
    user_writes(sandbox, tenant.user_id, bot_id, "one")
    unstored = ok(client.get(f"/bots/{bot_id}/events"))
    assert (unstored["storedOffset"], unstored["persisted"]) == (None, False)
    assert [e["eventId"] for e in unstored["events"]] == [1, 2] and unstored["nextOffset"] == 3
    client.head(f"/bots/{bot_id}/events", params={"offset": 0})  # a HEAD stores nothing
    assert ok(client.get(f"/bots/{bot_id}/events"))["storedOffset"] is None
    named = ok(client.get(f"/bots/{bot_id}/events", params={"offset": 0}))
    assert (named["storedOffset"], named["persisted"]) == (0, True) and len(named["events"]) == 2
    acked = ok(client.get(f"/bots/{bot_id}/events", params={"offset": 3}))
    assert (acked["storedOffset"], acked["persisted"], acked["events"]) == (3, True, [])


def test_flat_bot_id_answers_the_new_id_both_ways(ctl, client):
    speak(ctl, "flat-bot-id")
    data = client.post("/bots", json={"code": "flat", "name": "Flat"}).json()["data"]
    assert data["botId"] == data["bot"]["id"]


def test_flat_conflict_answers_a_repeated_code_with_the_flat_id_alone(ctl, client):
    """The reference's 409 note read strictly ("a flat shape on this path, unlike the nested data.bot.id"):
    no data.bot, which the reference's echo bot reads, so it cannot restart on such a platform."""
    held = register_bot(client, "twice")
    speak(ctl, "flat-conflict")
    again = client.post("/bots", json={"code": "twice", "name": "Again"})
    refused(again, 409, "BOT_ALREADY_EXISTS")
    assert again.json()["data"] == {"botId": held}


def test_the_default_registration_answers_only_the_nested_id(client):
    data = client.post("/bots", json={"code": "nested", "name": "Nested"}).json()["data"]
    assert "botId" not in data and data["bot"]["id"] > 0


@pytest.mark.parametrize(
    ("dialect", "read"),
    [
        (None, lambda data: [(b["id"], b["code"]) for b in data["bots"]]),
        ("items-bot-list", lambda data: [(b["id"], b["code"]) for b in data["items"]]),
        ("bare-bot-list", lambda data: [(b["botId"], b["code"]) for b in data]),
    ],
)
def test_the_bot_list_comes_in_the_shape_of_the_dialect(ctl, client, dialect, read):
    bot_id = register_bot(client, code="listed")
    if dialect:
        speak(ctl, dialect)
    assert read(ok(client.get("/bots"))) == [(bot_id, "listed")]


def test_a_command_without_a_title_is_refused_unless_untitled_commands(ctl, client, bot_id):
    refused(client.post(f"/bots/{bot_id}/commands", json={"command": "ping"}), 400, "COMMAND_TITLE_REQUIRED")
    speak(ctl, "untitled-commands")
    answer = client.post(f"/bots/{bot_id}/commands", json={"command": "ping"})
    assert answer.status_code == 201 and answer.json()["data"]["command"]["title"] == {}


def test_me_no_expiry_leaves_out_the_session_end(sandbox, ctl):
    tenant = seed_app(sandbox)
    with client_for(sandbox, tenant) as client:
        assert ok(client.get("/me"))["session"]["expiresAt"]
        speak(ctl, "me-no-expiry")
        me = ok(client.get("/me"))
    assert "expiresAt" not in me["session"] and me["currentUser"]["bitrixUserId"] == tenant.user_id


def test_epoch_expiry_says_the_session_end_in_unix_seconds(sandbox, ctl):
    tenant = seed_app(sandbox)
    with client_for(sandbox, tenant) as client:
        stated = datetime.fromisoformat(ok(client.get("/me"))["session"]["expiresAt"])
        speak(ctl, "epoch-expiry")
        me = ok(client.get("/me"))
    assert me["session"]["expiresAt"] == int(stated.timestamp())


def test_zoned_dates_say_the_session_end_and_event_dates_as_java_zoned_date_times(sandbox, ctl):
    """Every date the platform writes: the session's end, an event's, its message's (left in UTC's ISO form,
    the one date of the answer a Java platform would not have written so)."""
    tenant = seed_app(sandbox)
    with client_for(sandbox, tenant) as client:
        stated = datetime.fromisoformat(ok(client.get("/me"))["session"]["expiresAt"])
        speak(ctl, "zoned-dates")
        zoned = ok(client.get("/me"))["session"]["expiresAt"]
        bot_id = register_bot(client)
        user_writes(sandbox, tenant.user_id, bot_id, "hi")
        events = ok(client.get(f"/bots/{bot_id}/events"))["events"]
        [event] = [e for e in events if e["type"] == "ONIMBOTV2MESSAGEADD"]
        date, message_date = event["date"], event["data"]["message"]["date"]
        chat_created = ok(client.get(f"/bots/{bot_id}/chats/{tenant.user_id}"))["chat"]["dateCreate"]
    for said in (zoned, date, message_date, chat_created):  # nanoseconds, the offset, the zone's id
        assert said.endswith("+03:00[Europe/Moscow]") and len(said.split(".")[1]) == len(
            "123456789+03:00[Europe/Moscow]"
        )
    assert datetime.fromisoformat(zoned.removesuffix("[Europe/Moscow]")).replace(microsecond=0) == stated


def test_no_long_poll_answers_an_empty_queue_at_once(ctl, client, bot_id):
    """Held for its 30 s, the call would outlive the client's 10 s timeout and raise."""
    client.get(f"/bots/{bot_id}/events", params={"offset": 10**6})
    speak(ctl, "no-long-poll")
    answered = ok(client.get(f"/bots/{bot_id}/events", params={"timeout": 30}))
    assert answered["events"] == [] and answered["hasMore"] is False


def test_no_template_dedupe_posts_a_repeated_template_id_again_and_maps_nothing(sandbox, ctl, tenant, client):
    bot_id = register_bot(client)
    user_writes(sandbox, tenant.user_id, bot_id, "hi")
    body = {"dialogId": str(tenant.user_id), "fields": {"message": "once?", "templateId": str(uuid.uuid4())}}
    speak(ctl, "no-template-dedupe")
    first = ok(client.post(f"/bots/{bot_id}/messages", json=body))
    again = ok(client.post(f"/bots/{bot_id}/messages", json=body))
    assert first["id"] != again["id"] and first["uuidMap"] == again["uuidMap"] == []
    posted = sandbox.run_in_loop(
        lambda s: [m.text for m in s.platform.messages.values() if m.author_id == bot_id]
    )
    assert posted == ["once?", "once?"]


def test_answer_message_id_names_the_posted_answer_and_a_repeat_names_the_first(sandbox, ctl, tenant, client):
    bot_id = register_bot(client)
    registered = client.post(f"/bots/{bot_id}/commands", json={"command": "ping", "title": "Ping"})
    asked = user_writes(sandbox, tenant.user_id, bot_id, "/ping")
    path = f"/bots/{bot_id}/commands/{registered.json()['data']['command']['id']}/answer"
    body = {"messageId": asked, "fields": {"message": "Pong", "templateId": str(uuid.uuid4())}}
    assert ok(client.post(path, json=body)) == {"result": True}  # the contract's reading, by default
    speak(ctl, "answer-message-id")
    first = ok(client.post(path, json={"messageId": asked, "message": "Pong again"}))
    posted = sandbox.run_in_loop(lambda s: s.platform.messages[first["messageId"]])
    assert (posted.text, posted.answer_to, first["id"], first["chatId"]) == (
        "Pong again",
        asked,
        first["messageId"],
        posted.chat_id,
    )
    repeated = ok(client.post(path, json=body))  # the templateId the default answered first
    first_answer = sandbox.run_in_loop(lambda s: s.platform.messages[repeated["messageId"]])
    assert repeated["result"] is True and first_answer.text == "Pong"


def test_retry_after_ms_says_the_wait_in_milliseconds_and_the_header_in_seconds(sandbox, ctl, two_portals):
    """`error.retryAfter` counts milliseconds; `Retry-After` stays HTTP's whole seconds, rounded up."""
    speak(ctl, "retry-after-ms")
    first, _ = two_portals
    with client_for(sandbox, first) as client:
        client.get("/bots"), client.get("/bots")
        answer = client.get("/bots")
    error = refused(answer, 429, "RATE_LIMIT")
    assert isinstance(error["retryAfter"], int) and 1 <= error["retryAfter"] <= 1000  # 2 requests/s
    assert answer.headers["Retry-After"] == "1"


def test_retry_after_ms_also_counts_an_injected_rate_limit_in_milliseconds(ctl, client):
    speak(ctl, "retry-after-ms")
    rule = {"method": "GET", "path": "/v1/bots", "errorRate": 1, "errorCode": "RATE_LIMIT"}
    ok(ctl.post("/_sandbox/faults", json=rule))
    answer = client.get("/bots")
    assert refused(answer, 429, "RATE_LIMIT")["retryAfter"] == 1000 and answer.headers["Retry-After"] == "1"


def test_always_held_polls_hold_an_empty_poll_whatever_timeout_it_names(ctl, client, bot_id, monkeypatch):
    """The full hold (25 s; 1 s here) for timeout=0 too; an event waiting is answered at once."""
    monkeypatch.setattr("sandbox.api.events.DEFAULT_HOLD_SECONDS", 1.0)
    client.get(f"/bots/{bot_id}/events", params={"offset": 10**6})
    speak(ctl, "always-held-polls")
    for timeout in ("0", "0.2", None):
        started = time.monotonic()
        answered = ok(client.get(f"/bots/{bot_id}/events", params={"timeout": timeout} if timeout else {}))
        assert answered["events"] == [] and time.monotonic() - started >= 0.9, timeout
    refused(client.get(f"/bots/{bot_id}/events", params={"timeout": "31"}), 400, "INVALID_TIMEOUT")


def test_always_held_polls_answer_at_once_when_an_event_waits_or_arrives(
    sandbox, ctl, tenant, client, bot_id, monkeypatch
):
    monkeypatch.setattr("sandbox.api.events.DEFAULT_HOLD_SECONDS", 5.0)
    speak(ctl, "always-held-polls")
    user_writes(sandbox, tenant.user_id, bot_id, "waiting")
    started = time.monotonic()
    batch = ok(client.get(f"/bots/{bot_id}/events", params={"timeout": 0}))
    assert batch["events"] and time.monotonic() - started < 1
    timer = threading.Timer(0.5, user_writes, (sandbox, tenant.user_id, bot_id, "arriving"))
    timer.start()
    started = time.monotonic()
    woken = ok(client.get(f"/bots/{bot_id}/events", params={"offset": batch["nextOffset"], "timeout": 0}))
    timer.join()
    assert [e["data"]["message"]["text"] for e in woken["events"]] == ["arriving"]
    assert time.monotonic() - started < 3


def test_always_held_polls_is_spoken_alone_among_the_hold_readings():
    for other in ("held-polls", "no-long-poll"):
        with pytest.raises(ValueError, match="cannot be spoken together"):
            parse_dialects(f"always-held-polls,{other}")
    with pytest.raises(ValueError, match="cannot be spoken together"):
        parse_dialects("retry-after-ms,no-retry-after")


def test_portal_bot_codes_keeps_a_code_for_its_key_across_the_portal(sandbox, ctl, tenant, client):
    """The default reading keeps codes per key (a second key's `helper_bot` is a second bot); under
    `portal-bot-codes` a code is the portal's: its holder's repeat still names its bot (409 with data.botId),
    another key's registration of it is 409 without data.botId, and once the holder deletes it the code is
    free again."""
    speak(ctl, "portal-bot-codes")
    held = register_bot(client, "helper_bot")
    again = client.post("/bots", json={"code": "helper_bot", "name": "Again"})
    assert refused(again, 409, "BOT_ALREADY_EXISTS") and again.json()["data"]["botId"] == held
    with client_for(sandbox, seed_personal(sandbox, portal_id=tenant.portal_id)) as other:
        taken = other.post("/bots", json={"code": "helper_bot", "name": "Another app's"})
        refused(taken, 409, "BOT_ALREADY_EXISTS")
        assert "botId" not in (taken.json().get("data") or {}) and str(held) not in taken.text
        assert [b["code"] for b in ok(other.get("/bots"))["bots"]] == []
        derived = register_bot(other, "helper_bot_2")
        with client_for(sandbox, seed_personal(sandbox)) as elsewhere:  # another portal's codes are its own
            assert register_bot(elsewhere, "helper_bot") not in (held, derived)
        assert client.delete(f"/bots/{held}").status_code == 200
        assert register_bot(other, "helper_bot") != derived


def test_wrapped_bitrix_errors_answers_imbots_own_refusals_as_the_references_bitrix_error(
    ctl, client, bot_id
):
    """The reference names no imbot.v2 code: a platform passing Bitrix24's refusals on as its own
    502 BITRIX_ERROR ("Error in the Bitrix24 API response") keeps only the reference's codes and its own."""
    dialog = {"dialogId": "chat999", "fields": {"message": "hi"}}
    refused(client.post(f"/bots/{bot_id}/messages", json=dialog), 404, "CHAT_NOT_FOUND")
    speak(ctl, "wrapped-bitrix-errors")
    wrapped = refused(client.post(f"/bots/{bot_id}/messages", json=dialog), 502, "BITRIX_ERROR")
    assert wrapped["message"].startswith("CHAT_NOT_FOUND: ")
    refused(
        client.delete(f"/bots/{bot_id}/messages/999/reactions", params={"reaction": "like"}),
        502,
        "BITRIX_ERROR",
    )
    # The reference's codes and the platform's own request checks are the platform's, never Bitrix24's.
    refused(client.get("/bots/abc"), 400, "INVALID_BOT_ID")
    refused(client.get("/bots/999999"), 404, "BOT_NOT_FOUND")
    refused(client.post("/bots", json={"name": "No code"}), 400, "CODE_REQUIRED")
    refused(client.post("/bots", json={"code": "helper_bot", "name": "Again"}), 409, "BOT_ALREADY_EXISTS")
    refused(client.post(f"/bots/{bot_id}/messages", content=b"{"), 400, "INVALID_JSON")


def test_official_error_codes_names_three_refusals_as_the_errors_page_does(sandbox, ctl, api, two_portals):
    """CONTRACT A §2: the reference's RATE_LIMIT, AUTH_REQUIRED and TOKEN_MISSING are RATE_LIMITED,
    MISSING_API_KEY and INVALID_APP_KEY on the official errors page, with the same statuses."""
    first, _ = two_portals
    refused(api.get("/bots"), 401, "AUTH_REQUIRED")
    speak(ctl, "official-error-codes")
    refused(api.get("/bots"), 401, "MISSING_API_KEY")
    refused(api.get("/bots", headers={"X-Api-Key": first.key}), 401, "INVALID_APP_KEY")
    with client_for(sandbox, first) as client:
        client.get("/bots"), client.get("/bots")
        answer = client.get("/bots")
    error = refused(answer, 429, "RATE_LIMITED")
    assert error["retryAfter"] >= 1 and answer.headers["Retry-After"] == str(error["retryAfter"])
    refused(api.get("/bots", headers={"X-Api-Key": "vibe_api_unknown"}), 401, "INVALID_API_KEY")  # one name
