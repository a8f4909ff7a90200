"""raise_for_response: every code of the reference and the contract, aliases, unknown codes, bad bodies."""

from __future__ import annotations

import email.utils
import re
import time
from pathlib import Path

import httpx
import pytest

from botcore.errors import refused_for_good
from botcore.vibe.answers import MAX_ANSWER_BYTES, raise_for_response, read_streamed
from botcore.vibe.coerce import as_int
from botcore.vibe.errors import (
    CODE_ALIASES,
    VibeApiError,
    VibeAuthError,
    VibeBadRequestError,
    VibeBotAlreadyExistsError,
    VibeConflictError,
    VibeForbiddenError,
    VibeKeyRefusedError,
    VibeNotFoundError,
    VibeProtocolError,
    VibeRateLimitError,
    VibeServerError,
    VibeSessionExpiredError,
    VibeTransportError,
)
from botcore.vibe.transport import RetryClass, is_retryable

REQUEST = httpx.Request("POST", "http://platform.test/v1/bots/5/messages?offset=3")


def answer(status: int, body: object = None, *, content: bytes | None = None, headers: dict | None = None):
    if content is not None:
        return httpx.Response(status, content=content, headers=headers, request=REQUEST)
    return httpx.Response(status, json=body, headers=headers, request=REQUEST)


def error_body(code: str, message: str = "text", **extra: object) -> dict:
    return {"success": False, "error": {"code": code, "message": message, **extra}}


