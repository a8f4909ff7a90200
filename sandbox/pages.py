"""The HTML pages of the identity flows (OAuth consent, gateway sign-in, their error pages): one renderer.

The pages are server-rendered, script-free HTML with their CSS inline, so the Content-Security-Policy
allows no script at all and no framing (a consent page must never be clickjacked). There is no
`form-action` directive on purpose: browsers apply it to the redirect after a form post, and the consent
form's whole point is to send the person on to the app's redirect_uri.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))

PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the pages' URLs carry app keys and one-time tokens
}


def render_page(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200, frame_src: str | None = None
) -> Response:
    """`frame_src`: the one origin the page may frame (the portal page's gateway, sandbox/portalpage.py)."""
    response = templates.TemplateResponse(request, f"sandbox/{name}", context, status_code=status)
    response.headers.update(PAGE_SECURITY_HEADERS)
    if frame_src:
        response.headers["Content-Security-Policy"] += f"; frame-src {frame_src}"
    return response


def error_page(
    request: Request, *, title: str, message: str, status: int, links: Sequence[tuple[str, str]] = ()
) -> Response:
    """A plain error page; `links` are (label, href) pairs to where the person can go next."""
    context = {"title": title, "message": message, "links": list(links)}
    return render_page(request, "identity_error.html", context, status=status)
