"""Control endpoints that set the platform up: reset, portals, users, apps, keys, sessions, limits, clock
and faults."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from sandbox.control.base import (
    ControlCall,
    bool_field,
    control,
    find_key_value,
    find_user,
    id_field,
    not_found,
    number_field,
    scopes_field,
    str_field,
)
from sandbox.control.views import app_json, iso, portal_json, user_json
from sandbox.dialects import DIALECTS, parse_dialects
from sandbox.faults import FaultRule
from sandbox.http import ApiError
from sandbox.state import IMBOT_SCOPES


@control
def reset(call: ControlCall) -> dict:
    """Forget everything: portals, bots, chats, events, faults, limits and recorded calls."""
    call.services.reset()
    return {}


@control
def create_portal(call: ControlCall) -> dict:
    domain = str_field(call.body, "domain", required=False, max_len=253)
    name = str_field(call.body, "name", required=False, max_len=200)
    if domain is not None and (" " in domain.strip() or "/" in domain):
        raise ApiError("INVALID_REQUEST", "domain must be a host name such as acme.bitrix24.com")
    portal = call.platform.create_portal(domain=domain.strip() if domain else None, name=name)
    return {"portal": portal_json(portal)}


@control
def create_user(call: ControlCall) -> dict:
    portal = call.platform.portals.get(call.request.path_params["portal_id"])
    if portal is None:
        raise not_found("PORTAL_NOT_FOUND", "No such portal")
    name = str_field(call.body, "name", max_len=200).strip()
    language = str_field(call.body, "language", required=False, max_len=8) or "en"
    user = call.platform.create_user(
        portal,
        name=name,
        is_admin=bool_field(call.body, "isAdmin"),
        work_position=str_field(call.body, "workPosition", required=False, allow_empty=True, max_len=200)
        or "",
        language=language.strip().lower(),
    )
    return {"user": user_json(user)}


@control
def update_user(call: ControlCall) -> dict:
    """Change a user as the portal's own admin would: promote or demote (isAdmin), rename, deactivate."""
    user = find_user(call.platform, int(call.request.path_params["user_id"]))
    if "isAdmin" in call.body:
        user.is_admin = bool_field(call.body, "isAdmin")
    if "active" in call.body:
        user.active = bool_field(call.body, "active")
    name = str_field(call.body, "name", required=False, max_len=200)
    if name is not None and name.strip():
        user.name = name.strip()
    return {"user": user_json(user)}


@control
def create_app(call: ControlCall) -> dict:
    """An OAuth app of the catalog and its vibe_app_ key (the one place that key value is shown)."""
    name = str_field(call.body, "name", required=False, max_len=200) or "Sandbox app"
    scopes = scopes_field(call.body)
    app, key = call.platform.create_app(name=name, scopes=IMBOT_SCOPES if scopes is None else scopes)
    return {"app": app_json(app), "key": key.value}


@control
def issue_another_app_key(call: ControlCall) -> dict:
    """Another key of the app `appKey` belongs to, as the catalog issues one when its vendor rotates the key.
    Both keys stay valid until one is revoked (`/keys/revoke`); the app's sessions work with either (they are
    the app's, CONTRACT A §5), and each bot still answers only to the key that registered it (A §7)."""
    key = find_key_value(call.platform, call.body, "appKey")
    if key.kind != "app":
        raise ApiError("INVALID_REQUEST", "appKey must be an app key (vibe_app_…)")
    return {"key": call.platform.issue_app_key(call.platform.apps[key.app_id]).value}


@control
def create_personal_key(call: ControlCall) -> dict:
    user = find_user(call.platform, id_field(call.body, "userId"))
    scopes = scopes_field(call.body)
    key = call.platform.issue_personal_key(user, scopes=IMBOT_SCOPES if scopes is None else scopes)
    return {"key": key.value}


@control
def revoke_key(call: ControlCall) -> dict:
    find_key_value(call.platform, call.body, "key").revoked = True
    return {}


@control
def set_rate_limit(call: ControlCall) -> dict:
    """Requests per second for one key (null: back to the default), or the platform default."""
    if call.body.get("key") is not None:
        key = find_key_value(call.platform, call.body, "key")
        if "perSecond" not in call.body:
            raise ApiError(
                "INVALID_REQUEST", "Missing required field: perSecond (a number, or null for the default)"
            )
        key.rate_limit = number_field(
            call.body, "perSecond", required=False, minimum=0, exclusive_minimum=True
        )
        return {}
    call.platform.default_rate_limit = number_field(call.body, "perSecond", minimum=0, exclusive_minimum=True)
    return {}


