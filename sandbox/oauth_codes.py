"""OAuth authorization codes (minted on Allow, spent by one exchange) and `POST /v1/oauth/token`.

`POST /v1/oauth/token` JSON `{app_key, code, redirect_uri}` answers `{success, data:{access_token
("vibe_session_…", a new platform session), token_type:"Bearer", expires_in (seconds), expires_at,
scopes, portal{id, domain, name, memberId}, user{id, bitrixUserId, name, isAdmin}}}`. A code lives
CODE_TTL_SECONDS on the platform's clock and is spent by the first exchange that names it, even a refused
one (another app's key, another redirect_uri): every such case is 400 INVALID_GRANT with its own message.
Bad JSON or missing fields are 400; the app key is checked as X-Api-Key would be (401/403).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from starlette.requests import Request
from starlette.responses import Response

from sandbox.auth import find_key
from sandbox.calls import CallRecord
from sandbox.http import ApiError, envelope_error, envelope_ok, expect_type, read_json_body, require_fields
from sandbox.payloads import iso
from sandbox.records import ApiKey, App, User
from sandbox.state import Platform, StateError

log = logging.getLogger(__name__)

CODE_TTL_SECONDS = 60.0


@dataclass
class AuthorizationCode:
    code: str
    app_id: int
    redirect_uri: str
    portal_id: str
    user_id: int
    expires_at: datetime
    used: bool = False


# Codes live beside the platform they were minted on, so a reset (a new Platform) forgets them too.
_codes: WeakKeyDictionary[Platform, dict[str, AuthorizationCode]] = WeakKeyDictionary()


def codes_of(platform: Platform) -> dict[str, AuthorizationCode]:
    return _codes.setdefault(platform, {})


def redact_key(value: object) -> object:
    return value[:13] + "…" if isinstance(value, str) and len(value) > 13 else value


def redacted(fields: dict) -> dict:
    """The request's fields as the call log may show them: no usable key or code."""
    shown = dict(fields)
    for name in ("app_key", "code"):
        if name in shown:
            shown[name] = redact_key(shown[name])
    return shown


def error_response(record: CallRecord, error: StateError) -> Response:
    response = envelope_error(error)
    record.finish(response.status_code, error.code)
    return response


def mint_code(platform: Platform, *, app: App, redirect_uri: str, user: User) -> AuthorizationCode:
    codes = codes_of(platform)
    now = platform.now()
    for stale in [c for c in codes.values() if c.expires_at <= now]:
        del codes[stale.code]
    grant = AuthorizationCode(
        code="vibe_code_" + secrets.token_urlsafe(24),
        app_id=app.id,
        redirect_uri=redirect_uri,
        portal_id=user.portal_id,
        user_id=user.id,
        expires_at=now + timedelta(seconds=CODE_TTL_SECONDS),
    )
    codes[grant.code] = grant
    return grant


def redeem_code(platform: Platform, *, app: App, code: str, redirect_uri: str) -> AuthorizationCode:
    """The code's grant, spent now; every reason to refuse is INVALID_GRANT with its own message."""
    grant = codes_of(platform).get(code)
    if grant is None:
        raise ApiError("INVALID_GRANT", "The authorization code is unknown", status=400)
    if grant.used:
        raise ApiError(
            "INVALID_GRANT",
            "The authorization code has already been used",
            status=400,
            hint="Codes are single-use: send the user through /v1/oauth/authorize again",
        )
    grant.used = True
    if grant.expires_at <= platform.now():
        raise ApiError(
            "INVALID_GRANT",
            "The authorization code has expired",
            status=400,
            hint=f"Exchange a code within {CODE_TTL_SECONDS:g} seconds",
        )
    if grant.app_id != app.id:
        raise ApiError("INVALID_GRANT", "The authorization code was issued to another app", status=400)
    if grant.redirect_uri != redirect_uri:
        raise ApiError("INVALID_GRANT", "redirect_uri is not the one the code was issued for", status=400)
    return grant


def token_json(platform: Platform, *, token: str, expires_at: datetime, app: App, user: User) -> dict:
    portal = platform.portals[user.portal_id]
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": max(0, int((expires_at - platform.now()).total_seconds())),
        "expires_at": iso(expires_at),
        "scopes": sorted(app.scopes),
        "portal": {
            "id": portal.id,
            "domain": portal.domain,
            "name": portal.name,
            "memberId": portal.member_id,
        },
        "user": {"id": user.id, "bitrixUserId": user.id, "name": user.name, "isAdmin": user.is_admin},
    }


async def exchange_code(request: Request) -> Response:
    """POST /v1/oauth/token: a code for a session token."""
    services = request.app.state.services
    platform: Platform = services.platform
    record = services.calls.start(request)
    try:
        await services.faults.before(request)
        body = await read_json_body(request)
        record.body = redacted(body)
        require_fields(body, "app_key", "code", "redirect_uri")
        for name in ("app_key", "code", "redirect_uri"):
            expect_type(body[name], str, name)
        key: ApiKey = find_key(platform, body["app_key"])
        record.key_kind, record.key_digest = key.kind, key.digest
        if key.kind != "app":
            raise ApiError("INVALID_REQUEST", "app_key must be an app key (vibe_app_…)")
        services.limiter.check(key)
        app = platform.apps[key.app_id]  # type: ignore[index]
        grant = redeem_code(platform, app=app, code=body["code"], redirect_uri=body["redirect_uri"])
        user = platform.get_user(grant.user_id)
        session = platform.create_session(app=app, user=user)
        data = token_json(platform, token=session.token, expires_at=session.expires_at, app=app, user=user)
    except StateError as error:
        return error_response(record, error)
    except Exception:  # a sandbox bug must still answer in the envelope, without a trace
        log.exception("sandbox endpoint POST /v1/oauth/token failed")
        record.finish(500, "INTERNAL_ERROR")
        return envelope_error(ApiError("INTERNAL_ERROR"))
    record.finish(200, None)
    return envelope_ok(data)
