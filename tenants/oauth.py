"""The OAuth redirect's gate and `state`: an invitation to start, and a signed single-use state bound to the
browser.

The platform's authorize URL carries the app key (CONTRACT A §6), so the redirect is only ever built for a
visitor holding an invitation we signed (`issue_invite`: an operator hands it to a portal's admin with
`manage.py oauth_invite`), never for anyone who types /oauth/start/. The pending nonces live in a signed
cookie, not the Django session, so a visit writes no row.
"""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from tenants.errors import InstallationError

_SALT = "tenants.oauth.state"
_INVITE_SALT = "tenants.oauth.invite"
_COOKIE = "tenants_oauth"
_MAX_PENDING = 5  # a few tabs may start the flow at once; older attempts fall off

# A callback whose state this browser does not hold: opened twice (Back after signing in), in another
# browser than the one that followed the link, or tampered with. The person may be outside Bitrix24.
_STATE_REFUSED = _(
    "This sign-in cannot go on: it was used already, or began in another browser. Open your sign-in link"
    " again in this browser, or open the app from your Bitrix24 portal."
)


class StateNotPendingError(InstallationError):
    """A callback whose well-signed, live state this browser does not hold (any more)."""

    public_message = _STATE_REFUSED


def issue_invite(*, member_id: str = "") -> str:
    """A signed, expiring permission to start the OAuth redirect (optionally naming the expected portal)."""
    return signing.dumps({"m": member_id}, salt=_INVITE_SALT)


def check_invite(invite: str) -> str:
    """The portal (member id) the invitation is for, "" for any; InstallationError when it is not ours."""
    try:
        payload = signing.loads(invite, salt=_INVITE_SALT, max_age=settings.TENANTS_OAUTH_INVITE_MAX_AGE)
    except signing.BadSignature:
        raise InstallationError(
            "oauth start without a valid invitation",
            public_message=_(
                "This sign-in link is not valid or has expired. Open the app from your Bitrix24 portal, or"
                " ask the app's support for a new sign-in link."
            ),
        ) from None
    return _invited_portal(payload)


def _pending(request: HttpRequest) -> list[str]:
    raw = request.get_signed_cookie(
        _COOKIE, default="[]", salt=_SALT, max_age=settings.TENANTS_OAUTH_STATE_MAX_AGE
    )
    try:
        nonces = json.loads(raw or "[]")
    except ValueError:
        return []
    return [n for n in nonces if isinstance(n, str)] if isinstance(nonces, list) else []


def keep_pending(response: HttpResponse, nonces: list[str]) -> None:
    response.set_signed_cookie(
        _COOKIE,
        json.dumps(nonces),
        salt=_SALT,
        max_age=settings.TENANTS_OAUTH_STATE_MAX_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def issue_state(request: HttpRequest, *, member_id: str = "") -> tuple[str, list[str]]:
    """A new state (carrying the portal the invitation was for) and the browser's pending nonces to store
    with `keep_pending`."""
    nonce = secrets.token_urlsafe(16)
    pending = [*_pending(request)[-(_MAX_PENDING - 1) :], nonce]
    return signing.dumps({"n": nonce, "m": member_id}, salt=_SALT), pending


def redeem_state(request: HttpRequest, state: str) -> tuple[list[str], str]:
    """Accept `state` once, from the browser that started the flow, within its lifetime; else raise
    InstallationError. Returns the nonces still pending (to store with `keep_pending` once the callback has
    its answer: a transient failure stores nothing, so the same callback may be tried again) and the portal
    the invitation was for ("" for any)."""
    try:
        payload = signing.loads(state, salt=_SALT, max_age=settings.TENANTS_OAUTH_STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise InstallationError(
            "oauth state expired",
            public_message=_(
                "The sign-in took too long. Open your sign-in link again, or open the app from your Bitrix24"
                " portal."
            ),
        ) from None
    except signing.BadSignature:
        raise InstallationError("oauth state forged", public_message=_STATE_REFUSED) from None
    pending = _pending(request)
    nonce = payload.get("n") if isinstance(payload, dict) else None
    if nonce not in pending:
        # Replayed, or started in another browser: either way not this browser's live attempt.
        raise StateNotPendingError("oauth state replayed or from another browser")
    pending.remove(nonce)
    return pending, _invited_portal(payload)


def _invited_portal(payload: object) -> str:
    """The member id an invitation (or the state carrying it) names, "" for any portal."""
    member_id = payload.get("m", "") if isinstance(payload, dict) else ""
    return member_id if isinstance(member_id, str) else ""
