"""The HTTP shell every platform endpoint shares: the JSON envelope, errors, body parsing, auth, bot lookup.

An endpoint module writes `async def handler(call: Call) -> dict | Created` under `@endpoint(...)`; this
module does everything around it, in the order the platform would: injected faults, the key, the rate
limit, the session, the scope, the path (the bot, its ownership, the form of the path's other ids), the
body. A `StateError` anywhere becomes the reference's code and status; anything unexpected becomes a plain
INTERNAL_ERROR, never a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from sandbox.auth import Caller, authenticate, find_key, require_scope
from sandbox.errors import ERRORS, OFFICIAL_NAMES, status_of
from sandbox.numbers import is_decimal
from sandbox.records import Bot
from sandbox.state import Platform, StateError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 40 * 1024 * 1024  # CONTRACT part A §10: the 40 MiB body cap


class ApiError(StateError):
    """A StateError with what only the HTTP layer adds: a status override, `data`, `retryAfter`."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        hint: str | None = None,
        data: dict | None = None,
        retry_after: int | None = None,
        status: int | None = None,
        retry_after_ms: int | None = None,
    ):
        super().__init__(code, message or ERRORS.get(code, (0, code))[1], hint=hint)
        self.data = data
        self.retry_after = retry_after
        self.status = status
        # `retry-after-ms`: error.retryAfter in milliseconds, while the Retry-After header keeps `retry_after`
        self.retry_after_ms = retry_after_ms


class InjectedResponse(Exception):
    """A fault that answers with `response` as it is, bypassing the envelope (see sandbox/faults.py)."""

    def __init__(self, response: Response) -> None:
        super().__init__("injected response")
        self.response = response


@dataclass
class Created:
    """A handler result answered with 201 (registration, CONTRACT part A §1)."""

    data: Any


@dataclass
class Call:
    request: Request
    platform: Platform
    caller: Caller | None
    body: dict = field(default_factory=dict)
    bot: Bot | None = None

    @property
    def query(self):
        return self.request.query_params

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])


Handler = Callable[[Call], Awaitable[Any]]


