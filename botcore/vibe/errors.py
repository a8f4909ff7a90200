"""The VibeError family, and raise_for_response(): the one place a platform answer becomes an error.

The platform answers `{"success": false, "error": {"code", "message", "hint"?, "retryAfter"?}}`
(CONTRACT part A §1). Errors are classified by code first and HTTP status second (part A §2), so a code
we have never heard of still lands in the right family, and the official docs' aliases (RATE_LIMITED,
MISSING_API_KEY, INVALID_APP_KEY, …) land where the reference's own codes do.

Nothing here ever holds a key, a session token or the request's headers: an error's text comes from the
platform's answer alone (and the transport scrubs even that of the caller's own secrets).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx


class VibeError(Exception):
    """Anything that went wrong talking to the VibeCode platform.

    Two properties answer, for the whole project, what may be done about it: `is_transient` (the same
    request may succeed later, so it is worth retrying after a backoff) and `may_have_acted` (the
    platform may have carried the request out, so a write without an idempotency key must not be re-sent).
    """

    @property
    def is_transient(self) -> bool:
        return False

    @property
    def may_have_acted(self) -> bool:
        return True


class VibeTransportError(VibeError):
    """The call got no usable HTTP answer: connection refused, timeout, connection dropped.

    `sent` is False only when the request surely never left (connect failure, pool timeout), which makes
    any call safe to retry; True means the platform may have received and acted on it.
    """

    def __init__(self, message: str, *, method: str = "", path: str = "", sent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.sent = sent

    @property
    def is_transient(self) -> bool:
        return True  # a dropped or refused connection says nothing about the next one

    @property
    def may_have_acted(self) -> bool:
        return self.sent

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}{self.message}"


class VibeApiError(VibeError):
    """The platform answered with an error: `status`, `code` and the rest of its error object."""

    def __init__(
        self,
        *,
        status: int,
        code: str | None,
        message: str,
        hint: str | None = None,
        retry_after: float | None = None,
        data: Mapping[str, Any] | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.retry_after = retry_after
        self.data: Mapping[str, Any] = data or {}
        self.method = method
        self.path = path

    @property
    def concerns_bot(self) -> bool:
        """The failure is the bot's own (deleted, or not this credential's), not one call's: no retry helps,
        and an operator or a re-provision must act."""
        return self.canonical_code in BOT_LEVEL_CODES

    @property
    def canonical_code(self) -> str | None:
        """The reference's name for `code` (RATE_LIMITED -> RATE_LIMIT, MISSING_API_KEY -> AUTH_REQUIRED, …)."""
        return CODE_ALIASES.get(self.code, self.code) if self.code else None

    def __str__(self) -> str:
        where = f"{self.method} {self.path} -> " if self.method else ""
        text = f"{where}{self.status} {self.code or 'no code'}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class VibeAuthError(VibeApiError):
    """The credentials were refused: missing, unknown or revoked key, a key without the imbot scope."""


class VibeSessionExpiredError(VibeAuthError):
    """The `vibe_app_` key needs a fresh session token: it expired, is missing, or is not this app's.

    Session tokens cannot be refreshed (CONTRACT part A §5): only a portal user opening the app again
    yields a new one, so the caller pauses and asks for it instead of retrying.
    """


class VibeForbiddenError(VibeApiError):
    """Valid credentials, but not for this object: another key's bot, a chat the bot is not in."""


class VibeNotFoundError(VibeApiError):
    """The bot, message, chat, command or file does not exist (or the path does not)."""


class VibeConflictError(VibeApiError):
    """The request clashes with the current state (already registered, reaction already set)."""


class VibeBotAlreadyExistsError(VibeConflictError):
    """409 BOT_ALREADY_EXISTS. `existing_bot_id` is the flat `data.botId` the platform returns.

    A 409 without `data.botId` means the code is held by a bot outside this key (CONTRACT part B §7.1),
    which no amount of adopting can fix: `existing_bot_id` is then None.
    """

    @property
    def existing_bot_id(self) -> int | None:
        value = self.data.get("botId")
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return None


class VibeBadRequestError(VibeApiError):
    """The request itself is wrong: a missing or malformed field, a body too large."""


class VibeRateLimitError(VibeApiError):
    """429: too many requests for this key. `retry_after` is the platform's wait, in seconds."""

    @property
    def is_transient(self) -> bool:
        return True

    @property
    def may_have_acted(self) -> bool:
        return False  # refused before anything happened, whatever the method


class VibeBudgetTimeoutError(VibeRateLimitError):
    """The client's own request budget for the key stayed spent past the longest allowed wait.

    Raised before anything is sent; a subclass of VibeRateLimitError so that callers back off the same
    way they do for the platform's 429.
    """


class VibeServerError(VibeApiError):
    """The platform or Bitrix24 behind it failed (500, 502 BITRIX_UNAVAILABLE, 504 QUEUE_TIMEOUT, …)."""

    @property
    def is_transient(self) -> bool:
        return True