# (code, the status the platform uses, the class the client raises). The reference's two tables first,
# then the contract's aliases and extra codes (part A §2, part B §2 and §7), then the sandbox's own.
REFERENCE_CODES = [
    ("SCOPE_DENIED", 403, VibeKeyRefusedError),
    ("TOKEN_MISSING", 401, VibeSessionExpiredError),
    ("CODE_REQUIRED", 400, VibeBadRequestError),
    ("NAME_REQUIRED", 400, VibeBadRequestError),
    ("INVALID_BOT_ID", 400, VibeBadRequestError),
    ("BOT_NOT_FOUND", 404, VibeNotFoundError),
    ("BOT_ACCESS_DENIED", 403, VibeForbiddenError),
    ("BOT_ALREADY_EXISTS", 409, VibeBotAlreadyExistsError),
    ("REGISTRATION_FAILED", 502, VibeServerError),
    ("AUTH_REQUIRED", 401, VibeKeyRefusedError),
    ("INVALID_API_KEY", 401, VibeKeyRefusedError),
    ("KEY_REVOKED", 403, VibeKeyRefusedError),
    ("RATE_LIMIT", 429, VibeRateLimitError),
    ("BITRIX_ERROR", 502, VibeServerError),
    ("BITRIX_UNAVAILABLE", 502, VibeServerError),
    ("INTERNAL_ERROR", 500, VibeServerError),
]
CONTRACT_CODES = [
    ("RATE_LIMITED", 429, VibeRateLimitError),
    ("MISSING_API_KEY", 401, VibeKeyRefusedError),
    ("INVALID_APP_KEY", 401, VibeSessionExpiredError),
    ("TOKEN_EXPIRED", 401, VibeSessionExpiredError),
    ("INVALID_KEY", 401, VibeKeyRefusedError),
    ("QUEUE_TIMEOUT", 504, VibeServerError),
    ("ERROR_LOOP_DETECTED", 500, VibeServerError),
    ("OAUTH_REQUIRED", 401, VibeAuthError),
    ("USER_AUTH_REQUIRED", 401, VibeAuthError),
    ("BH_LOGIN_REQUIRED", 401, VibeAuthError),
    ("APP_RESOLVE_FAILED", 502, VibeServerError),
    ("MANAGEMENT_SCOPE_REQUIRED", 403, VibeKeyRefusedError),
    ("MANAGEMENT_KEY_NO_ENTITY_ACCESS", 403, VibeKeyRefusedError),
    ("WRITE_BLOCKED_READONLY_KEY", 403, VibeKeyRefusedError),
    ("BITRIX_ACCESS_DENIED", 403, VibeAuthError),
    ("SCOPE_ERROR", 403, VibeAuthError),
    ("AUTH_ERROR", 401, VibeAuthError),
    ("USER_NOT_SUBSCRIBED", 403, VibeForbiddenError),
    ("BOT_OWNERSHIP_ERROR", 403, VibeForbiddenError),
    ("BOT_TYPE_NOT_ALLOWED", 403, VibeForbiddenError),
    ("ACCESS_DENIED", 403, VibeForbiddenError),
    ("MESSAGE_ACCESS_DENIED", 403, VibeForbiddenError),
    ("FILE_ACCESS_ERROR", 403, VibeForbiddenError),
    ("MESSAGE_NOT_FOUND", 404, VibeNotFoundError),
    ("FILE_NOT_FOUND", 404, VibeNotFoundError),
    ("REACTION_NOT_FOUND", 404, VibeNotFoundError),
    ("REACTION_ALREADY_SET", 409, VibeConflictError),
    ("BOT_CODE_ALREADY_TAKEN", 409, VibeConflictError),
    ("BOT_CODE_REQUIRED", 400, VibeBadRequestError),
    ("BOT_PROPERTIES_REQUIRED", 400, VibeBadRequestError),
    ("BOT_INVALID_TYPE", 400, VibeBadRequestError),
    ("BOT_ID_REQUIRED", 400, VibeBadRequestError),
    ("BOT_TOKEN_INVALID_LENGTH", 400, VibeBadRequestError),
    ("EMPTY_MESSAGE", 400, VibeBadRequestError),
    ("ATTACH_ERROR", 400, VibeBadRequestError),
    ("ATTACH_OVERSIZE", 400, VibeBadRequestError),
    ("COMMAND_NAME_INVALID", 400, VibeBadRequestError),
    ("COMMAND_REQUIRED", 400, VibeBadRequestError),
    ("COMMAND_TITLE_REQUIRED", 400, VibeBadRequestError),
    ("FILE_EMPTY", 400, VibeBadRequestError),
    ("FILE_INVALID_CONTENT", 400, VibeBadRequestError),
    ("FILE_TOO_LARGE", 400, VibeBadRequestError),
    ("SENDING_FAILED", 500, VibeServerError),
    ("COMMAND_REGISTER_FAILED", 500, VibeServerError),
    ("COMMAND_ANSWER_FAILED", 500, VibeServerError),
    ("FILE_FOLDER_ERROR", 500, VibeServerError),
    ("FILE_UPLOAD_FAILED", 500, VibeServerError),
    ("FILE_SEND_FAILED", 500, VibeServerError),
]
SANDBOX_CODES = [
    ("TOKEN_INVALID", 401, VibeSessionExpiredError),
    ("NOT_FOUND", 404, VibeNotFoundError),
    ("METHOD_NOT_ALLOWED", 405, VibeBadRequestError),
    ("INVALID_JSON", 400, VibeBadRequestError),
    ("INVALID_REQUEST", 400, VibeBadRequestError),
    ("PAYLOAD_TOO_LARGE", 413, VibeBadRequestError),
    ("CHAT_NOT_FOUND", 404, VibeNotFoundError),
    ("USER_NOT_FOUND", 404, VibeNotFoundError),
    ("COMMAND_NOT_FOUND", 404, VibeNotFoundError),
    ("PORTAL_NOT_FOUND", 404, VibeNotFoundError),
    ("DIALOG_ID_INVALID", 400, VibeBadRequestError),
    ("BOT_LIMIT_REACHED", 400, VibeBadRequestError),
]
ALL_CODES = REFERENCE_CODES + CONTRACT_CODES + SANDBOX_CODES


@pytest.mark.parametrize(("code", "status", "expected"), ALL_CODES, ids=[row[0] for row in ALL_CODES])
def test_each_known_code_raises_its_class_with_the_answer_kept(code, status, expected):
    response = answer(status, error_body(code, "Что-то пошло не так", hint="try again"))
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(response)
    error = caught.value
    assert type(error) is expected
    assert (error.status, error.code, error.message, error.hint) == (
        status,
        code,
        "Что-то пошло не так",
        "try again",
    )
    assert (error.method, error.path) == ("POST", "/v1/bots/5/messages")


