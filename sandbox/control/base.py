"""The control API's request wrapper, body-field validation and lookups that answer 4xx on bad input."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from starlette.requests import Request
from starlette.responses import Response

from sandbox.hosts import refuse_foreign_host
from sandbox.http import ApiError, envelope_error, envelope_ok, expect_type, read_json_body
from sandbox.numbers import is_decimal
from sandbox.records import Bot, Chat, Message, User
from sandbox.state import Platform, StateError

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass
class ControlCall:
    """One control request: its services (read fresh, since a reset replaces the platform) and body."""

    request: Request
    body: dict = field(default_factory=dict)

    @property
    def services(self) -> Any:
        return self.request.app.state.services

    @property
    def platform(self) -> Platform:
        return self.services.platform

    @property
    def query(self):
        return self.request.query_params

    def path_id(self, name: str, label: str) -> int:
        return parse_id(str(self.request.path_params[name]), label)


ControlHandler = Callable[[ControlCall], dict]


def control(handler: ControlHandler) -> Callable[[Request], Any]:
    """Wrap a synchronous handler: parse the body, answer `{success, data}` or the error envelope.

    Handlers are plain functions on purpose: with no await between reading and writing state, a
    control action is atomic with respect to the platform endpoints running on the same loop.
    Control calls are not recorded in the call log, which is for what bots do.
    """

    async def run(request: Request) -> Response:
        try:
            refuse_foreign_host(request)  # reads too: a rebinding page may read what the browser fetched
            body = {}
            if request.method in ("POST", "PUT", "PATCH", "DELETE"):
                refuse_other_sites(request)
                body = await read_json_body(request)
            return envelope_ok(handler(ControlCall(request=request, body=body)))
        except StateError as error:
            return envelope_error(error)
        except Exception:  # a sandbox bug still answers in the envelope, without a trace
            log.exception("control endpoint %s %s failed", request.method, request.url.path)
            return envelope_error(ApiError("INTERNAL_ERROR"))

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


# What a browser's Sec-Fetch-Site says of a request the sandbox's own pages made (same-origin), or no page at
# all (none: a typed URL). curl, httpx and the bot shell send no such header.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def refuse_other_sites(request: Request) -> None:
    """Refuse a state-changing request that another site's page may have had a browser send.

    The control API has no authentication (module doc of sandbox.control), and a form post or a simple
    fetch needs no CORS consent: a page on any site, open while a developer runs the sandbox, could reset it
    or act as its users. Browsers say where such a request came from (Sec-Fetch-Site, Origin); a browser
    that says neither still cannot send JSON from a form, so only JSON, or no body type at all, is taken.
    A same-site page (another port of localhost) is not the sandbox's own either."""
    fetch_site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if (fetch_site is not None and fetch_site.lower() not in _OWN_FETCH_SITES) or (
        origin is not None and origin.lower() != f"{request.url.scheme}://{request.url.netloc}".lower()
    ):
        raise ApiError("CROSS_SITE_REQUEST")
    content_type = request.headers.get("content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError("UNSUPPORTED_MEDIA_TYPE")


# --- body fields -------------------------------------------------------------------------------------
def parse_id(raw: Any, label: str) -> int:
    """A positive id given as a JSON number or a string of digits (dialog ids are strings)."""
    if isinstance(raw, str) and is_decimal(raw.strip()) and len(raw.strip()) <= 18:
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ApiError("INVALID_REQUEST", f"{label} must be a positive integer id")
    return raw


# A required field is returned or refused with a 400, never None: the overloads say so to the type checker.
@overload
def id_field(body: dict, name: str, *, required: Literal[True] = ...) -> int: ...
@overload
def id_field(body: dict, name: str, *, required: bool) -> int | None: ...
def id_field(body: dict, name: str, *, required: bool = True) -> int | None:
    raw = body.get(name, _MISSING)
    if raw is _MISSING or raw is None:
        if required:
            raise ApiError("INVALID_REQUEST", f"Missing required field: {name}")
        return None
    return parse_id(raw, name)


@overload
def str_field(
    body: dict, name: str, *, required: Literal[True] = ..., allow_empty: bool = ..., max_len: int = ...
) -> str: ...
@overload
def str_field(
    body: dict, name: str, *, required: bool, allow_empty: bool = ..., max_len: int = ...
) -> str | None: ...
def str_field(
    body: dict, name: str, *, required: bool = True, allow_empty: bool = False, max_len: int = 20_000
) -> str | None:
    raw = body.get(name, _MISSING)
    if raw is _MISSING or raw is None:
        if required:
            raise ApiError("INVALID_REQUEST", f"Missing required field: {name}")
        return None
    expect_type(raw, str, name)
    if not allow_empty and not raw.strip():
        raise ApiError("INVALID_REQUEST", f"{name} must not be empty")
    if len(raw) > max_len:
        raise ApiError("INVALID_REQUEST", f"{name} is longer than {max_len} characters")
    return raw


@overload
def number_field(
    body: dict,
    name: str,
    *,
    required: Literal[True] = ...,
    minimum: float | None = ...,
    exclusive_minimum: bool = ...,
) -> float: ...
@overload
def number_field(
    body: dict, name: str, *, required: bool, minimum: float | None = ..., exclusive_minimum: bool = ...
) -> float | None: ...
def number_field(
    body: dict,
    name: str,
    *,
    required: bool = True,
    minimum: float | None = None,
    exclusive_minimum: bool = False,
) -> float | None:
    raw = body.get(name, _MISSING)
    if raw is _MISSING or raw is None:
        if required:
            raise ApiError("INVALID_REQUEST", f"Missing required field: {name}")
        return None
    expect_type(raw, (int, float), name)
    value = float(raw)
    if not math.isfinite(value):
        raise ApiError("INVALID_REQUEST", f"{name} must be a finite number")
    if minimum is not None and (value < minimum or (exclusive_minimum and value == minimum)):
        relation = "greater than" if exclusive_minimum else "at least"
        raise ApiError("INVALID_REQUEST", f"{name} must be {relation} {minimum:g}")
    return value


def bool_field(body: dict, name: str, default: bool = False) -> bool:
    raw = body.get(name, _MISSING)
    if raw is _MISSING or raw is None:
        return default
    if isinstance(raw, str) and raw.upper() in ("Y", "N"):
        return raw.upper() == "Y"
    return expect_type(raw, bool, name)


def scopes_field(body: dict, name: str = "scopes") -> list[str] | None:
    raw = body.get(name)
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    expect_type(raw, list, name)
    if not all(isinstance(s, str) and s.strip() and len(s) <= 64 for s in raw):
        raise ApiError("INVALID_REQUEST", f"{name} must be a list of scope names such as imbot, im")
    return [s.strip() for s in raw]


def id_list_field(body: dict, name: str) -> list[int]:
    raw = body.get(name)
    if raw is None:
        return []
    expect_type(raw, list, name)
    if len(raw) > 1000:
        raise ApiError("INVALID_REQUEST", f"{name} holds more than 1000 ids")
    return [parse_id(item, f"{name}[]") for item in raw]


# --- lookups -------------------------------------------------------------------------------------------
def not_found(code: str, message: str) -> ApiError:
    return ApiError(code, message, status=404)


def find_user(platform: Platform, user_id: int) -> User:
    user = platform.users.get(user_id)
    if user is None:
        raise not_found("USER_NOT_FOUND", f"No user {user_id}")
    return user


def find_bot(platform: Platform, bot_id: int, *, portal_id: str | None = None) -> Bot:
    bot = platform.bots.get(bot_id)
    if bot is None or (portal_id is not None and bot.portal_id != portal_id):
        raise not_found("BOT_NOT_FOUND", f"No bot {bot_id}" + (" on this user's portal" if portal_id else ""))
    return bot


def find_chat(platform: Platform, chat_id: int) -> Chat:
    chat = platform.chats.get(chat_id)
    if chat is None:
        raise not_found("CHAT_NOT_FOUND", f"No chat {chat_id}")
    return chat


def find_message(platform: Platform, message_id: int, *, live: bool = False) -> Message:
    message = platform.messages.get(message_id)
    if message is None or (live and message.deleted):
        raise not_found("MESSAGE_NOT_FOUND", f"No message {message_id}")
    return message


def find_key_value(platform: Platform, body: dict, name: str):
    value = str_field(body, name, max_len=200)
    key = platform.keys.get(value.strip())
    if key is None:
        raise not_found("KEY_NOT_FOUND", f"{name} is not a key this sandbox issued")
    return key
