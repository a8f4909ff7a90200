"""Reading one HTTP answer of the platform: its `data`, or the VibeApiError it means (raise_for_response).

The platform answers `{"success": true, "data": …}` or `{"success": false, "error": {"code", "message",
"hint"?, "retryAfter"?}}` (CONTRACT part A §1). Errors are classified by code first and HTTP status
second (part A §2), so a code we have never heard of still lands in the right family, and the official
docs' aliases (RATE_LIMITED, MISSING_API_KEY, INVALID_APP_KEY, …) land where the reference's own codes do.

Nothing here ever holds a key, a session token or the request's headers: an error's text comes from the
platform's answer alone (and the transport scrubs even that of the caller's own secrets).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
import traceback
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from botcore.vibe.coerce import is_digits
from botcore.vibe.errors import (
    BOT_LEVEL_CODES,
    NO_HANDLER_STATUSES,
    REQUEST_TOO_LARGE_STATUSES,
    VibeApiError,
    VibeAuthError,
    VibeBadRequestError,
    VibeBotAlreadyExistsError,
    VibeConflictError,
    VibeError,
    VibeForbiddenError,
    VibeKeyRefusedError,
    VibeNotFoundError,
    VibeProtocolError,
    VibeRateLimitError,
    VibeServerError,
    VibeSessionExpiredError,
    quoted_bitrix_code,
)

_SESSION_CODES = ("TOKEN_MISSING", "INVALID_APP_KEY", "TOKEN_EXPIRED", "TOKEN_INVALID")
# Refusals of the key itself (the reference's "System errors", CONTRACT A §4): never of a session.
_KEY_CODES = (
    "AUTH_REQUIRED", "MISSING_API_KEY", "INVALID_API_KEY", "INVALID_KEY", "KEY_REVOKED", "SCOPE_DENIED",
    "MANAGEMENT_SCOPE_REQUIRED", "MANAGEMENT_KEY_NO_ENTITY_ACCESS", "WRITE_BLOCKED_READONLY_KEY",
)  # fmt: skip
_AUTH_CODES = (
    "OAUTH_REQUIRED", "USER_AUTH_REQUIRED", "BH_LOGIN_REQUIRED", "AUTH_ERROR", "SCOPE_ERROR",
    "BITRIX_ACCESS_DENIED",
)  # fmt: skip
_FORBIDDEN_CODES = (
    "BOT_ACCESS_DENIED", "BOT_OWNERSHIP_ERROR", "ACCESS_DENIED", "MESSAGE_ACCESS_DENIED", "FILE_ACCESS_ERROR",
    "BOT_TYPE_NOT_ALLOWED", "USER_NOT_SUBSCRIBED",
)  # fmt: skip
_NOT_FOUND_CODES = (
    "BOT_NOT_FOUND", "MESSAGE_NOT_FOUND", "CHAT_NOT_FOUND", "USER_NOT_FOUND", "COMMAND_NOT_FOUND",
    "FILE_NOT_FOUND", "REACTION_NOT_FOUND", "NOT_FOUND", "PORTAL_NOT_FOUND",
)  # fmt: skip
_CONFLICT_CODES = ("REACTION_ALREADY_SET", "BOT_CODE_ALREADY_TAKEN")
_BAD_REQUEST_CODES = (
    "CODE_REQUIRED", "NAME_REQUIRED", "INVALID_BOT_ID", "BOT_CODE_REQUIRED", "BOT_PROPERTIES_REQUIRED",
    "BOT_INVALID_TYPE", "BOT_ID_REQUIRED", "BOT_TOKEN_INVALID_LENGTH", "BOT_LIMIT_REACHED", "EMPTY_MESSAGE",
    "ATTACH_ERROR", "ATTACH_OVERSIZE", "KEYBOARD_ERROR", "COMMAND_NAME_INVALID", "COMMAND_REQUIRED",
    "COMMAND_TITLE_REQUIRED", "FILE_EMPTY", "FILE_INVALID_CONTENT", "FILE_TOO_LARGE", "DIALOG_ID_INVALID",
    "INVALID_JSON", "INVALID_REQUEST", "PAYLOAD_TOO_LARGE", "METHOD_NOT_ALLOWED",
)  # fmt: skip
_RATE_LIMIT_CODES = ("RATE_LIMIT", "RATE_LIMITED")
_SERVER_CODES = (
    "INTERNAL_ERROR", "BITRIX_ERROR", "BITRIX_UNAVAILABLE", "REGISTRATION_FAILED", "QUEUE_TIMEOUT",
    "ERROR_LOOP_DETECTED", "APP_RESOLVE_FAILED", "SENDING_FAILED", "COMMAND_REGISTER_FAILED",
    "COMMAND_ANSWER_FAILED", "FILE_FOLDER_ERROR", "FILE_UPLOAD_FAILED", "FILE_SEND_FAILED",
)  # fmt: skip

ERROR_CLASS_BY_CODE: dict[str, type[VibeApiError]] = {
    **dict.fromkeys(_AUTH_CODES, VibeAuthError),
    **dict.fromkeys(_KEY_CODES, VibeKeyRefusedError),
    **dict.fromkeys(_SESSION_CODES, VibeSessionExpiredError),
    **dict.fromkeys(_FORBIDDEN_CODES, VibeForbiddenError),
    **dict.fromkeys(_NOT_FOUND_CODES, VibeNotFoundError),
    **dict.fromkeys(_CONFLICT_CODES, VibeConflictError),
    "BOT_ALREADY_EXISTS": VibeBotAlreadyExistsError,
    **dict.fromkeys(_BAD_REQUEST_CODES, VibeBadRequestError),
    **dict.fromkeys(_RATE_LIMIT_CODES, VibeRateLimitError),
    **dict.fromkeys(_SERVER_CODES, VibeServerError),
}


# The families of imbot.v2's refusals of one call, whose codes a platform may pass on inside its BITRIX_ERROR
# (passed_on_refusal). The bot-level codes and BOT_ALREADY_EXISTS are the platform's own (the reference's
# tables): a message quoting one is not read as that refusal.
_PASSED_ON_FAMILIES = (VibeForbiddenError, VibeNotFoundError, VibeConflictError, VibeBadRequestError)
_NEVER_PASSED_ON = BOT_LEVEL_CODES | {"BOT_ALREADY_EXISTS"}


def passed_on_refusal(code: str | None, message: str) -> str | None:
    """The imbot.v2 refusal a BITRIX_ERROR stands for, where its message quotes one we know (`wrapped-bitrix-
    errors`: "COMMAND_NOT_FOUND: …"): the answer is then read as that refusal, status aside, so a delete of a
    command already gone, a reaction replayed or a chat never opened mean what their plain codes do, not
    Bitrix24's passing failure retried. A message quoting no known refusal leaves the BITRIX_ERROR as is."""
    quoted = quoted_bitrix_code(code, message)
    if quoted is None or quoted in _NEVER_PASSED_ON:
        return None
    family = ERROR_CLASS_BY_CODE.get(quoted)
    return quoted if family is not None and issubclass(family, _PASSED_ON_FAMILIES) else None


