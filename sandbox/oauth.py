"""The standalone OAuth redirect (CONTRACT part A §6): a consent page, single-use codes, the code exchange.

- `GET /v1/oauth/authorize?app_key=vibe_app_…&redirect_uri=…&state=…` shows the consent page: the app's
  name and scopes, a portal and a user of that portal to sign in as. A bad `app_key` or `redirect_uri`
  (absolute http/https, no fragment) gets a 400 page and never a redirect.
- `POST /v1/oauth/authorize` (the page's form: app_key, redirect_uri, state, portal_id, user_id,
  decision=allow|deny) re-checks everything and answers 302 to `redirect_uri?code=…&state=…`, or
  `?error=access_denied&state=…`. The redirect_uri's own query is kept; `state` is echoed byte for byte
  and left out only when none was sent. Any absolute http(s) URI is accepted: sandbox apps register none.
- `POST /v1/oauth/token` JSON `{app_key, code, redirect_uri}` → `{success, data:{access_token
  ("vibe_session_…"), token_type:"Bearer", expires_in, expires_at, scopes, portal{…}, user{…}}}`.
  A code lives CODE_TTL_SECONDS on the platform's clock and is spent by the first exchange that names it,
  even a refused one (another app's key, another redirect_uri): every such case is 400 INVALID_GRANT.

Calls are recorded in the call log with the app key and code reduced to harmless prefixes.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from weakref import WeakKeyDictionary

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sandbox.auth import find_key
from sandbox.calls import CallRecord
from sandbox.http import ApiError, envelope_error, envelope_ok, expect_type, read_json_body, require_fields
from sandbox.pages import error_page, render_page
from sandbox.state import ApiKey, App, Platform, StateError, User

log = logging.getLogger(__name__)

AUTHORIZE_PATH = "/v1/oauth/authorize"
CODE_TTL_SECONDS = 60.0
MAX_URI_LENGTH = 2048
MAX_STATE_LENGTH = 2048
MAX_FORM_BYTES = 64 * 1024


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


class ConsentRefused(Exception):
    """The authorize request cannot go on, and must not be redirected anywhere: answer a 400 page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- validation -----------------------------------------------------------------------------------------
def find_app(platform: Platform, app_key: str | None) -> tuple[ApiKey, App]:
    if not app_key:
        raise ConsentRefused("The link has no app_key: the app must send its vibe_app_ key.")
    key = platform.keys.get(app_key.strip())
    if key is None or key.kind != "app" or key.app_id not in platform.apps:
        raise ConsentRefused("The app_key is not the key of any app on this platform.")
    if key.revoked:
        raise ConsentRefused("This app's key has been revoked.")
    return key, platform.apps[key.app_id]