def test_the_reference_tables_are_all_covered():
    reference = Path("/work/shared/vibecode/bot-platform-reference.txt")
    if not reference.exists():
        pytest.skip("the reference is not on this machine")
    table = (
        reference.read_text(encoding="utf-8").split("#Error codes", 1)[1].split("#Endpoint reference", 1)[0]
    )
    codes_in_reference = set(re.findall(r"^([A-Z][A-Z_]+) \|$", table, re.MULTILINE))
    assert codes_in_reference == {code for code, _, _ in REFERENCE_CODES}


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("REACTION_NOT_FOUND", 400, VibeNotFoundError),  # the code wins over a plain 400
        ("TOKEN_EXPIRED", 403, VibeSessionExpiredError),
        ("RATE_LIMITED", 503, VibeRateLimitError),
        ("BITRIX_UNAVAILABLE", 200, VibeServerError),  # an error envelope with a 200 is still an error
    ],
)
def test_the_code_decides_before_the_status(code, status, expected):
    with pytest.raises(expected):
        raise_for_response(answer(status, error_body(code)))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, VibeBadRequestError),
        (401, VibeAuthError),
        (403, VibeForbiddenError),
        (404, VibeNotFoundError),
        (409, VibeConflictError),
        (410, VibeNotFoundError),
        (413, VibeBadRequestError),
        (422, VibeBadRequestError),
        (429, VibeRateLimitError),
        (500, VibeServerError),
        (502, VibeServerError),
        (503, VibeServerError),
        (504, VibeServerError),
    ],
)
def test_an_unknown_code_lands_in_the_family_of_its_status(status, expected):
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(answer(status, error_body("SOMETHING_NEW_2027")))
    assert type(caught.value) is expected
    assert caught.value.code == "SOMETHING_NEW_2027"


@pytest.mark.parametrize(
    ("message", "expected", "code"),
    [
        # `wrapped-bitrix-errors`: imbot.v2's refusal passed on inside the reference's BITRIX_ERROR.
        ("COMMAND_NOT_FOUND: The bot has no command 3", VibeNotFoundError, "COMMAND_NOT_FOUND"),
        ("REACTION_ALREADY_SET: The reaction is set", VibeConflictError, "REACTION_ALREADY_SET"),
        ("ACCESS_DENIED: The bot is not a member of this chat", VibeForbiddenError, "ACCESS_DENIED"),
        ("EMPTY_MESSAGE: Nothing to send", VibeBadRequestError, "EMPTY_MESSAGE"),
        # Bitrix24's own failure, or a code that is no refusal of one call: the passing failure it was.
        ("Error in the Bitrix24 API response", VibeServerError, "BITRIX_ERROR"),
        ("INTERNAL_ERROR: Bitrix24 failed", VibeServerError, "BITRIX_ERROR"),
        ("RATE_LIMIT: too many", VibeServerError, "BITRIX_ERROR"),
        ("BOT_NOT_FOUND: the platform's own code", VibeServerError, "BITRIX_ERROR"),
        ("SOMETHING_NEW_2027: not a code we know", VibeServerError, "BITRIX_ERROR"),
        ("The answer said COMMAND_NOT_FOUND: later", VibeServerError, "BITRIX_ERROR"),
    ],
)
def test_a_bitrix_error_quoting_a_known_refusal_is_read_as_that_refusal(message, expected, code):
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(answer(502, error_body("BITRIX_ERROR", message)))
    assert type(caught.value) is expected
    assert (caught.value.code, caught.value.status, caught.value.message) == (code, 502, message)
    # What it is counted as (ops' answers by status class): the refusal's own 4xx, else the 502 it was.
    passed_on = code != "BITRIX_ERROR"
    assert caught.value.wrapped_in == ("BITRIX_ERROR" if passed_on else None)
    assert caught.value.answered_status == (expected.plain_status if passed_on else 502)
    assert 400 <= caught.value.answered_status < 500 if passed_on else True


