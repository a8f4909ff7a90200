"""The HTTP layer under VibeClient: auth headers, UTF-8 JSON, timeouts, the request budget and retries.

Every request carries `X-Api-Key`, plus `Authorization: Bearer <session token>` when the client was made
with a session token (a `vibe_app_` key needs it on every request, CONTRACT part A §4). The body is sent
as UTF-8 JSON bytes, so Cyrillic and emoji arrive byte for byte.

Retries (tenacity). Whether a failure is worth retrying is the error's own `is_transient`; whether a
retry is safe depends on the call, which each endpoint declares as a RetryClass:
- SAFE: reads, and IDEMPOTENT: writes whose repetition leaves the same state (updates, deletes, typing,
  a send carrying a templateId…): every transient failure is retried (a dropped or timed-out connection,
  5xx, 502 BITRIX_UNAVAILABLE, 429, an HTML page from a proxy).
- UNSAFE: writes that would happen twice (create a chat, upload a file…). Retried only when the error
  says the platform did not act (`may_have_acted` is False: the connection could not be opened, or a
  429). Otherwise it is raised at once: only the caller can decide (for instance check with a GET).
Waits come from botcore.vibe.backoff (exponential, full jitter, capped by VIBE_RETRY_MAX_WAIT); a 429
waits exactly its Retry-After (a longer one than the cap is not waited but raised, for the caller to
reschedule).
Every attempt spends one unit of the key's shared request budget first. A best-effort call the budget has
no room for is not sent: held to be sent later when the endpoint says it is worth it (held_calls.py: a
reaction, a read mark), dropped otherwise (a typing indicator, at DEBUG).
A request that cannot be put on the wire (a URL too long, a key or token no header may carry:
local_refusals.py) is refused before it spends the budget, as a VibeUnsendableRequestError: never retried.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from botcore.vibe.answers import read_answer, read_streamed
from botcore.vibe.backoff import retry_delay
from botcore.vibe.budget import NoBudget, Priority, RequestBudget, key_digest
from botcore.vibe.coerce import replace_lone_surrogates
from botcore.vibe.errors import (
    REDACTED,
    VibeApiError,
    VibeBudgetTimeoutError,
    VibeError,
    VibeRateLimitError,
    VibeTransportError,
    VibeUnsendableRequestError,
    quoted_forms,
)
from botcore.vibe.held_calls import HeldCall, HeldCalls
from botcore.vibe.hooks import held_call_went, platform_responded
from botcore.vibe.http_clients import call_deadline
from botcore.vibe.local_refusals import build_request, header_problem, sending_refusal, shown_path

log = logging.getLogger(__name__)
T = TypeVar("T")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def json_bytes(body: Mapping[str, Any]) -> bytes:
    """`body` as UTF-8 JSON; a lone surrogate in it, which UTF-8 cannot encode (the call raised
    UnicodeEncodeError, no VibeError), goes as U+FFFD: escaped as "\\ud83d", a strict parser refuses it."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return replace_lone_surrogates(text).encode()


class _Skipped:
    """What an attempt returns when the budget had no room for its best-effort call: nothing was sent."""


SKIPPED = _Skipped()


class RetryClass(enum.Enum):
    SAFE = "safe"
    IDEMPOTENT = "idempotent"
    UNSAFE = "unsafe"


def is_retryable(error: BaseException, retry_class: RetryClass) -> bool:
    """Whether `error` may be retried for a call of `retry_class` (see the module docstring)."""
    if not isinstance(error, VibeError) or not error.is_transient:
        return False
    if isinstance(error, VibeBudgetTimeoutError):
        return False  # it already waited as long as allowed; retrying would only multiply the wait
    return retry_class is not RetryClass.UNSAFE or not error.may_have_acted


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