def check_redirect_uri(redirect_uri: str | None) -> str:
    """An absolute http(s) URI without a fragment; anything else is refused, never redirected to."""
    if not redirect_uri:
        raise ConsentRefused("The link has no redirect_uri.")
    if len(redirect_uri) > MAX_URI_LENGTH or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in redirect_uri):
        raise ConsentRefused("The redirect_uri is not a valid URL.")
    try:
        parts = urlsplit(redirect_uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConsentRefused("The redirect_uri is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConsentRefused("The redirect_uri must be an absolute http:// or https:// URL.")
    if parts.fragment or "#" in redirect_uri:
        raise ConsentRefused("The redirect_uri must not contain a fragment (#…).")
    return redirect_uri


def check_state(state: str | None) -> str | None:
    if state is not None and len(state) > MAX_STATE_LENGTH:
        raise ConsentRefused(f"The state parameter is longer than {MAX_STATE_LENGTH} characters.")
    return state


def with_params(uri: str, params: dict[str, str | None]) -> str:
    """`uri` with `params` appended after its own query, which is kept exactly as it was."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def redact_key(value: object) -> object:
    return value[:13] + "…" if isinstance(value, str) and len(value) > 13 else value


def redacted(fields: dict) -> dict:
    """The request's fields as the call log may show them: no usable key or code."""
    shown = dict(fields)
    for name in ("app_key", "code"):
        if name in shown:
            shown[name] = redact_key(shown[name])
    return shown


# --- consent -----------------------------------------------------------------------------------------
def consent_context(platform: Platform, *, app: App, app_key: str, redirect_uri: str, state: str | None,
                    portal_id: str | None, error: str | None = None) -> dict:
    portals = sorted(platform.portals.values(), key=lambda p: (p.name.lower(), p.domain))
    with_users = {u.portal_id for u in platform.users.values()}
    selected = platform.portals.get(portal_id or "") or next((p for p in portals if p.id in with_users), None)
    selected = selected or (portals[0] if portals else None)
    users = sorted((u for u in platform.users.values() if selected and u.portal_id == selected.id), key=lambda u: u.id)
    return {
        "authorize_path": AUTHORIZE_PATH,
        "app_name": app.name,
        "scopes": sorted(app.scopes),
        "portals": portals,
        "selected_portal": selected,
        "users": users,
        "app_key": app_key,
        "redirect_uri": redirect_uri,
        "redirect_host": urlsplit(redirect_uri).netloc,
        "state": state,
        "error": error,
    }


def error_response(record: CallRecord, error: StateError) -> Response:
    response = envelope_error(error)
    record.finish(response.status_code, error.code)
    return response


def refused_page(request: Request, record: CallRecord, refusal: ConsentRefused) -> Response:
    record.finish(400, "INVALID_AUTHORIZE_REQUEST")
    return error_page(request, title="This sign-in link is not valid", message=refusal.message, status=400)


async def authorize_page(request: Request) -> Response:
    """GET /v1/oauth/authorize: the consent page."""
    services = request.app.state.services
    platform: Platform = services.platform
    record = services.calls.start(request)
    record.query = redacted(record.query)
    try:
        await services.faults.before(request)
        query = request.query_params
        key, app = find_app(platform, query.get("app_key"))
        record.key_kind = key.kind
        redirect_uri = check_redirect_uri(query.get("redirect_uri"))
        state = check_state(query.get("state"))
    except ConsentRefused as refusal:
        return refused_page(request, record, refusal)
    except StateError as error:  # an injected fault
        return error_response(record, error)
    context = consent_context(platform, app=app, app_key=key.value, redirect_uri=redirect_uri, state=state,
                              portal_id=query.get("portal_id"))
    record.finish(200, None)
    return render_page(request, "consent.html", context)


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the consent form); the first value of each field wins."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise ConsentRefused("The form is too large.")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise ConsentRefused("The form could not be read.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def chosen_user(platform: Platform, form: dict[str, str]) -> User:
    raw = form.get("user_id", "").strip()
    user = platform.users.get(int(raw)) if raw.isdigit() and len(raw) <= 18 else None
    if user is None:
        raise ConsentRefused("Choose a user to sign in as.")
    portal_id = form.get("portal_id")
    if portal_id and user.portal_id != portal_id:
        raise ConsentRefused(f"{user.name} is not a user of the chosen portal.")
    return user


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


async def authorize_decision(request: Request) -> Response:
    """POST /v1/oauth/authorize: the consent form's Allow or Deny."""
    services = request.app.state.services
    platform: Platform = services.platform
    record = services.calls.start(request)
    form: dict[str, str] = {}
    try:
        await services.faults.before(request)
        form = await read_form(request)
        record.body = redacted(form)
        key, app = find_app(platform, form.get("app_key"))
        record.key_kind = key.kind
        redirect_uri = check_redirect_uri(form.get("redirect_uri"))
        state = check_state(form.get("state"))
    except ConsentRefused as refusal:
        return refused_page(request, record, refusal)
    except StateError as error:  # an injected fault
        return error_response(record, error)
    decision = form.get("decision", "")
    if decision == "deny":
        record.finish(302, None)
        return RedirectResponse(with_params(redirect_uri, {"error": "access_denied", "state": state}), status_code=302)
    try:
        if decision != "allow":
            raise ConsentRefused("Choose Allow or Deny.")
        user = chosen_user(platform, form)
    except ConsentRefused as refusal:
        context = consent_context(platform, app=app, app_key=key.value, redirect_uri=redirect_uri, state=state,
                                  portal_id=form.get("portal_id"), error=refusal.message)
        record.finish(400, "INVALID_CONSENT")
        return render_page(request, "consent.html", context, status=400)
    grant = mint_code(platform, app=app, redirect_uri=redirect_uri, user=user)
    record.finish(302, None)
    return RedirectResponse(with_params(redirect_uri, {"code": grant.code, "state": state}), status_code=302)


# --- token exchange ---------------------------------------------------------------------------------------
def redeem_code(platform: Platform, *, app: App, code: str, redirect_uri: str) -> AuthorizationCode:
    """The code's grant, spent now; every reason to refuse is INVALID_GRANT with its own message."""
    grant = codes_of(platform).get(code)
    if grant is None:
        raise ApiError("INVALID_GRANT", "The authorization code is unknown", status=400)
    if grant.used:
        raise ApiError("INVALID_GRANT", "The authorization code has already been used", status=400,
                       hint="Codes are single-use: send the user through /v1/oauth/authorize again")
    grant.used = True
    if grant.expires_at <= platform.now():
        raise ApiError("INVALID_GRANT", "The authorization code has expired", status=400,
                       hint=f"Exchange a code within {CODE_TTL_SECONDS:g} seconds")
    if grant.app_id != app.id:
        raise ApiError("INVALID_GRANT", "The authorization code was issued to another app", status=400)
    if grant.redirect_uri != redirect_uri:
        raise ApiError("INVALID_GRANT", "redirect_uri does not match the one the code was issued for", status=400)
    return grant


def token_json(platform: Platform, *, token: str, expires_at: datetime, app: App, user: User) -> dict:
    portal = platform.portals[user.portal_id]
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": max(0, int((expires_at - platform.now()).total_seconds())),
        "expires_at": platform.iso(expires_at),
        "scopes": sorted(app.scopes),
        "portal": {"id": portal.id, "domain": portal.domain, "name": portal.name, "memberId": portal.member_id},
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
        record.key_kind = key.kind
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


routes = [
    Route(AUTHORIZE_PATH, authorize_page, methods=["GET"]),
    Route(AUTHORIZE_PATH, authorize_decision, methods=["POST"]),
    Route("/v1/oauth/token", exchange_code, methods=["POST"]),
]