def test_only_a_bitrix_error_is_read_for_a_quoted_code():
    with pytest.raises(VibeServerError) as caught:
        raise_for_response(answer(502, error_body("BITRIX_UNAVAILABLE", "CHAT_NOT_FOUND: no")))
    assert caught.value.code == "BITRIX_UNAVAILABLE"


@pytest.mark.parametrize(("alias", "canonical"), sorted(CODE_ALIASES.items()))
def test_aliases_name_the_reference_code(alias, canonical):
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(answer(401, error_body(alias)))
    assert caught.value.code == alias
    assert caught.value.canonical_code == canonical


def test_a_session_error_is_an_auth_error_so_auth_handlers_catch_it():
    assert issubclass(VibeSessionExpiredError, VibeAuthError)
    assert issubclass(VibeKeyRefusedError, VibeAuthError)  # a refusal all the same; whose, the class says


def test_rate_limit_reads_retry_after_from_the_body_first():
    response = answer(429, error_body("RATE_LIMITED", retryAfter=2), headers={"Retry-After": "7"})
    with pytest.raises(VibeRateLimitError) as caught:
        raise_for_response(response)
    assert caught.value.retry_after == 2.0
    assert caught.value.is_transient


def test_rate_limit_falls_back_to_the_retry_after_header_in_seconds():
    with pytest.raises(VibeRateLimitError) as caught:
        raise_for_response(answer(429, error_body("RATE_LIMIT"), headers={"Retry-After": "3"}))
    assert caught.value.retry_after == 3.0


def test_rate_limit_understands_a_retry_after_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    with pytest.raises(VibeRateLimitError) as caught:
        raise_for_response(answer(429, error_body("RATE_LIMIT"), headers={"Retry-After": when}))
    assert 25 <= (caught.value.retry_after or 0) <= 31


def test_bot_already_exists_exposes_the_flat_existing_bot_id():
    body = {**error_body("BOT_ALREADY_EXISTS"), "data": {"botId": 42}}
    with pytest.raises(VibeBotAlreadyExistsError) as caught:
        raise_for_response(answer(409, body))
    assert caught.value.existing_bot_id == 42


def test_bot_already_exists_reads_the_id_inside_the_error_object_too():
    with pytest.raises(VibeBotAlreadyExistsError) as caught:
        raise_for_response(answer(409, error_body("BOT_ALREADY_EXISTS", botId="42")))
    assert caught.value.existing_bot_id == 42


def test_bot_already_exists_without_an_id_means_another_key_holds_the_code():
    with pytest.raises(VibeBotAlreadyExistsError) as caught:
        raise_for_response(answer(409, error_body("BOT_ALREADY_EXISTS")))
    assert caught.value.existing_bot_id is None


def test_a_success_envelope_returns_its_data():
    assert raise_for_response(answer(200, {"success": True, "data": {"id": 1502, "uuidMap": []}})) == {
        "id": 1502,
        "uuidMap": [],
    }
    assert raise_for_response(answer(201, {"success": True, "data": {"bot": {"id": 42}}})) == {
        "bot": {"id": 42}
    }


HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


@pytest.mark.parametrize(
    ("status", "content", "headers", "expected"),
    [
        (502, HTML_502, {"Content-Type": "text/html"}, VibeServerError),
        (503, b"", {}, VibeServerError),
        (504, b"upstream timed out", {"Content-Type": "text/plain"}, VibeServerError),
        (500, b"{not json", {"Content-Type": "application/json"}, VibeServerError),
        (
            429,
            b"<html>slow down</html>",
            {"Content-Type": "text/html", "Retry-After": "4"},
            VibeRateLimitError,
        ),
        (200, b"", {}, VibeProtocolError),
        (200, b"<html>captive portal</html>", {"Content-Type": "text/html"}, VibeProtocolError),
        (200, b"\xff\xfe\x00garbage", {}, VibeProtocolError),
        (200, b'{"id": 5}', {"Content-Type": "application/json"}, VibeProtocolError),
        (200, b"[1, 2, 3]", {"Content-Type": "application/json"}, VibeProtocolError),
        (200, b'{"success": false}', {"Content-Type": "application/json"}, VibeProtocolError),
        (404, b"<html>Not Found</html>", {"Content-Type": "text/html"}, VibeProtocolError),
        (401, b"", {}, VibeProtocolError),
        (302, b"", {"Location": "https://elsewhere.test/"}, VibeProtocolError),
    ],
    ids=[
        "html-502",
        "empty-503",
        "text-504",
        "broken-json-500",
        "html-429",
        "empty-200",
        "html-200",
        "binary-200",
        "json-not-envelope",
        "json-list",
        "failure-without-error",
        "html-404",
        "empty-401",
        "redirect",
    ],
)
def test_an_answer_outside_the_envelope_gets_a_clear_error(status, content, headers, expected):
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(answer(status, content=content, headers=headers))
    error = caught.value
    assert type(error) is expected
    assert error.code is None and error.status == status
    assert f"HTTP {status}" in str(error)