class Transport:
    """Sends one platform call and returns its `data`, or raises a VibeError."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        session_token: str | None,
        http: httpx.Client,
        budget: RequestBudget | None = None,
        max_attempts: int = 4,
        retry_max_wait: float = 30.0,
        backoff_base: float = 0.25,
        deadline: float | None = None,
        sends_secret: str | None = None,
        default_priority: Priority = Priority.REPLY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.budget: RequestBudget = budget or NoBudget()
        self.max_attempts = max(1, max_attempts)
        self.retry_max_wait = retry_max_wait
        self._headers = {"X-Api-Key": api_key}
        if session_token:
            self._headers["Authorization"] = f"Bearer {session_token}"
        self._body_headers = {**self._headers, "Content-Type": JSON_CONTENT_TYPE}
        # A key or token no header may carry (a newline, a non-ASCII letter) fails every call alike: each is
        # refused before it spends the budget (local_refusals), as httpx or h11 would refuse it later.
        self._header_problem = header_problem(self._headers)
        # What a platform's answer or a transport failure may quote back and must never pass on: the key, the
        # token, and a secret the call sends in its body (an OAuth code is live until its exchange succeeds);
        # each also without its prefix (quoted_forms).
        self._secrets = quoted_forms(s for s in (api_key, session_token, sends_secret) if s)
        self._key_name: str | None = None
        self._backoff_base = backoff_base
        self.deadline = deadline  # time.monotonic() past which nothing is sent or waited for
        self.default_priority = default_priority  # a call's that names none (a post, a read for a post)
        self.held = HeldCalls()  # best-effort calls the budget had no room for, to be sent later
        # tenacity runs attempts 2..max_attempts; the first is made outside it (see request()), so its
        # attempt numbers are one behind ours.
        self._retrying = {
            retry_class: Retrying(
                stop=stop_after_attempt(self.max_attempts - 1),
                wait=lambda state: self._wait_after(_failure(state), state.attempt_number + 1),
                retry=retry_if_exception(lambda e, rc=retry_class: self._should_retry(e, rc)),  # type: ignore[misc]
                before_sleep=lambda state: self._log_retry(
                    _failure(state),
                    state.attempt_number + 1,
                    state.next_action.sleep if state.next_action else 0.0,
                ),
                reraise=True,
            )
            for retry_class in RetryClass
        }

    @property
    def key_name(self) -> str:
        """A digest naming the key (budget.key_digest), made on first use."""
        if self._key_name is None:
            self._key_name = key_digest(self._headers["X-Api-Key"])
        return self._key_name

    # --- one call ---------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        retry: RetryClass,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        priority: Priority | None = None,
        hold: bool = False,
        on_sending: Callable[[], None] | None = None,
    ) -> Any:
        """Send `method path` with a JSON `body`, retrying per `retry`; return the answer's `data`.

        `on_sending()` is called before each attempt's request is handed to the connection, once the budget
        has let it go and nothing else stands between it and the wire: a caller that must know whether a
        write may have reached the platform records it there (skills/posts_once.py, a post in doubt). If it
        raises, the request is not sent.

        A BEST_EFFORT call the budget has no room for is not sent now, and None is returned: with `hold` it
        is held (self.held) to be sent by send_held(), otherwise dropped. A held call is sent in order
        after those held before it, so one made while any is held is held too."""
        content = None if body is None else json_bytes(body)
        headers = self._headers if content is None else self._body_headers
        url = self.base_url + path
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = httpx.Timeout(timeout, connect=self.http.timeout.connect)
        if priority is None:
            priority = self.default_priority
        attempt = functools.partial(
            self._attempt, method, url, path, params, content, headers, extra, priority, on_sending
        )
        if self._header_problem is not None:
            raise VibeUnsendableRequestError(self._header_problem, method=method, path=shown_path(path))
        if hold and priority is Priority.BEST_EFFORT and len(self.held):
            return self._hold(attempt, retry, what=f"{method} {path}")
        data = self._with_retries(attempt, retry)
        if data is not SKIPPED:
            return data
        if hold:
            return self._hold(attempt, retry, what=f"{method} {path}")
        held_call_went("skipped")
        log.debug("%s %s dropped: the request budget had no room for it, and late it is no use", method, path)
        return None

    def _hold(self, attempt: Callable[[], Any], retry: RetryClass, *, what: str) -> None:
        self.held.hold(HeldCall(what=what, send=lambda: self._with_retries(attempt, retry) is not SKIPPED))

    def send_held(self, *, until: float | None = None) -> int:
        """Send the held best-effort calls, each when the budget has room, waiting for it until `until`
        (time.monotonic(); None: only while it has room now); returns how many are still held."""
        return self.held.send(room_in=self.budget.room_in, until=until)

    def _with_retries(self, attempt: Callable[[], T], retry: RetryClass) -> T:
        # The first attempt goes without tenacity: nearly every call succeeds at once, and this keeps the
        # retry machinery off the per-call cost (benchmarks/client_overhead.py).
        try:
            return attempt()
        except VibeError as error:
            if self.max_attempts == 1 or not self._should_retry(error, retry):
                raise
            wait = self._wait_after(error, 1)
            self._log_retry(error, 1, wait)
            time.sleep(wait)
        return self._retrying[retry](attempt)

    def _within_deadline(self, extra: Mapping[str, Any], *, method: str, path: str) -> Mapping[str, Any]:
        """The request's options with its timeouts cut to what is left before the deadline; past it, a
        VibeTransportError (nothing sent) the caller judges as any passing failure."""
        assert self.deadline is not None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise VibeTransportError(
                "the caller's deadline passed before the call", method=method, path=path, sent=False
            )
        timeout = extra.get("timeout", self.http.timeout)
        return {
            **extra,
            "timeout": httpx.Timeout(
                min(timeout.read or left, left), connect=min(timeout.connect or left, left)
            ),
        }

    def _attempt(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        headers: Mapping[str, str],
        extra: Mapping[str, Any],
        priority: Priority = Priority.REPLY,
        on_sending: Callable[[], None] | None = None,
    ) -> Any:
        # Built before the budget is spent: a request httpx refuses to build (a URL too long…) is not a call.
        request = build_request(
            self.http, method, url, shown_as=path, params=params, content=content, headers=headers, **extra
        )
        if not self.budget.acquire(priority=priority):
            return SKIPPED
        if on_sending is not None:
            # The last moment before the bytes may leave: what comes after is the deadline's check and opening
            # the connection, whose failures say nothing left (sent=False), and sending. Called before the
            # budget's wait, a worker killed in it left a record of a request that never went; called after
            # the deadline's check, a read it made (a post's chat, skills/posts_once.py) that ran past the
            # deadline let the request go with no time left for its answer.
            on_sending()
        if self.deadline is not None:
            timeout = self._within_deadline(extra, method=method, path=path)["timeout"]
            request.extensions["timeout"] = timeout.as_dict()  # as build_request(timeout=…) sets it
        try:
            with call_deadline(self.deadline):  # the status line and headers too (http_clients)
                response = self.http.send(request, stream=True)
        except httpx.LocalProtocolError:  # h11 refused a header before writing a byte; its text quotes it
            raise sending_refusal(method, path) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise self._transport_error(exc, method, url, sent=False) from None
        except httpx.TransportError as exc:
            raise self._transport_error(exc, method, url, sent=True) from None
        # What the observers (ops' counters: answers by class, 429s) hear once the answer is read: its status,
        # or the one its error stands for (a refusal passed on inside a 502 BITRIX_ERROR is a 4xx).
        answered = response.status_code
        try:
            try:
                # never more than MAX_ANSWER_BYTES of it, nor a byte past the caller's deadline
                with call_deadline(self.deadline):
                    data = read_answer(response)
            except httpx.TransportError as exc:  # the answer broke off
                raise self._transport_error(exc, method, url, sent=True) from None
            finally:
                response.close()
        except VibeApiError as error:
            answered = error.answered_status
            self.budget.record(limited=isinstance(error, VibeRateLimitError))
            self._scrub(error)
            raise
        finally:
            platform_responded(answered)
        self.budget.record(limited=False)
        return data

    # --- retry policy -----------------------------------------------------------------------------
    def _should_retry(self, error: BaseException, retry_class: RetryClass) -> bool:
        if not is_retryable(error, retry_class):
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False  # the caller's time is up: it judges the failure (and retries later) itself
        if not isinstance(error, VibeRateLimitError):
            return True
        # A Retry-After longer than we would ever wait is not worth blocking a worker, nor one that ends past
        # the caller's deadline: the caller reschedules, told the platform's 429 and its wait (waited out to
        # the deadline, the call failed as "deadline passed", and the wait asked for was lost).
        asked = error.retry_after or 0
        left = float("inf") if self.deadline is None else self.deadline - time.monotonic()
        return asked <= min(self.retry_max_wait, left)

    def _wait_after(self, error: BaseException | None, attempt_number: int) -> float:
        """Seconds to wait after failed attempt `attempt_number` (botcore.vibe.backoff decides)."""
        wait = retry_delay(error, attempt_number, base=self._backoff_base, cap=self.retry_max_wait)
        if self.deadline is not None:
            wait = min(wait, max(0.0, self.deadline - time.monotonic()))
        return wait

    def _log_retry(self, error: BaseException | None, attempt_number: int, wait: float) -> None:
        log.warning(
            "vibe call failed (%s); attempt %d of %d, retrying in %.2fs",
            error,
            attempt_number,
            self.max_attempts,
            wait,
        )

    # --- secrets never leave in messages ----------------------------------------------------------
    def _transport_error(self, exc: httpx.TransportError, method: str, url: str, *, sent: bool) -> VibeError:
        where = urlsplit(url).path  # the whole path, as an error answer's line gives it
        return VibeTransportError(
            self._describe(exc),
            method=method,
            path=where,
            sent=sent,
            read_timed_out=isinstance(exc, httpx.ReadTimeout),
        )

    def _describe(self, exc: httpx.TransportError) -> str:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return self._redact(text)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _scrub(self, error: VibeApiError) -> None:
        """The platform's own text could quote what we sent; our key and token never pass through."""
        error.redact(self._secrets)

    # --- downloads outside the API ----------------------------------------------------------------
    def fetch_bytes(self, url: str, *, max_bytes: int, too_large: Callable[[], VibeError]) -> bytes:
        """GET a URL the platform handed out (a file's downloadUrl) *without* our credentials, reading no
        more than `max_bytes` of it (past them, `too_large()` is raised: nothing more is read).

        The URL carries its own token; sending X-Api-Key to it would hand the key to whatever host it
        names. Retried like any read.
        """

        def attempt() -> bytes:
            try:
                request = build_request(self.http, "GET", url, shown_as="(download)")
                response = self.http.send(request, stream=True)
            except httpx.LocalProtocolError:
                raise sending_refusal("GET", "(download)") from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise VibeTransportError(
                    self._describe(exc), method="GET", path="(download)", sent=False
                ) from None
            except httpx.TransportError as exc:
                raise VibeTransportError(self._describe(exc), method="GET", path="(download)") from None
            try:
                if response.status_code != 200:
                    read_answer(response)  # raises the error it is
                return read_streamed(response, limit=max_bytes, too_large=too_large)
            except httpx.TransportError as exc:  # the file broke off
                raise VibeTransportError(self._describe(exc), method="GET", path="(download)") from None
            except VibeApiError as error:
                # Named by the URL's path, the error (and each retry's line) showed the token it carries.
                error.path = "(download)"
                raise
            finally:
                response.close()

        return self._with_retries(attempt, RetryClass.SAFE)

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        mode = "app key + session" if "Authorization" in self._headers else "personal key"
        return f"Transport(base_url={self.base_url!r}, auth={mode})"


__all__ = ["RetryClass", "Transport", "VibeError", "is_retryable"]
