"""The portal's Bitrix24 page at /portal: the sandbox plays the page that shows the app in a frame.

On the platform a portal user opens the app inside their portal: Bitrix24 loads the app's handler in an iframe
of the portal's page, and the platform's handler sends the frame on to the app behind the gateway (CONTRACT B
§5.2). Here `GET /portal?userId=…[&next=/path]` is that page, on the sandbox's own origin (not the app's, not
the gateway's): its iframe opens the gateway's `/_gateway/open?userId=…&via=init`, so the app meets what it
meets in production, a frame whose parent is another origin. Without `userId` it lists the users to pick from.
Its Content-Security-Policy is the sign-in pages' (no script, no framing of it) plus `frame-src` of the
gateway's origin alone. Without a gateway (`--gateway-port`) there is nothing to frame and the page says so.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.gateway import check_next, refusal_page
from sandbox.gateway_state import GatewayRefusal
from sandbox.numbers import is_decimal
from sandbox.pages import render_page


def gateway_origin(request: Request) -> str | None:
    """The gateway on the host name this page was reached by (127.0.0.1 or localhost: one site with it)."""
    port = request.app.state.gateway_port
    if not port:
        return None
    host = request.url.hostname or "127.0.0.1"
    return f"{request.url.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


async def portal_page(request: Request) -> Response:
    """GET /portal[?userId=…&next=…]: the portal's page with the app in its frame, opened as that user."""
    platform = request.app.state.services.platform
    origin = gateway_origin(request)
    query = request.query_params
    try:
        next_path = check_next(query.get("next"))
        raw_user_id = (query.get("userId") or "").strip()
        if raw_user_id and (not is_decimal(raw_user_id) or len(raw_user_id) > 18):
            raise GatewayRefusal("Choose a user", "userId must be the id of a portal user.", 400)
        user = platform.users.get(int(raw_user_id)) if raw_user_id else None
        if raw_user_id and user is None:
            raise GatewayRefusal("No such user", f"The sandbox has no user {raw_user_id}.", 404)
    except GatewayRefusal as refusal:
        return refusal_page(request, refusal, links=[("Users", "/portal")])
    context = {
        "gateway": origin,
        "user": user,
        "portal": platform.portals[user.portal_id] if user else None,
        "frame_url": (
            f"{origin}/_gateway/open?{urlencode({'userId': user.id, 'next': next_path, 'via': 'init'})}"
            if origin and user
            else None
        ),
        "users": sorted(platform.users.values(), key=lambda u: (u.portal_id, u.id)),
        "portals": platform.portals,
        "next_path": next_path,
    }
    return render_page(request, "portal_frame.html", context, frame_src=origin)


routes = [Route("/portal", portal_page, methods=["GET"])]