@pytest.mark.parametrize(
    ("status", "content", "transient"),
    [
        (413, b"<html><title>413 Request Entity Too Large</title></html>", False),
        (414, b"<html>414 Request-URI Too Large</html>", False),
        (431, b"", False),
        (403, b"<html>Forbidden</html>", True),
        (200, b"<html>captive portal</html>", True),
    ],
)
def test_a_proxy_refusing_the_requests_size_is_no_passing_failure(status, content, transient):
    """A proxy's own 413 or 431 (not the platform's envelope) was retried like a proxy's passing error page:
    the same request is refused again however often it goes. Another page of a proxy still passes."""
    with pytest.raises(VibeProtocolError) as caught:
        raise_for_response(answer(status, content=content, headers={"Content-Type": "text/html"}))
    assert caught.value.is_transient is transient
    assert is_retryable(caught.value, RetryClass.SAFE) is transient
    assert ("larger than something in the way" in str(caught.value)) is not transient


SPRING_404 = b'{"timestamp":"2026-01-01T00:00:00.000+00:00","status":404,"error":"Not Found","path":"/v1/x"}'


@pytest.mark.parametrize(
    ("status", "content", "content_type"),
    [
        (404, SPRING_404, "application/json"),
        (404, b"<pre>Cannot GET /v1/bots/1/chats/2</pre>", "text/html"),  # Express's own
        (405, b'{"status":405,"error":"Method Not Allowed"}', "application/json"),
        (410, b"", "text/plain"),
        (501, b"<html>501 Not Implemented</html>", "text/html"),
    ],
    ids=["spring-404", "express-404", "405", "410", "501"],
)
def test_a_routers_no_such_path_or_method_is_final_and_did_nothing(status, content, content_type):
    """Outside the envelope, no handler of the platform's ran: the same every time (read as passing, each
    such call went 4 times, and a post in doubt whose chat read met one held the bot's later events), and
    nothing was done, so the call is over and a write is not in doubt. Not the platform's refusal of
    anything of the caller's: no credential is dropped and no bot broken for it (refused_for_good)."""
    with pytest.raises(VibeProtocolError) as caught:
        raise_for_response(answer(status, content=content, headers={"Content-Type": content_type}))
    error = caught.value
    assert not error.is_transient and not is_retryable(error, RetryClass.SAFE)
    assert not error.may_have_acted and not error.leaves_in_doubt and error.call_is_over
    assert error.answered_in_the_way and not refused_for_good(error)
    assert "no such path or method" in str(error) and not error.concerns_bot


def test_the_platforms_own_404_stays_a_refusal_of_the_object():
    """Its envelope's 404 names what is not there (CHAT_NOT_FOUND): the platform's verdict, not in the way."""
    with pytest.raises(VibeNotFoundError) as caught:
        raise_for_response(answer(404, error_body("CHAT_NOT_FOUND")))
    assert not caught.value.answered_in_the_way and refused_for_good(caught.value)


@pytest.mark.parametrize(
    ("content", "headers", "said"),
    [
        (b'{"success": true, "da', {"Content-Type": "application/json"}, "JSON answer that does not parse"),
        (b"<html>welcome</html>", {"Content-Type": "text/html"}, "is the base URL right?"),
    ],
    ids=["json-cut-short", "another-server"],
)
def test_a_200_cut_short_is_not_blamed_on_the_base_url(content, headers, said):
    with pytest.raises(VibeProtocolError) as caught:
        raise_for_response(answer(200, content=content, headers=headers))
    assert said in str(caught.value)
    assert ("base URL" in str(caught.value)) is (said == "is the base URL right?")