def error_class_for(code: str | None, status: int) -> type[VibeApiError]:
    """The family of an error: the code decides when we know it, else the HTTP status."""
    if code:
        known = ERROR_CLASS_BY_CODE.get(code.upper())
        if known is not None:
            return known
    if status == 401:
        return VibeAuthError
    if status == 403:
        return VibeForbiddenError
    if status in (404, 410):
        return VibeNotFoundError
    if status == 409:
        return VibeConflictError
    if status == 429:
        return VibeRateLimitError
    if status >= 500:
        return VibeServerError
    return VibeBadRequestError


# The longest wait read from an answer. A platform (or a proxy) asking for 10**400 seconds, "1e400" or a
# date in the year 10**20 means "not soon", and every caller caps a wait far below this; as a finite number
# each can still add it to a clock or round it up (an infinite one failed the tenants' Retry-After, a huge
# integer or year raised OverflowError out of the answer's reading instead of its 429).
MAX_RETRY_AFTER_SECONDS = 86_400.0


def parse_retry_after(value: object) -> float | None:
    """Seconds from a `retryAfter` field or a `Retry-After` header (delta-seconds or an HTTP date), within
    0..MAX_RETRY_AFTER_SECONDS; None when it says no number (NaN included)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _wait_within_bounds(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        return _wait_within_bounds(float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
        return _wait_within_bounds(moment.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):  # not a date, or one no clock holds
        return None


# A rate limit's or a queue's wait this long or longer, given in `error.retryAfter` alone, is taken for
# milliseconds: over 16 minutes is no wait a per-second limit asks for (`retry-after-ms`, docs/sandbox.md).
MILLISECONDS_FROM = 1000.0


def rate_limit_wait(field: object, header: str | None) -> float | None:
    """Seconds to wait, from an error's `retryAfter` field and the answer's `Retry-After` header: the one
    place that decides the field's unit (botcore.vibe.backoff decides what to do with the wait).

    The contract's field counts seconds, like the header (CONTRACT A §3); a platform may count the field in
    milliseconds (`retry-after-ms`), while HTTP fixes the header's unit at seconds. So the field is read as
    milliseconds where the header agrees with that reading (within its rounding to whole seconds) and not
    with seconds, or where no header comes and the field is MILLISECONDS_FROM or more; else as seconds.
    Where field and header disagree every way the field is kept, as before: the platform's own word.
    """
    given = parse_retry_after(field)
    said = parse_retry_after(header)
    if given is None:
        return said
    if said is not None:
        if abs(given - said) > 1 and abs(given / 1000 - said) <= 1:
            return given / 1000
        return given
    return given / 1000 if given >= MILLISECONDS_FROM else given


def _wait_within_bounds(seconds: float) -> float | None:
    if seconds != seconds:  # NaN
        return None
    return float(min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS))  # compared exactly: no int overflows


# What every call to the platform accepts (the transport's httpx client, the poller's watch, downloads): the
# encodings Inflate decodes, and no other, whatever httpx would add were brotli or zstandard installed. A poll
# of 100 events of messages is some 100 KiB of JSON, a tenth of it gzipped, and a platform behind a proxy
# compresses what it is allowed to; the bound below counts the answer decoded, a step at a time (Inflate),
# so a small body that unpacks a thousandfold is refused as it passes the bound, not after.
ACCEPT_ENCODING = "gzip, deflate"

# The most of one answer read from the platform. A full batch (1,000 events of long messages) is a few MiB;
# past this the answer is no platform's (a server or proxy that keeps sending), and reading on would hold
# the worker, and as much of its memory, for as long as the sender goes on.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class AnswerBody:
    """The body of a streamed answer, gathered chunk by chunk up to `limit` (MAX_ANSWER_BYTES): the one
    reading of an answer's size for the transport (httpx), the poller's watch (httpcore) and file downloads
    (their own limit and error)."""

    __slots__ = ("chunks", "inflate", "limit", "response", "size", "too_large")

    def __init__(
        self,
        response: httpx.Response,
        *,
        limit: int = MAX_ANSWER_BYTES,
        too_large: Callable[[], VibeError] | None = None,
    ) -> None:
        """Raises at once (see add) when the answer's Content-Length already says it is too large."""
        self.response = response
        self.limit = limit
        self.too_large = too_large  # None: _too_large (a bound method kept here would be a reference cycle)
        self.chunks: list[bytes] = []
        self.size = 0
        self.inflate = Inflate.for_answer(response)  # None: the answer comes as it is
        declared = response.headers.get("content-length", "")
        if is_digits(declared) and int(declared) > limit:
            raise self._over_limit()

    def add(self, chunk: bytes) -> None:
        """Keep `chunk`; past the limit, `too_large()` (by default the VibeApiError of an answer too large to
        read; no more is read: the caller closes the connection)."""
        self.size += len(chunk)
        if self.size > self.limit:
            self.chunks = []  # never read on: the error, and the frames of its traceback, keep none of it
            raise self._over_limit()
        self.chunks.append(chunk)

    def add_raw(self, chunk: bytes) -> None:
        """Keep `chunk` as it came on the wire: decoded first, a step at a time, where the answer is
        compressed (Inflate), so the limit counts what it decodes to."""
        if self.inflate is None:
            self.add(chunk)
        else:
            self.inflate.add(chunk, self)

    def content(self) -> bytes:
        return self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)

    def _over_limit(self) -> VibeError:
        return self.too_large() if self.too_large is not None else self._too_large()

    def _too_large(self) -> VibeApiError:
        described = f"an answer larger than {MAX_ANSWER_BYTES // 2**20} MiB (not read)"
        return _not_the_envelope(self.response, described, wrong_server=False)