@control
def create_session(call: ControlCall) -> dict:
    """A user session for an app, as the gateway or OAuth would mint it; the only place a token is shown.

    `ttlSeconds` may be zero or negative to get an already expired token.
    """
    key = find_key_value(call.platform, call.body, "appKey")
    if key.kind != "app":
        raise ApiError(
            "INVALID_REQUEST", "appKey must be an app key (vibe_app_…); personal keys need no session"
        )
    user = find_user(call.platform, id_field(call.body, "userId"))
    ttl = number_field(call.body, "ttlSeconds", required=False)
    session = call.platform.create_session(app=call.platform.apps[key.app_id], user=user, ttl=ttl)
    return {
        "token": session.token,
        "expiresAt": iso(session.expires_at),
        "portalId": session.portal_id,
        "userId": session.user_id,
    }


@control
def update_settings(call: ControlCall) -> dict:
    ttl = number_field(call.body, "sessionTtlSeconds", required=False, minimum=0, exclusive_minimum=True)
    if ttl is not None:
        call.platform.session_ttl = ttl
    return {}


@control
def get_dialects(call: ControlCall) -> dict:
    """The dialects spoken now, and every known one with what it changes."""
    return {"dialects": sorted(call.platform.dialects), "known": DIALECTS}


@control
def set_dialects(call: ControlCall) -> dict:
    """Speak exactly `dialects` (names, or "a,b") from the next request on; [] is the default reading.

    A reset goes back to the dialects the sandbox was started with.
    """
    if "dialects" not in call.body:
        raise ApiError("INVALID_REQUEST", "Missing required field: dialects (a list of names; [] for none)")
    raw = call.body["dialects"]
    if not isinstance(raw, (str, list)):
        raise ApiError("INVALID_REQUEST", 'dialects must be a list of names or a string "a,b"')
    try:
        call.platform.dialects = parse_dialects(raw)
    except ValueError as error:
        raise ApiError("INVALID_REQUEST", str(error)) from None
    return {"dialects": sorted(call.platform.dialects)}


@control
def advance_clock(call: ControlCall) -> dict:
    """Move the platform's clock (session expiry, event dates); negative values move it back."""
    call.platform.clock_offset += number_field(call.body, "advanceSeconds")
    return {"now": iso(call.platform.now())}


_FAULT_FIELDS = {
    "method": "method",
    "path": "path",
    "latencyMs": "latency_ms",
    "errorRate": "error_rate",
    "errorCode": "error_code",
    "dropRate": "drop_rate",
    "garbageRate": "garbage_rate",
    "garbageKind": "garbage_kind",
    "afterAction": "after_action",
}


@control
def add_fault(call: ControlCall) -> dict:
    values: dict[str, Any] = {}
    for name, attribute in _FAULT_FIELDS.items():
        if call.body.get(name) is None:
            continue
        if name in ("method", "path", "errorCode", "garbageKind"):
            values[attribute] = str_field(call.body, name, max_len=300).strip()
        elif name == "afterAction":
            values[attribute] = bool_field(call.body, name)
        else:
            values[attribute] = number_field(call.body, name, minimum=0)
    path = values.get("path", "*")
    if path != "*" and not path.startswith("/"):
        raise ApiError("INVALID_REQUEST", 'path must be "*" or a route path such as /v1/bots/{bot_id}/events')
    return {"id": call.services.faults.add(FaultRule(**values))}


@control
def list_faults(call: ControlCall) -> dict:
    return {"faults": [rule.as_json() for rule in call.services.faults.rules()]}


@control
def clear_faults(call: ControlCall) -> dict:
    call.services.faults.clear()
    return {}


@control
def remove_fault(call: ControlCall) -> dict:
    if not call.services.faults.remove(call.path_id("fault_id", "faultId")):
        raise not_found("FAULT_NOT_FOUND", "No such fault rule")
    return {}


routes = [
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/portals", create_portal, methods=["POST"]),
    Route("/_sandbox/portals/{portal_id}/users", create_user, methods=["POST"]),
    Route("/_sandbox/users/{user_id:int}", update_user, methods=["PATCH"]),
    Route("/_sandbox/apps", create_app, methods=["POST"]),
    Route("/_sandbox/apps/keys", issue_another_app_key, methods=["POST"]),
    Route("/_sandbox/keys", create_personal_key, methods=["POST"]),
    Route("/_sandbox/keys/revoke", revoke_key, methods=["POST"]),
    Route("/_sandbox/rate-limit", set_rate_limit, methods=["POST"]),
    Route("/_sandbox/sessions", create_session, methods=["POST"]),
    Route("/_sandbox/settings", update_settings, methods=["POST"]),
    Route("/_sandbox/dialects", get_dialects, methods=["GET"]),
    Route("/_sandbox/dialects", set_dialects, methods=["POST"]),
    Route("/_sandbox/clock", advance_clock, methods=["POST"]),
    Route("/_sandbox/faults", add_fault, methods=["POST"]),
    Route("/_sandbox/faults", list_faults, methods=["GET"]),
    Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    Route("/_sandbox/faults/{fault_id}", remove_fault, methods=["DELETE"]),
]