def test_a_proxy_page_on_429_still_carries_the_retry_after_header():
    response = answer(429, content=b"<html>slow down</html>", headers={"Retry-After": "4"})
    with pytest.raises(VibeRateLimitError) as caught:
        raise_for_response(response)
    assert caught.value.retry_after == 4.0


def test_the_message_names_the_call_code_and_hint_but_never_the_query():
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(answer(404, error_body("BOT_NOT_FOUND", "No bot", hint="register it")))
    text = str(caught.value)
    assert text == "POST /v1/bots/5/messages -> 404 BOT_NOT_FOUND: No bot (hint: register it)"
    assert "offset" not in text
    assert repr(caught.value) == "VibeNotFoundError(status=404, code='BOT_NOT_FOUND', message='No bot')"


def test_an_error_keeps_and_says_an_excerpt_of_a_message_of_megabytes():
    """A platform's (or a proxy's) error of 4 MiB of words: the error kept them all, and each retry's log line
    and the bot's error column were handed all of it. The start of each is kept, and how long it was."""
    words = "BITRIX_ERROR: " + "x" * (4 * 2**20)
    body = {"success": False, "error": {"code": "C" * 2**20, "message": words, "hint": words}}
    with pytest.raises(VibeServerError) as caught:
        raise_for_response(answer(502, body))
    assert len(str(caught.value)) < 4000
    assert caught.value.message == f"BITRIX_ERROR: … ({len(words)} characters)"
    assert caught.value.hint is not None and len(caught.value.hint) < 1100
    assert caught.value.code is not None and len(caught.value.code) < 1100
    said = "the call was " + "made and failed " * 200
    with pytest.raises(VibeServerError) as caught:
        raise_for_response(answer(500, error_body("INTERNAL_ERROR", said)))
    assert caught.value.message.startswith("the call was made and failed made")


def test_an_excerpt_never_cuts_a_secret_so_that_its_start_escapes_the_scrub():
    """The scrub takes out a key or token whole (Transport._scrub): its first half, left by a cut at the
    excerpt's end, would have gone into the log line unredacted."""
    key = "vibe_api_" + "ab12" * 10
    words = "x " * 490 + f"key {key} refused" + " and so on" * 1000
    assert words.index(key) < 1000 < words.index(key) + len(key)
    with pytest.raises(VibeAuthError) as caught:
        raise_for_response(answer(401, error_body("INVALID_API_KEY", words)))
    caught.value.redact([key])
    assert key[:5] not in str(caught.value)
    assert caught.value.message.endswith(f"key … ({len(words)} characters)")


@pytest.mark.parametrize(
    ("status", "expected"), [(200, VibeProtocolError), (503, VibeServerError)], ids=["200", "503"]
)
def test_an_answer_declared_larger_than_the_limit_is_refused_before_any_of_it_is_read(status, expected):
    class NeverRead(httpx.SyncByteStream):
        def __iter__(self):
            raise AssertionError("the body was read")

    declared = {"Content-Length": str(MAX_ANSWER_BYTES + 1), "Content-Type": "application/json"}
    response = httpx.Response(status, headers=declared, stream=NeverRead(), request=REQUEST)
    with pytest.raises(expected, match="larger than 16 MiB") as caught:
        read_streamed(response)
    assert caught.value.status == status and caught.value.is_transient


def test_a_response_built_without_a_request_still_maps():
    with pytest.raises(VibeServerError) as caught:
        raise_for_response(httpx.Response(502, json=error_body("BITRIX_UNAVAILABLE")))
    assert caught.value.method == "" and str(caught.value).startswith("502 BITRIX_UNAVAILABLE")


@pytest.mark.parametrize(
    ("error_class", "transient"),
    [
        (VibeServerError, True),
        (VibeRateLimitError, True),
        (VibeBadRequestError, False),
        (VibeAuthError, False),
    ],
)
def test_only_rate_limits_and_server_failures_are_transient(error_class, transient):
    assert error_class(status=500, code="X", message="m").is_transient is transient


