"""The chat page at /chat: a person plays a portal user against the bots, through the control API.

The page is static HTML plus vanilla JS (sandbox/static/sandbox/); it reads and acts only through
/_sandbox, so what a person does there is exactly what a test does with the control API. A strict
Content-Security-Policy (scripts and styles from this server only, no inline script) backs up the
page's own rule that user and bot text only ever reaches the DOM as text nodes.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/chat/static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def static_url(name: str) -> str:
    """The URL of one of the page's assets, versioned by its modification time so edits are never stale."""
    path = STATIC_DIR / "sandbox" / name
    version = int(path.stat().st_mtime) if path.exists() else 0
    return f"{STATIC_PREFIX}/sandbox/{name}?v={version}"


async def chat_page(request: Request) -> Response:
    response = templates.TemplateResponse(request, "sandbox/chat.html", {"static_url": static_url})
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


routes = [
    Route("/chat", chat_page, methods=["GET"]),
    Mount(STATIC_PREFIX, app=StaticFiles(directory=str(STATIC_DIR)), name="chat-static"),
]
