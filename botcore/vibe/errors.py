"""The VibeError family: what can go wrong talking to the platform, and what may be done about it.

Each error says whether it is worth retrying (`is_transient`) and whether the platform may have acted
(`may_have_acted`): the one place the project decides both for a platform failure (botcore/errors.py
adds the project's own). Which answer becomes which error is answers.py's job; what an answer outside the
platform's envelope means (a router's 404 or 405, a proxy's page or its 413) is settled by its status here, on
VibeProtocolError.

Nothing here ever holds a key, a session token or the request's headers: an error's text comes from the
platform's answer alone (and the transport scrubs even that of the caller's own secrets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from botcore.vibe.coerce import controls_escaped, is_digits

REDACTED = "<redacted>"  # what stands where an error's text quoted one of our secrets
# A credential's kind, its prefix (vibe_app_, vibe_api_, vibe_session_): a platform naming the key or token it
# refused may print the random part after it alone, which no pattern knows as a secret.
_KIND_PREFIX = re.compile(r"vibe_[a-z]+_")
_SHORTEST_QUOTED_PART = 8  # shorter, the part would blot out words that merely hold it


def quoted_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each of `secrets` as an answer may quote it: whole, and its part after the kind's prefix; longest
    first, so the whole is taken out before its part."""
    forms = set()
    for secret in secrets:
        forms.add(secret)
        if (kind := _KIND_PREFIX.match(secret)) and len(secret) - kind.end() >= _SHORTEST_QUOTED_PART:
            forms.add(secret[kind.end() :])
    return tuple(sorted(forms, key=len, reverse=True))


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

    @property
    def leaves_in_doubt(self) -> bool:
        """Whether a write that met this error may or may not have happened, and will be tried again later
        (the two properties above together): a once-only action records it as in doubt (skills/posts_once.py,
        skills/actions.py)."""
        return self.is_transient and self.may_have_acted

    @property
    def answered_in_the_way(self) -> bool:
        """Whether the answer came from something in the way (a proxy's page, a router's 404:
        VibeProtocolError), not the platform's verdict: it refused nothing of the caller's, so no credential
        is dropped (botcore.vibe.identity) and no bot broken for an operator (botcore.errors.refused_for_good)
        for it."""
        return False

    @property
    def call_is_over(self) -> bool:
        """Whether the platform is done with the call, so a read made now shows all it did: its own error
        answer. Not a timeout or a dropped connection, nor a proxy's page: the call may still be running
        behind them, and what it posts can land after any read."""
        return False