@pytest.mark.parametrize(
    ("response", "over"),
    [
        (answer(500, error_body("INTERNAL_ERROR")), True),
        (answer(502, error_body("BITRIX_UNAVAILABLE")), True),
        (answer(504, error_body("QUEUE_TIMEOUT")), False),  # the call may yet run from the queue
        (answer(502, content=b"<html>502 Bad Gateway</html>", headers={"content-type": "text/html"}), False),
        (answer(200, content=b'{"success": tr'), False),  # a proxy's or a cut answer: not the platform's word
    ],
    ids=["internal-error", "bitrix-unavailable", "queue-timeout", "proxy-page", "cut-short"],
)
def test_only_the_platforms_own_final_answer_says_the_call_is_over(response, over):
    """call_is_over decides whether a read made at once shows what a failed write did (skills/context.py)."""
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(response)
    assert caught.value.call_is_over is over


def test_a_transport_failure_never_says_the_call_is_over():
    assert VibeTransportError("timed out", sent=True).call_is_over is False


@pytest.mark.parametrize("odd", ["²", "٣", "4²", "-"])
def test_a_number_from_the_wire_is_ascii_digits_only(odd):
    """str.isdigit() takes "²", which int() refuses (a 409 naming such a bot raised ValueError), and "٣",
    which int() reads as 3: neither is a number as the platform writes one (an outside audit's find)."""
    body = {**error_body("BOT_ALREADY_EXISTS"), "data": {"botId": odd}}
    with pytest.raises(VibeBotAlreadyExistsError) as caught:
        raise_for_response(answer(409, body))
    assert caught.value.existing_bot_id is None
    assert as_int(odd, default=-1) == -1
    assert as_int("-12") == -12 and as_int(" 7 ") == 7


@pytest.mark.parametrize(
    ("field", "header", "seconds"),
    [
        (250, "1", 0.25),  # retry-after-ms: the header (HTTP's whole seconds) agrees with milliseconds only
        (1500, "2", 1.5),
        (999, "1", 0.999),
        (1, "1", 1.0),  # both say seconds
        (2, "7", 2.0),  # neither reading agrees: the body, as always
        (3, "2", 3.0),  # seconds within a second of the header: seconds
        (30, None, 30.0),  # a field alone is seconds (the contract's unit) ...
        (5000, None, 5.0),  # ... unless it is implausible as seconds (over 16 minutes for a rate limit)
        (None, "4", 4.0),
    ],
)
def test_a_rate_limits_wait_is_read_in_milliseconds_where_its_header_or_size_says_so(field, header, seconds):
    """The `retry-after-ms` dialect: read as seconds, a 250 ms wait kept a bot from the platform 250 s
    (capped at the backoff's maximum by the poller's cycle; raised at once by a client call, over its cap)."""
    extra = {} if field is None else {"retryAfter": field}
    with pytest.raises(VibeRateLimitError) as caught:
        raise_for_response(
            answer(
                429, error_body("RATE_LIMIT", **extra), headers={"Retry-After": header} if header else None
            )
        )
    assert caught.value.retry_after == pytest.approx(seconds)


def test_the_platform_s_words_cannot_start_a_log_line_of_their_own():
    """An attacker's probe: a platform (or a proxy) whose error text holds a line break wrote, in the text log
    format, a line of its own choosing that read as the app's ("… ERROR ops: key rotated"). Its controls are
    shown escaped; its words, Cyrillic included, as they came."""
    forged = "отказ\n2026-12-07 21:00:00,000 ERROR ops: the app key was rotated\r\u2028\x1b[31m"
    with pytest.raises(VibeApiError) as caught:
        raise_for_response(answer(500, error_body("INTERNAL_ERROR", forged, hint="a\nb")))
    text = str(caught.value)
    assert "\n" not in text and "\r" not in text and "\u2028" not in text and "\x1b" not in text
    assert "отказ\\n2026-12-07 21:00:00,000 ERROR ops" in text and "(hint: a\\nb)" in text
    assert caught.value.message == forged  # the error keeps what was said; only its text for a log escapes
