"""The OAuth redirect's `state`: signed, short-lived, single-use and bound to the browser's session."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tenants.errors import InstallationError

_SALT = "tenants.oauth.state"
_SESSION_KEY = "tenants_oauth_nonces"
_MAX_PENDING = 5  # a few tabs may start the flow at once; older attempts fall off


def issue_state(request: HttpRequest) -> str:
    nonce = secrets.token_urlsafe(16)
    pending = request.session.get(_SESSION_KEY, [])[-(_MAX_PENDING - 1):]
    request.session[_SESSION_KEY] = [*pending, nonce]
    return signing.dumps({"n": nonce}, salt=_SALT)


def redeem_state(request: HttpRequest, state: str) -> None:
    """Accept `state` once, from the browser that started the flow, within its lifetime; else InstallationError."""
    try:
        payload = signing.loads(state, salt=_SALT, max_age=settings.TENANTS_OAUTH_STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise InstallationError("oauth state expired", public_message=_("The sign-in took too long. Please start again.")) from None
    except signing.BadSignature:
        raise InstallationError("oauth state forged") from None
    pending = request.session.get(_SESSION_KEY, [])
    nonce = payload.get("n") if isinstance(payload, dict) else None
    if nonce not in pending:
        # Replayed, or started in another browser: either way not this browser's live attempt.
        raise InstallationError("oauth state replayed or from another browser")
    pending.remove(nonce)
    request.session[_SESSION_KEY] = pending