class PlatformJSONResponse(JSONResponse):
    """JSON as a platform writes it: UTF-8, and a lone surrogate (half an emoji a text was cut in) escaped as
    "\\ud83d", as JavaScript's JSON.stringify writes it; Starlette's own answer failed with a 500, and every
    events call after such an event did too."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def envelope_ok(data: Any, status: int = 200) -> Response:
    return PlatformJSONResponse({"success": True, "data": data}, status_code=status)


def envelope_error(error: StateError) -> Response:
    status = getattr(error, "status", None) or status_of(error.code)
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.hint:
        body["hint"] = error.hint
    retry_after = getattr(error, "retry_after", None)
    headers = {}
    if retry_after is not None:
        retry_after_ms = getattr(error, "retry_after_ms", None)
        body["retryAfter"] = retry_after if retry_after_ms is None else retry_after_ms
        headers["Retry-After"] = str(retry_after)  # HTTP's unit, whole seconds, in every dialect
    payload: dict[str, Any] = {"success": False, "error": body}
    data = getattr(error, "data", None)
    if data is not None:
        payload["data"] = data
    return PlatformJSONResponse(payload, status_code=status, headers=headers)


CLIENT_CLOSED = 499  # nginx's status for a request its caller gave up on: the call log's word for it


async def read_json_body(request: Request) -> dict:
    """The JSON object in the body; an empty body is `{}`. An oversized, non-JSON or non-object body is a
    4xx."""
    declared = request.headers.get("content-length")
    if declared is not None and is_decimal(declared) and int(declared) > MAX_BODY_BYTES:
        raise ApiError("PAYLOAD_TOO_LARGE")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError("PAYLOAD_TOO_LARGE")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError("INVALID_JSON", hint="Send UTF-8 JSON with Content-Type: application/json") from None
    if not isinstance(body, dict):
        raise ApiError("INVALID_REQUEST", "The request body must be a JSON object")
    return body


async def body_for_the_log(request: Request) -> dict:
    """The body of a call refused before its body was read, as the request log shows a body; {} where it
    would have been refused itself (not JSON, not an object, over the cap) or its caller hung up."""
    try:
        return await read_json_body(request)
    except (StateError, ClientDisconnect):
        return {}


def spoken_refusal(platform: Platform, error: StateError) -> StateError:
    """The refusal under the name the platform's dialects give it.

    `official-error-codes`: RATE_LIMIT, AUTH_REQUIRED and TOKEN_MISSING under the official errors page's
    names (sandbox.errors.OFFICIAL_NAMES), the rest of the answer as it was. `wrapped-bitrix-errors`: an
    imbot.v2 code (one in neither the reference's tables nor the sandbox's own request errors) is Bitrix24's
    answer passed on as the reference's 502 BITRIX_ERROR, "Error in the Bitrix24 API response", its code only
    in the message.
    """
    if error.code in OFFICIAL_NAMES and platform.speaks("official-error-codes"):
        return ApiError(
            OFFICIAL_NAMES[error.code],
            error.message,
            hint=error.hint,
            data=getattr(error, "data", None),
            retry_after=getattr(error, "retry_after", None),
            status=getattr(error, "status", None),
            retry_after_ms=getattr(error, "retry_after_ms", None),
        )
    if error.code in ERRORS or not platform.speaks("wrapped-bitrix-errors"):
        return error
    return ApiError("BITRIX_ERROR", f"{error.code}: {error.message}")


def is_path_id(raw: str) -> bool:
    """Whether a path segment is an id: 1-18 ASCII digits (a longer one overflows the platform's integers)."""
    return is_decimal(raw) and len(raw) <= 18


def parse_bot_id(raw: str) -> int:
    if not is_path_id(raw):
        raise ApiError("INVALID_BOT_ID")
    return int(raw)


# The numeric ids a path carries beside the bot's: each one's name, and the code `named-id-codes` refuses
# one that is not a number with. By default the refusal is CONTRACT part A §9's "a non-numeric id elsewhere
# → 400 INVALID_BOT_ID" (the reference's one code for a path id that is not a number), its message naming
# the id that is not ("messageId must be a number", as the reference's says "botId must be a number").
# Dialect `unchecked-path-ids` leaves them to the handler, which finds nothing under such an id (404), as
# imbot.v2 casting it would.
PATH_IDS = {
    "message_id": ("messageId", "INVALID_MESSAGE_ID"),
    "command_id": ("commandId", "INVALID_COMMAND_ID"),
    "file_id": ("fileId", "INVALID_FILE_ID"),
}


def check_path(platform: Platform, caller: Caller, request: Request) -> Bot | None:
    """The path's bot (resolved and its ownership checked) and the form of its other ids."""
    params = request.path_params
    bot = resolve_bot(platform, caller, str(params["bot_id"])) if "bot_id" in params else None
    if not platform.speaks("unchecked-path-ids"):
        for param, (name, named_code) in PATH_IDS.items():
            if param in params and not is_path_id(str(params[param])):
                code = named_code if platform.speaks("named-id-codes") else "INVALID_BOT_ID"
                raise ApiError(code, f"{name} must be a number")
    return bot


def resolve_bot(platform: Platform, caller: Caller, raw_id: str) -> Bot:
    """The bot in the path, if it exists and belongs to this key on this portal (CONTRACT part A §7)."""
    bot = platform.bots.get(parse_bot_id(raw_id))
    if bot is None:
        raise ApiError("BOT_NOT_FOUND")
    if bot.owner_key != caller.key.value or caller.portal is None or bot.portal_id != caller.portal.id:
        raise ApiError("BOT_ACCESS_DENIED")
    return bot


def endpoint(*, auth: str = "bot") -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler as a platform endpoint.

    auth="bot": key, session (app keys) and the imbot scope are required, and a `{bot_id}` in the path
    is resolved and checked for ownership; auth="key": a valid key, the session optional (GET /v1/me).
    """

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            services = request.app.state.services
            platform: Platform = services.platform
            record = services.calls.start(request)
            try:
                await services.faults.before(request)
                key = find_key(platform, request.headers.get("x-api-key"))
                record.key_kind, record.key_digest = key.kind, key.digest
                record.had_bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
                services.limiter.check(key, authorization=request.headers.get("authorization"))
                caller = authenticate(
                    platform, key, request.headers.get("authorization"), session_required=auth == "bot"
                )
                if auth == "bot":
                    require_scope(key)
                # The path before the body (the reference is silent): the path names what the call is about
                # and a router reads it before a handler reads a body, so a call on an unknown bot is refused
                # as such whatever its body. `body-first` reads the body first, as an Express app whose
                # express.json() runs ahead of its routes would.
                body_first = platform.speaks("body-first")
                has_body = request.method in ("POST", "PATCH", "PUT", "DELETE")
                try:
                    bot = None if body_first else check_path(platform, caller, request)
                except StateError:
                    if has_body:  # refused for its path: the log still shows what the call sent
                        record.body = await body_for_the_log(request)
                    raise
                body = await read_json_body(request) if has_body else {}
                record.body = body
                if body_first:
                    bot = check_path(platform, caller, request)
                call = Call(request=request, platform=platform, caller=caller, body=body, bot=bot)
                if bot is not None:
                    record.bot_id = bot.id
                result = await handler(call)
                await services.faults.after(request)
            except InjectedResponse as injected:
                record.finish(injected.response.status_code, "INJECTED")
                return injected.response
            except StateError as raised:
                error = spoken_refusal(platform, raised)
                record.finish(
                    status_of(error.code) if not getattr(error, "status", None) else error.status, error.code
                )
                return envelope_error(error)
            except ClientDisconnect:
                # The caller hung up before its body was read (its deadline passed during a latency rule):
                # nothing was done and nobody waits for an answer; no sandbox bug, and no 500 in the stats.
                log.info("caller of %s %s hung up before it was answered", request.method, request.url.path)
                record.finish(CLIENT_CLOSED, "CLIENT_CLOSED")
                return Response(status_code=CLIENT_CLOSED)
            except Exception:  # a sandbox bug must still answer in the envelope, without a trace
                log.exception("sandbox endpoint %s %s failed", request.method, request.url.path)
                record.finish(500, "INTERNAL_ERROR")
                return envelope_error(ApiError("INTERNAL_ERROR"))
            if isinstance(result, Response):
                record.finish(result.status_code, None)
                return result
            status = 201 if isinstance(result, Created) else 200
            record.finish(status, None)
            return envelope_ok(result.data if isinstance(result, Created) else result, status)

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return wrap


def body_fields(body: dict) -> dict:
    """The body's fields, flat or under `fields` (which wins): the two shapes a platform body comes in."""
    nested = body.get("fields")
    if nested is None:
        return body
    if not isinstance(nested, dict):
        raise ApiError("INVALID_REQUEST", "fields must be an object")
    return {**{k: v for k, v in body.items() if k != "fields"}, **nested}


def require_fields(body: dict, *names: str) -> None:
    missing = [n for n in names if body.get(n) in (None, "")]
    if missing:
        raise ApiError("INVALID_REQUEST", f"Missing required field(s): {', '.join(missing)}")


def expect_type(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    """Reject a wrong JSON type with a 400 that names the field (bool is not an int here)."""
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ApiError("INVALID_REQUEST", f"{name} must be a number")
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ApiError("INVALID_REQUEST", f"{name} must be of type {expected}")
    return value