class VibeProtocolError(VibeApiError):
    """The answer is not the platform's JSON envelope (HTML, garbage, empty): most often a wrong base URL
    or a proxy in the way.

    Transient: a proxy's error page passes, and a wrong base URL still ends in a failure once the caller's
    attempts are spent. The request may have reached the platform, so it counts as possibly acted on.
    """

    @property
    def is_transient(self) -> bool:
        return True


# The official errors page's names for the reference's codes (CONTRACT part A §2, part B §2).
CODE_ALIASES: dict[str, str] = {
    "RATE_LIMITED": "RATE_LIMIT",
    "MISSING_API_KEY": "AUTH_REQUIRED",
    "INVALID_APP_KEY": "TOKEN_MISSING",
    "INVALID_KEY": "INVALID_API_KEY",
}

BOT_LEVEL_CODES = frozenset({"BOT_NOT_FOUND", "BOT_ACCESS_DENIED", "BOT_OWNERSHIP_ERROR", "INVALID_BOT_ID"})
_SESSION_CODES = ("TOKEN_MISSING", "INVALID_APP_KEY", "TOKEN_EXPIRED", "TOKEN_INVALID")
_AUTH_CODES = (
    "AUTH_REQUIRED", "MISSING_API_KEY", "INVALID_API_KEY", "INVALID_KEY", "KEY_REVOKED", "SCOPE_DENIED",
    "OAUTH_REQUIRED", "USER_AUTH_REQUIRED", "BH_LOGIN_REQUIRED", "AUTH_ERROR", "SCOPE_ERROR",
    "BITRIX_ACCESS_DENIED", "MANAGEMENT_SCOPE_REQUIRED", "MANAGEMENT_KEY_NO_ENTITY_ACCESS",
    "WRITE_BLOCKED_READONLY_KEY",
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
    **dict.fromkeys(_SESSION_CODES, VibeSessionExpiredError),
    **dict.fromkeys(_FORBIDDEN_CODES, VibeForbiddenError),
    **dict.fromkeys(_NOT_FOUND_CODES, VibeNotFoundError),
    **dict.fromkeys(_CONFLICT_CODES, VibeConflictError),
    "BOT_ALREADY_EXISTS": VibeBotAlreadyExistsError,
    **dict.fromkeys(_BAD_REQUEST_CODES, VibeBadRequestError),
    **dict.fromkeys(_RATE_LIMIT_CODES, VibeRateLimitError),
    **dict.fromkeys(_SERVER_CODES, VibeServerError),
}


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


def parse_retry_after(value: object) -> float | None:
    """Seconds from a `retryAfter` field or a `Retry-After` header (delta-seconds or an HTTP date)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return max(0.0, float(value))
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _describe_body(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "no content type").split(";")[0].strip() or "no content type"
    size = len(response.content)
    return f"a non-JSON answer ({kind}, {size} bytes)" if size else "an empty answer"


def _decode_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


_NOT_JSON = object()


def _request_line(response: httpx.Response) -> tuple[str, str]:
    """The method and path (never the query or headers) of the request behind `response`, if known."""
    try:
        request = response.request
    except RuntimeError:  # a Response built by hand, without a request
        return "", ""
    return request.method, request.url.path


def raise_for_response(response: httpx.Response) -> Any:
    """Return the `data` of a successful answer, or raise the VibeApiError subclass the answer means.

    A body that is not the platform's JSON envelope raises VibeProtocolError, except on 429 and 5xx,
    where a proxy's HTML page still means "rate limited" or "server failed" and is classified by
    status (so retries treat it as the transient failure it is).
    """
    method, path = _request_line(response)
    status = response.status_code
    body = _decode_json(response)
    header_retry_after = parse_retry_after(response.headers.get("retry-after"))

    if isinstance(body, dict) and body.get("success") is True and 200 <= status < 300:
        return body.get("data")

    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and body.get("success") is False and isinstance(error, dict):
        code = error.get("code")
        code = str(code) if code not in (None, "") else None
        data = body.get("data") if isinstance(body.get("data"), dict) else error.get("data")
        if not isinstance(data, dict):
            data = {k: v for k, v in error.items() if k == "botId"}  # tolerate the id inside `error`
        retry_after = parse_retry_after(error.get("retryAfter"))
        hint = error.get("hint")
        cls = error_class_for(code, status)
        if status < 400 and cls is VibeBadRequestError and not code:
            cls = VibeProtocolError
        raise cls(
            status=status,
            code=code,
            message=str(error.get("message") or code or "error"),
            hint=str(hint) if hint else None,
            retry_after=retry_after if retry_after is not None else header_retry_after,
            data=data,
            method=method,
            path=path,
        )

    # Not the envelope at all.
    described = (
        "an answer outside the success/data envelope" if body is not _NOT_JSON else _describe_body(response)
    )
    if status == 429 or status >= 500:
        cls = error_class_for(None, status)
        message = f"HTTP {status} with {described}"
    else:
        cls = VibeProtocolError
        message = f"HTTP {status} with {described}; is the base URL right?"
    raise cls(
        status=status,
        code=None,
        message=message,
        retry_after=header_retry_after,
        method=method,
        path=path,
    )