class Inflate:
    """One answer's gzip or deflate body, decoded as it comes into its AnswerBody, no more than _INFLATE_STEP
    at a time (a small body may inflate a thousandfold: the limit is met as it is passed, not after; httpx's
    own decoder unpacked each chunk it read whole, 64 KiB of gzip into 64 MiB, before any limit saw it).
    deflate is read zlib-wrapped, as the RFC has it, or raw, as some servers send it (as httpx reads it)."""

    __slots__ = ("encoding", "inflater", "started")

    @classmethod
    def for_answer(cls, response: httpx.Response) -> Inflate | None:
        encoding = response.headers.get("content-encoding", "").strip().lower()
        return cls(encoding) if encoding in _WBITS else None  # another (br…): read as it came, as httpx does

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.inflater = zlib.decompressobj(_WBITS[encoding])
        self.started = False

    def add(self, chunk: bytes, body: AnswerBody) -> None:
        try:
            try:
                data = self.inflater.decompress(chunk, _INFLATE_STEP)
            except zlib.error:
                if self.started or self.encoding != "deflate":
                    raise
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
                data = self.inflater.decompress(chunk, _INFLATE_STEP)
            self.started = True
            body.add(data)
            while self.inflater.unconsumed_tail:
                body.add(self.inflater.decompress(self.inflater.unconsumed_tail, _INFLATE_STEP))
        except zlib.error:
            raise undecodable_answer(body.response) from None


