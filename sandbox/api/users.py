"""GET /v1/users: the portal's employees (scope `user`), which the reference's standup example offers as a
source of participant ids. Not one of the 36 bot endpoints; it answers like the entity API (CONTRACT B §4):
`data` is the list, `meta` has `total` and `hasMore`; `limit` 1..5000 (default 50) and `offset` page it.
Under the `capped-user-pages` dialect a page holds at most 50 users, whatever `limit` asks."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.auth import require_scope
from sandbox.http import ApiError, Call, endpoint
from sandbox.numbers import is_decimal


def _int_param(call: Call, name: str, default: int, *, low: int, high: int) -> int:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return default
    if not is_decimal(raw.removeprefix("-")) or not low <= int(raw) <= high:
        raise ApiError("INVALID_REQUEST", f"{name} must be an integer {low}..{high}")
    return int(raw)


CAPPED_PAGE = 50


@endpoint(auth="key")
async def list_users(call: Call) -> Response:
    caller = call.caller
    assert caller is not None
    if caller.portal is None:
        raise ApiError(
            "TOKEN_MISSING", hint="vibe_app_ keys need Authorization: Bearer <session_token> on every request"
        )
    require_scope(caller.key, "user")
    limit = _int_param(call, "limit", 50, low=1, high=5000)
    offset = _int_param(call, "offset", 0, low=0, high=10**9)
    if call.platform.speaks("capped-user-pages"):
        limit = min(limit, CAPPED_PAGE)
    users = sorted(
        (u for u in call.platform.users.values() if u.portal_id == caller.portal.id), key=lambda u: u.id
    )
    page = users[offset : offset + limit]
    return JSONResponse(
        {
            "success": True,
            "data": [
                {
                    "id": u.id,
                    "name": u.name,
                    "firstName": u.first_name,
                    "lastName": u.last_name,
                    "active": u.active,
                    "isAdmin": u.is_admin,
                    "workPosition": u.work_position,
                    "language": u.language,
                }
                for u in page
            ],
            "meta": {"total": len(users), "hasMore": offset + len(page) < len(users)},
        }
    )


routes = [Route("/v1/users", list_users, methods=["GET"])]