class VibeTransportError(VibeError):
    """The call got no usable HTTP answer: connection refused, timeout, connection dropped.

    `sent` is False only when the request surely never left (connect failure, pool timeout), which makes
    any call safe to retry; True means the platform may have received and acted on it.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        sent: bool = True,
        read_timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.sent = sent
        self.read_timed_out = (
            read_timed_out  # sent, and no answer (or no more of it) came within the read timeout
        )

    @property
    def is_transient(self) -> bool:
        return True  # a dropped or refused connection says nothing about the next one

    @property
    def may_have_acted(self) -> bool:
        return self.sent

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}{self.message}"


class VibeUnsendableRequestError(VibeError):
    """A request refused here, before anything was sent: it cannot be put on the wire as it stands.

    A URL too long or holding what no URL carries (a dialog id of 100,000 digits, a lone surrogate), a
    header value HTTP does not allow (a key or session token with a newline, a NUL, a non-ASCII letter, a
    space at its end). The same request is refused again however often it is made, so it is never retried,
    and the platform never saw it. `reason` says what was wrong and where, never the value: a header's is a
    credential, and a URL may carry a token (a file's download URL).
    """

    def __init__(self, reason: str, *, method: str = "", path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.method = method
        self.path = path
        self.sent = False

    @property
    def may_have_acted(self) -> bool:
        return False  # nothing left this process

    @property
    def call_is_over(self) -> bool:
        return True  # there was no call: a read now shows all it did (nothing)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}not sent: {self.reason}"


class VibeFileTooLargeError(VibeError):
    """A file a download was asked for is larger than the caller takes (`limit` bytes): not fetched, or not
    fetched further than the limit. No retry helps; the skill says so to the person instead."""

    def __init__(self, *, file_id: int, limit: int, size: int | None = None) -> None:
        self.file_id = file_id
        self.limit = limit
        self.size = size  # as the platform told it, None when only the bytes sent showed it
        told = f" ({size} bytes)" if size is not None else ""
        super().__init__(f"file {file_id}{told} is larger than {limit} bytes: not downloaded")

    @property
    def may_have_acted(self) -> bool:
        return False  # a read


class VibeApiError(VibeError):
    """The platform answered with an error: `status`, `code` and the rest of its error object.

    `wrapped_in`: the platform's own code (BITRIX_ERROR) where `code` is imbot.v2's refusal it passed on
    inside it (answers.passed_on_refusal, the sandbox's `wrapped-bitrix-errors`); `status` stays the HTTP one.
    """

    # The status a refusal of this family has when the platform answers it plainly (the reference's tables):
    # what one passed on inside a BITRIX_ERROR stands for (answered_status).
    plain_status: ClassVar[int | None] = None

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
        wrapped_in: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.wrapped_in = wrapped_in
        self.code = code
        self.message = message
        self.hint = hint
        self.retry_after = retry_after
        self.data: Mapping[str, Any] = data or {}
        self.method = method
        self.path = path

    @property
    def answered_status(self) -> int:
        """The status the answer stands for: the HTTP one, except for imbot.v2's refusal passed on inside the
        platform's BITRIX_ERROR (`wrapped_in`), which is a refusal of this one call (its family's plain 4xx),
        not the platform failing: what the answers are counted as (botcore.vibe.hooks, ops' metrics)."""
        if self.wrapped_in and self.plain_status is not None:
            return self.plain_status
        return self.status

    @property
    def concerns_bot(self) -> bool:
        """The failure is the bot's own (deleted, or not this credential's), not one call's: no retry helps,
        and an operator or a re-provision must act. The one place that reads the bot-level codes so.

        INVALID_BOT_ID is the bot's only where the path's bot id was not a number: CONTRACT A §9 answers a
        non-numeric message, command or file id with it too, and the client sends the bot's id as a number
        always, so there it is one call's bad request (the bot was stopped and shown broken for it)."""
        code = self.canonical_code
        if code == "INVALID_BOT_ID" and _sent_bot_id_as_a_number(self.path):
            return False
        return code in BOT_LEVEL_CODES

    @property
    def says_bot_gone(self) -> bool:
        """The platform's word that the bot is not there (BOT_NOT_FOUND): unregistered, or never known, so no
        unregister is owed it. Not BOT_ACCESS_DENIED: that bot is there, under another key (or another
        portal's session), which a later unregister may yet reach."""
        return self.canonical_code in BOT_GONE_CODES

    @property
    def refuses_offset(self) -> bool:
        """The platform will not take the offset the events call sent (one it no longer knows, or past its
        bound): no retry of that offset helps."""
        return self.canonical_code == "INVALID_OFFSET"

    @property
    def call_is_over(self) -> bool:
        # The envelope is the platform's own word; a queue timeout says the call may yet run from its queue.
        return self.code is not None and self.canonical_code not in STILL_QUEUED_CODES

    @property
    def canonical_code(self) -> str | None:
        """The reference's name for `code` (RATE_LIMITED -> RATE_LIMIT, MISSING_API_KEY -> AUTH_REQUIRED…)."""
        return CODE_ALIASES.get(self.code, self.code) if self.code else None

    def redact(self, secrets: Iterable[str | None]) -> None:
        """Take each of `secrets` (what the call sent: the key, the token) out of all that the platform's
        answer put in this error: its message, hint and code (its text, as str() shows it) and every string
        of its `data`, keys too, however deeply nested."""
        for secret in filter(None, secrets):
            self.message = self.message.replace(secret, REDACTED)
            self.hint = self.hint.replace(secret, REDACTED) if self.hint else self.hint
            self.code = self.code.replace(secret, REDACTED) if self.code else self.code
            self.data = _without(self.data, secret)
        self.args = (self.message,)

    def __str__(self) -> str:
        # The platform's words go into log lines as they are written (text format): escaped, a line break in
        # them cannot start a line of the platform's choosing that reads as the app's.
        where = f"{self.method} {self.path} -> " if self.method else ""
        text = f"{where}{self.status} {self.code or 'no code'}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return controls_escaped(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


# The bot id in a call's path (/v1/bots/42/messages/abc: "42"), as an answer's request line gives the path.
_PATH_BOT_ID = re.compile(r"/bots/([^/]+)")


def _sent_bot_id_as_a_number(path: str) -> bool:
    """Whether the call's path named its bot by a number (the only way bot_path writes one)."""
    named = _PATH_BOT_ID.search(path)
    return named is not None and is_digits(named.group(1))


def _without(value: Any, secret: str) -> Any:
    """`value`, an answer's JSON, with `secret` taken out of each of its strings (a mapping's keys too)."""
    if isinstance(value, str):
        return value.replace(secret, REDACTED)
    if isinstance(value, Mapping):
        return {_without(key, secret): _without(item, secret) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without(item, secret) for item in value]
    return value


class VibeAuthError(VibeApiError):
    """The credentials were refused: missing, unknown or revoked key, a key without the imbot scope."""


class VibeKeyRefusedError(VibeAuthError):
    """The key itself was refused (missing, unknown, revoked, without the imbot scope): the reference's
    system errors. With a `vibe_app_` key that is the app's one key, which every portal's calls share: a
    portal user's session is not what the platform refused."""


# A key refusal a platform may also give a session it refuses (an expired one answered "invalid key"): whether
# the key itself was refused is then asked of the platform (botcore.vibe.identity.refuses_app_key_itself).
SESSION_AMBIGUOUS_CODES = frozenset({"INVALID_API_KEY"})


def refuses_app_key(error: BaseException, *, with_session: bool) -> bool:
    """Whether `error` refused the app's own key rather than the session a call carried (`with_session`):
    the session is then still good, and every portal's session calls are refused alike until an operator
    fixes VIBE_APP_KEY. Without a session the key refused is the call's own credential."""
    return with_session and isinstance(error, VibeKeyRefusedError)


class VibeSessionExpiredError(VibeAuthError):
    """The `vibe_app_` key needs a fresh session token: it expired, is missing, or is not this app's.

    Session tokens cannot be refreshed (CONTRACT part A §5): only a portal user opening the app again
    yields a new one, so the caller pauses and asks for it instead of retrying.
    """


class VibeForbiddenError(VibeApiError):
    """Valid credentials, but not for this object: another key's bot, a chat the bot is not in."""

    plain_status = 403


class VibeNotFoundError(VibeApiError):
    """The bot, message, chat, command or file does not exist (or the path does not)."""

    plain_status = 404


class VibeConflictError(VibeApiError):
    """The request clashes with the current state (already registered, reaction already set)."""

    plain_status = 409


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
        if isinstance(value, str) and is_digits(value):
            return int(value)
        return None


class VibeBadRequestError(VibeApiError):
    """The request itself is wrong: a missing or malformed field, a body too large."""

    plain_status = 400


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

    @property
    def bitrix_answered(self) -> bool:
        """The platform's own word that Bitrix24 answered the call with an error (BITRIX_ERROR): the method
        did not run. It may be a passing failure, or Bitrix24's refusal of this very call, which a platform
        may pass on so instead of imbot.v2's own code (the sandbox's `wrapped-bitrix-errors`): one whose
        message quotes a known refusal's code is read as that refusal already (answers.py)."""
        return self.canonical_code in NOT_RUN_CODES

    @property
    def may_have_acted(self) -> bool:
        # Bitrix24's error answer says the method did not do it. Its internal error, a queue timeout,
        # "Bitrix24 portal unavailable" (which third-party advice says to check with a GET before repeating a
        # write: CONTRACT B §2) or a code it does not name say nothing of how far the call got.
        return not self.bitrix_answered


class VibeProtocolError(VibeApiError):
    """The answer is not the platform's JSON envelope (HTML, garbage, empty, a web framework's own JSON such
    as Spring's `{"timestamp", "status": 404, "error": "Not Found", "path"}`): most often a wrong base URL or
    something in the way (a proxy, a router). What it means is settled here by its status, and only here:

    - 404, 405, 410, 501 (NO_HANDLER_STATUSES): no such path or method where the call went. The reference
      answers every refusal of its own in the envelope (404 `BOT_NOT_FOUND`, CONTRACT A §2), so a 404 outside
      it is never the platform's word on a bot, a chat or a message: it is the path, answered by whatever
      routes the request, before any handler of the platform's ran. The same path answers the same every time,
      so it is not transient, and nothing was done (`may_have_acted` False, `call_is_over` True: a chat read
      now shows all the call did, which is nothing). Read as passing, each such call was sent 4 times, and a
      post in doubt whose chat read met one held the bot's later events until its attempts ran out (300 s).
      The price: a proxy's 404 page during a deploy is read alike, so a call meeting it fails at once instead
      of waiting the deploy out. A poll backs off as after any failure (no stored event is lost), a reply
      fails its event with the reason, and since nothing of the caller's was refused (`answered_in_the_way`)
      no credential is dropped and no bot is broken for it: provisioning backs off and tries again.
    - 413, 414, 431 (REQUEST_TOO_LARGE_STATUSES): a refusal of the request's size by something in the way.
      The same request is refused again however often it is sent (an outside trial's one reply a proxy took
      for too large made 5 sends and 20 reaction calls over its retries): not transient. The request may
      have reached the platform, so it counts as possibly acted on.
    - any other (a 200 with a proxy's page, a 400 or 403 of a proxy's): transient, since a proxy's error page
      passes and a wrong base URL still ends in a failure once the caller's attempts are spent; possibly
      acted on. (On 429 and 5xx other than 501 such an answer is read by its status: answers.py.)

    Each reading is rehearsed by the sandbox (docs/sandbox.md): the `router-errors` dialect (every unknown
    path or method), the faults `router-404`, `router-405` (one chosen path), `html`, `proxy-413` and
    `proxy-431`.
    """

    @property
    def no_handler_ran(self) -> bool:
        """Whether the answer says the path or method is not there (NO_HANDLER_STATUSES): nothing was done."""
        return self.status in NO_HANDLER_STATUSES

    @property
    def is_transient(self) -> bool:
        return self.status not in REQUEST_TOO_LARGE_STATUSES and not self.no_handler_ran

    @property
    def may_have_acted(self) -> bool:
        return not self.no_handler_ran

    @property
    def call_is_over(self) -> bool:
        return self.no_handler_ran  # a router's answer: nothing runs behind it; a proxy's page may hide one

    @property
    def answered_in_the_way(self) -> bool:
        return True  # or the platform's success could not be read: a verdict on nothing of the caller's


# The official errors page's names for the reference's codes (CONTRACT part A §2, part B §2).
CODE_ALIASES: dict[str, str] = {
    "RATE_LIMITED": "RATE_LIMIT",
    "MISSING_API_KEY": "AUTH_REQUIRED",
    "INVALID_APP_KEY": "TOKEN_MISSING",
    "INVALID_KEY": "INVALID_API_KEY",
}

# Statuses by which something in the way (a proxy) refuses the request's size, its body (413), its URL (414)
# or its headers (431), in an answer of its own: no repeat of the same request passes (VibeProtocolError).
REQUEST_TOO_LARGE_STATUSES = frozenset({413, 414, 431})
# Statuses by which whatever routes the request says, outside the envelope, that no handler takes its path
# (404, 410) or method (405, 501): the same every time, and nothing was done (VibeProtocolError).
NO_HANDLER_STATUSES = frozenset({404, 405, 410, 501})
# Server errors that say the Bitrix24 method behind the call did not run (VibeServerError.may_have_acted).
NOT_RUN_CODES = frozenset({"BITRIX_ERROR"})
# Server errors after which the call may still run (VibeApiError.call_is_over).
STILL_QUEUED_CODES = frozenset({"QUEUE_TIMEOUT"})
BOT_LEVEL_CODES = frozenset({"BOT_NOT_FOUND", "BOT_ACCESS_DENIED", "BOT_OWNERSHIP_ERROR", "INVALID_BOT_ID"})
# The bot-level codes that say the bot is gone from the platform (VibeApiError.says_bot_gone).
BOT_GONE_CODES = frozenset({"BOT_NOT_FOUND"})


# imbot.v2's code where a platform passes Bitrix24's refusal on as its own BITRIX_ERROR, quoted at the start
# of the message ("COMMAND_NOT_FOUND: The bot has no command 3"): the sandbox's `wrapped-bitrix-errors`.
_QUOTED_CODE = re.compile(r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):")


def quoted_bitrix_code(code: str | None, message: str) -> str | None:
    """The imbot.v2 code a BITRIX_ERROR's message starts with (`REACTION_ALREADY_SET: …`); None for any other
    error, and for a message that quotes none ("Error in the Bitrix24 API response": Bitrix24's own failure,
    which stays a passing one). Which quoted codes are read as their refusal is answers.py's call."""
    if not code or CODE_ALIASES.get(code, code) not in NOT_RUN_CODES:
        return None
    quoted = _QUOTED_CODE.match(message.strip())
    return quoted.group(1) if quoted else None