_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_INFLATE_STEP = 1024 * 1024


def read_streamed(
    response: httpx.Response,
    *,
    limit: int = MAX_ANSWER_BYTES,
    too_large: Callable[[], VibeError] | None = None,
) -> bytes:
    """The decoded body of `response`, sent with stream=True, read no further than `limit` decoded (past it,
    the error AnswerBody raises; a caller's deadline bounds the reads themselves: http_clients.call_deadline).
    A body its Content-Encoding does not decode (a proxy's header on a plain body) is VibeProtocolError (or
    the 5xx's VibeServerError). The caller closes the response."""
    body = AnswerBody(response, limit=limit, too_large=too_large)
    if response.is_stream_consumed:  # read whole already (a transport that reads it, as httpx's mock does)
        for chunk in response.iter_bytes():
            body.add(chunk)
        return body.content()
    for chunk in response.iter_raw():  # decoded here, a step at a time (Inflate), not by httpx
        body.add_raw(chunk)
    return body.content()


def read_answer(response: httpx.Response) -> Any:
    """The `data` of `response`, sent with stream=True: read (read_streamed) and judged (raise_for_response).
    The caller closes the response.

    Whatever it raises keeps none of the answer: the frames of its traceback, which held the body read (up to
    MAX_ANSWER_BYTES) and its JSON, are cleared of their locals. An error outlives its call (the last of a
    call's retries reaches its caller, a log record may keep one), and each attempt at a wrong server's
    16 MiB page held its own through it. What the error says of the answer is in its text (a short excerpt
    of the platform's message: _excerpt), and its traceback still names every line it came through."""
    try:
        return raise_for_response(response, read_streamed(response))
    except Exception as error:  # an httpx error too (the answer broke off): the caller's error chains it
        traceback.clear_frames(error.__traceback__)  # not this frame's, still running: it holds no body
        raise


def undecodable_answer(response: httpx.Response) -> VibeApiError:
    """The error of an answer whose body its Content-Encoding does not decode (a proxy's header on a plain
    body): VibeProtocolError, or the 5xx's VibeServerError."""
    encoding = response.headers.get("content-encoding", "").strip() or "none"
    described = f"a body that does not decode as its Content-Encoding ({encoding[:40]}) says"
    return _not_the_envelope(response, described, wrong_server=False)


def _describe_body(response: httpx.Response, content: bytes) -> str:
    kind = response.headers.get("content-type", "no content type").split(";")[0].strip() or "no content type"
    size = len(content)
    if not size:
        return "an empty answer"
    if _says_json(response):
        return f"a JSON answer that does not parse, cut short or garbled ({size} bytes)"
    return f"a non-JSON answer ({kind}, {size} bytes)"


def _says_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "").lower()


def _decode_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the parser's depth: not an answer
        return _NOT_JSON


_NOT_JSON = object()


def _request_line(response: httpx.Response) -> tuple[str, str]:
    """The method and path (never the query or headers) of the request behind `response`, if known."""
    try:
        request = response.request
    except RuntimeError:  # a Response built by hand, without a request
        return "", ""
    return request.method, request.url.path


