"""GET /v1/me, who a key (and a session token) belongs to, and the identity routes (me + OAuth redirect).

Answer shapes (CONTRACT part A §6, part B §1.1); a key value is never echoed, only `keyPrefix`/`keySuffix`:

- app key + Bearer: {type:"app", keyPrefix, keySuffix, scopes[], portal{id, domain, name, memberId},
  currentUser{bitrixUserId, name, isAdmin}, session{expiresAt}, app{id, name}, owner:null, …}
- app key alone: the same with portal, currentUser and session null (the key is valid, no user acts yet).
- personal key (vibe_api_): {type:"api", …, portal, owner{userId, name}, currentUser (the owner, since a
  personal key always acts as its owner), session:null, app:null}.

`scopes` lists the key's scopes plus `vibe:infra`, which the platform adds to every key [S-infra].
Refusals (AUTH_REQUIRED, INVALID_API_KEY, KEY_REVOKED, TOKEN_INVALID, TOKEN_EXPIRED) come from the
endpoint wrapper; this endpoint needs no `imbot` scope, since it is how a client finds out which it has.
"""

from __future__ import annotations

from starlette.routing import Route

from sandbox import oauth
from sandbox.auth import Caller
from sandbox.http import Call, endpoint
from sandbox.payloads import iso, zoned_iso
from sandbox.records import ApiKey, Portal, Session, User
from sandbox.state import Platform

ALWAYS_GRANTED_SCOPES = frozenset({"vibe:infra"})
KEY_TYPES = {"app": "app", "api": "api"}  # ApiKey.kind -> data.type


def key_prefix(key: ApiKey) -> str:
    """The key's kind prefix and a few characters, enough to tell keys apart and never enough to use one."""
    kind_prefix = key.prefix
    rest = key.value[len(kind_prefix) :]
    return kind_prefix + rest[:4] if len(rest) >= 16 else kind_prefix


def key_suffix(key: ApiKey) -> str | None:
    rest = key.value[len(key.prefix) :]
    return rest[-4:] if len(rest) >= 16 else None


def portal_json(portal: Portal) -> dict:
    return {"id": portal.id, "domain": portal.domain, "name": portal.name, "memberId": portal.member_id}


def current_user_json(user: User) -> dict:
    return {"bitrixUserId": user.id, "name": user.name, "isAdmin": user.is_admin}


def session_json(platform: Platform, session: Session) -> dict:
    # The reference does not document /v1/me; under `me-no-expiry` a session says nothing of its end, and
    # under `epoch-expiry` it says it as a PHP backend keeps it, Unix seconds; under `zoned-dates` as Java
    # writes a ZonedDateTime.
    if platform.speaks("me-no-expiry"):
        return {}
    if platform.speaks("epoch-expiry"):
        return {"expiresAt": int(session.expires_at.timestamp())}
    if platform.speaks("zoned-dates"):
        return {"expiresAt": zoned_iso(session.expires_at)}
    return {"expiresAt": iso(session.expires_at)}


def me_json(platform: Platform, caller: Caller) -> dict:
    key = caller.key
    data: dict = {
        "type": KEY_TYPES.get(key.kind, key.kind),
        "keyPrefix": key_prefix(key),
        "keySuffix": key_suffix(key),
        "status": "active",  # a revoked key never gets this far (KEY_REVOKED)
        "accessMode": "READWRITE",
        "expiresAt": None,  # sandbox keys do not expire; session tokens do
        "scopes": sorted(key.scopes | ALWAYS_GRANTED_SCOPES),
        "portal": portal_json(caller.portal) if caller.portal else None,
        "currentUser": current_user_json(caller.user) if caller.user else None,
        "session": session_json(platform, caller.session) if caller.session else None,
        "app": {"id": caller.app.id, "name": caller.app.name} if caller.app else None,
        "owner": None,
    }
    if key.kind == "api" and caller.user is not None:
        data["owner"] = {"userId": caller.user.id, "name": caller.user.name}
    return data


@endpoint(auth="key")
async def get_me(call: Call) -> dict:
    """GET /v1/me: the key, its scopes, and the portal and user the call acts as."""
    assert call.caller is not None  # auth="key" always resolves a caller or refuses
    return me_json(call.platform, call.caller)


routes = [
    Route("/v1/me", get_me, methods=["GET"]),
    *oauth.routes,
]
