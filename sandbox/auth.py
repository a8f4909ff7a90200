"""Who is calling: the X-Api-Key, and for app keys the Bearer session token (CONTRACT part A §4-5)."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.records import ApiKey, App, Portal, Session, User
from sandbox.state import Platform, StateError


@dataclass
class Caller:
    key: ApiKey
    portal: Portal | None  # None only for an app key without a session (GET /v1/me allows that)
    user: User | None
    session: Session | None = None
    app: App | None = None


def read_bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def find_key(platform: Platform, value: str | None) -> ApiKey:
    """The key named by X-Api-Key: AUTH_REQUIRED, INVALID_API_KEY and KEY_REVOKED as the reference says."""
    if not value:
        raise StateError(
            "AUTH_REQUIRED", "Missing X-Api-Key header", hint="Send X-Api-Key: vibe_api_… or vibe_app_…"
        )
    key = platform.keys.get(value.strip())
    if key is None:
        raise StateError("INVALID_API_KEY", "Invalid API key")
    if key.revoked:
        raise StateError("KEY_REVOKED", "API key revoked")
    return key


def authenticate(
    platform: Platform, key: ApiKey, authorization: str | None, *, session_required: bool = True
) -> Caller:
    """Resolve the caller of an already-found key.

    An app key needs `Authorization: Bearer <session_token>` of a live session minted for that app;
    a personal key acts as its owner and ignores any Bearer.
    """
    if key.kind == "api":
        user = platform.users[key.user_id]  # type: ignore[index]
        return Caller(key=key, portal=platform.portals[key.portal_id], user=user)  # type: ignore[index]
    app = platform.apps[key.app_id]  # type: ignore[index]
    token = read_bearer(authorization)
    if token is None:
        if session_required:
            raise StateError(
                "TOKEN_MISSING",
                "API key has no configured tokens",
                hint="vibe_app_ keys need Authorization: Bearer <session_token> on every request",
            )
        return Caller(key=key, portal=None, user=None, app=app)
    session = platform.sessions.get(token)
    refused = session is None or session.app_id != key.app_id or session.expires_at <= platform.now()
    if refused and platform.speaks("key-code-for-session"):  # the key and its session judged as one
        raise StateError("INVALID_API_KEY", "Invalid API key")
    if session is None or session.app_id != key.app_id:
        raise StateError("TOKEN_INVALID", "The session token is unknown or belongs to another app")
    if session.expires_at <= platform.now():
        raise StateError(
            "TOKEN_EXPIRED",
            "The session token has expired",
            hint="Session tokens cannot be refreshed: a portal user must open the app again",
        )
    return Caller(
        key=key,
        portal=platform.portals[session.portal_id],
        user=platform.users[session.user_id],
        session=session,
        app=app,
    )


def require_scope(key: ApiKey, scope: str = "imbot") -> None:
    if scope not in key.scopes:
        raise StateError(
            "SCOPE_DENIED",
            f"API key lacks the {scope} scope",
            hint=f"Re-issue the key with the {scope} scope"
            + (" (a chat bot needs imbot and im)" if scope == "imbot" else ""),
        )
