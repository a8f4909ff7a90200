"""The standalone OAuth redirect's consent (CONTRACT part A §6); codes and the exchange are in oauth_codes.py.

- `GET /v1/oauth/authorize?app_key=vibe_app_…&redirect_uri=…&state=…` shows the consent page: the app's
  name and scopes, a portal (`portal_id` picks another) and a user of that portal to sign in as. A bad
  `app_key` or `redirect_uri` (absolute http/https, no fragment) gets a 400 page and never a redirect.
- `POST /v1/oauth/authorize` (the page's form: app_key, redirect_uri, state, portal_id, user_id,
  decision=allow|deny) re-checks everything and answers 302 to `redirect_uri?code=…&state=…`, or
  `?error=access_denied&state=…`. The redirect_uri's own query is kept; `state` is echoed byte for byte
  and left out only when none was sent. Any absolute http(s) URI is accepted: sandbox apps register none.

Both are recorded in the call log with the app key and code reduced to harmless prefixes.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sandbox.calls import CallRecord
from sandbox.numbers import is_decimal
from sandbox.oauth_codes import error_response, exchange_code, mint_code, redacted
from sandbox.pages import error_page, render_page
from sandbox.records import ApiKey, App, User
from sandbox.state import Platform, StateError

AUTHORIZE_PATH = "/v1/oauth/authorize"
MAX_URI_LENGTH = 2048
MAX_STATE_LENGTH = 2048
MAX_FORM_BYTES = 64 * 1024
CONTROL = frozenset([*range(32), 127])


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
    if len(redirect_uri) > MAX_URI_LENGTH or any(ch.isspace() or ord(ch) in CONTROL for ch in redirect_uri):
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


# --- consent -----------------------------------------------------------------------------------------
def consent_context(
    platform: Platform,
    *,
    app: App,
    app_key: str,
    redirect_uri: str,
    state: str | None,
    portal_id: str | None,
    error: str | None = None,
) -> dict:
    portals = sorted(platform.portals.values(), key=lambda p: (p.name.lower(), p.domain))
    with_users = {u.portal_id for u in platform.users.values()}
    selected = platform.portals.get(portal_id or "") or next((p for p in portals if p.id in with_users), None)
    selected = selected or (portals[0] if portals else None)
    users = [u for u in platform.users.values() if selected and u.portal_id == selected.id]
    return {
        "authorize_path": AUTHORIZE_PATH,
        "app_name": app.name,
        "scopes": sorted(app.scopes),
        "portals": portals,
        "selected_portal": selected,
        "users": sorted(users, key=lambda u: u.id),
        "app_key": app_key,
        "redirect_uri": redirect_uri,
        "redirect_host": urlsplit(redirect_uri).netloc,
        "state": state,
        "error": error,
    }


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
        record.key_kind, record.key_digest = key.kind, key.digest
        redirect_uri = check_redirect_uri(query.get("redirect_uri"))
        state = check_state(query.get("state"))
    except ConsentRefused as refusal:
        return refused_page(request, record, refusal)
    except StateError as error:  # an injected fault
        return error_response(record, error)
    context = consent_context(
        platform,
        app=app,
        app_key=key.value,
        redirect_uri=redirect_uri,
        state=state,
        portal_id=query.get("portal_id"),
    )
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
    user = platform.users.get(int(raw)) if is_decimal(raw) and len(raw) <= 18 else None
    if user is None:
        raise ConsentRefused("Choose a user to sign in as.")
    portal_id = form.get("portal_id")
    if portal_id and user.portal_id != portal_id:
        raise ConsentRefused(f"{user.name} is not a user of the chosen portal.")
    return user


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
        record.key_kind, record.key_digest = key.kind, key.digest
        redirect_uri = check_redirect_uri(form.get("redirect_uri"))
        state = check_state(form.get("state"))
    except ConsentRefused as refusal:
        return refused_page(request, record, refusal)
    except StateError as error:  # an injected fault
        return error_response(record, error)
    decision = form.get("decision", "")
    if decision == "deny":
        record.finish(302, None)
        denied = with_params(redirect_uri, {"error": "access_denied", "state": state})
        return RedirectResponse(denied, status_code=302)
    try:
        if decision != "allow":
            raise ConsentRefused("Choose Allow or Deny.")
        user = chosen_user(platform, form)
    except ConsentRefused as refusal:
        context = consent_context(
            platform,
            app=app,
            app_key=key.value,
            redirect_uri=redirect_uri,
            state=state,
            portal_id=form.get("portal_id"),
            error=refusal.message,
        )
        record.finish(400, "INVALID_CONSENT")
        return render_page(request, "consent.html", context, status=400)
    grant = mint_code(platform, app=app, redirect_uri=redirect_uri, user=user)
    record.finish(302, None)
    return RedirectResponse(with_params(redirect_uri, {"code": grant.code, "state": state}), status_code=302)


routes = [
    Route(AUTHORIZE_PATH, authorize_page, methods=["GET"]),
    Route(AUTHORIZE_PATH, authorize_decision, methods=["POST"]),
    Route("/v1/oauth/token", exchange_code, methods=["POST"]),
]