def raise_for_response(response: httpx.Response, content: bytes | None = None) -> Any:
    """Return the `data` of a successful answer, or raise the VibeApiError subclass the answer means.

    `content`: the body as read from a streamed answer (read_streamed); None reads `response.content`.
    A body that is not the platform's JSON envelope raises VibeProtocolError, except on 429 and 5xx,
    where a proxy's HTML page still means "rate limited" or "server failed" and is classified by
    status (so retries treat it as the transient failure it is).
    """
    method, path = _request_line(response)
    status = response.status_code
    if content is None:
        content = response.content
    if status == 204 and not content.strip():
        # No Content: a success with nothing in it. A platform answering an events call with none waiting so
        # was taken for the wrong server at every idle poll, and its bots backed off for minutes.
        return {}
    body = _decode_json(content)

    if isinstance(body, dict) and body.get("success") is True and 200 <= status < 300:
        return body.get("data")

    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and body.get("success") is False and isinstance(error, dict):
        code = error.get("code")
        code = _excerpt(str(code)) if code not in (None, "") else None
        data = body.get("data") if isinstance(body.get("data"), dict) else error.get("data")
        if not isinstance(data, dict):
            data = {k: v for k, v in error.items() if k == "botId"}  # tolerate the id inside `error`
        retry_after = rate_limit_wait(error.get("retryAfter"), response.headers.get("retry-after"))
        hint = error.get("hint")
        message = _excerpt(str(error.get("message") or code or "error"))
        passed_on = passed_on_refusal(code, message)
        wrapped_in, code = (code, passed_on) if passed_on else (None, code)
        cls = error_class_for(code, status)
        if status < 400 and cls is VibeBadRequestError and not code:
            cls = VibeProtocolError
        raise cls(
            status=status,
            code=code,
            message=message,
            hint=_excerpt(str(hint)) if hint else None,
            retry_after=retry_after,
            data=data,
            method=method,
            path=path,
            wrapped_in=wrapped_in,
        )

    if body is not _NOT_JSON:
        raise _not_the_envelope(response, "an answer outside the success/data envelope", wrong_server=False)
    # Not JSON at all is most often another server at the base URL; JSON cut short is not.
    wrong_server = not _says_json(response)
    raise _not_the_envelope(response, _describe_body(response, content), wrong_server=wrong_server)


# The most of an error answer's words (its message, hint, code) an error keeps: what an operator reads in a
# log line, an error column or a retry's warning. The platform's messages are a line; one of megabytes (a
# broken platform's, or a proxy's) was kept whole by the error, and written whole into each retry's log line.
_SHOWN_CHARS = 1000
# What a key, a token or a code may be made of: a cut inside one would leave its start, which the caller's
# scrub (of the whole secret alone: Transport._scrub) does not know for one, so the cut goes back past it.
_SECRET_LIKE_TAIL = re.compile(r"[\w\-.~+/=]+\Z")


def _excerpt(text: str) -> str:
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{_SECRET_LIKE_TAIL.sub('', text[:_SHOWN_CHARS])}… ({len(text)} characters)"


def _not_the_envelope(response: httpx.Response, described: str, *, wrong_server: bool) -> VibeApiError:
    """The error of an answer that is not the platform's envelope (`described` says what it is): by its
    status on 429 and 5xx other than 501, else VibeProtocolError."""
    method, path = _request_line(response)
    status = response.status_code
    message = f"HTTP {status} with {described}"
    cls: type[VibeApiError]
    target = _redirect_target(response) if 300 <= status < 400 else None
    if target:
        message += f", redirected to {target} (not followed: our key goes to the base URL alone)"
    if status in NO_HANDLER_STATUSES:
        # Not the platform's refusal of an object (its own are in the envelope): the path or method is not
        # there, the same every time (VibeProtocolError says what it means). A 501 too, unlike other 5xx.
        cls = VibeProtocolError
        message += ": no such path or method there (whatever routes the request said so, not the platform)"
        message += "; is the base URL right?" if wrong_server else ""
    elif status == 429 or status >= 500:
        cls = error_class_for(None, status)
    elif status in REQUEST_TOO_LARGE_STATUSES:
        cls = (
            VibeProtocolError  # not worth a retry (VibeProtocolError.is_transient): say why, not "base URL?"
        )
        message += ": the request is larger than something in the way (a proxy) takes"
    else:
        cls = VibeProtocolError
        message += "; is the base URL right?" if wrong_server else ""
    return cls(
        status=status,
        code=None,
        message=message,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        method=method,
        path=path,
    )


def _redirect_target(response: httpx.Response) -> str | None:
    """Where a redirect points, as scheme://host:port/path: never its query or credentials (a proxy may
    quote there what it was sent), so that an operator sees at once an http base URL sent on to https, or
    an API that moved."""
    location = response.headers.get("location", "").strip()
    if not location:
        return None
    try:
        parts = urlsplit(location)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is no number
        return None
    host = parts.hostname or ""
    where = f"{parts.scheme}://{host}{port}{parts.path}" if host else parts.path
    if len(where) > _REDIRECT_SHOWN:
        # Cut at a segment's end: a cut inside one showed the start of a token quoted there, which the
        # caller's scrub (the whole key or token only) left as it was.
        where = where[: where.rfind("/", 0, _REDIRECT_SHOWN) + 1] + "…"
    return where or None


_REDIRECT_SHOWN = 200
