"""A bot's poll refused by something in the way: what it is, what to tell an operator, what the watch hands
its cycle.

The events call is ours from end to end: its URL holds two numbers, and its headers our key and the
portal's credential. Something in the way (a proxy) that refuses it for its size (413, 414, 431:
REQUEST_TOO_LARGE_STATUSES), or a credential no header may carry (VibeUnsendableRequestError, refused here
before it is sent), refuses the very same request at every poll: it is no outage to back off from and try
again. botcore.services.polling asks again only after the longest backoff and says why once.

A router's answer that the events path is not there (no_events_path: a wrong VIBE_BASE_URL, a platform
without the path, a proxy's route) is backed off step by step as any failure (a proxy's 404 page during a
deploy passes), but said once, plainly, with what to check (no_events_path_reason), not as a bare WARNING
at every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from botcore import conf
from botcore.vibe.errors import (
    NO_HANDLER_STATUSES,
    REQUEST_TOO_LARGE_STATUSES,
    VibeError,
    VibeProtocolError,
    VibeUnsendableRequestError,
)
from tenants.selectors import PortalCredential

# What the cycle names a refusal the watch met by (the route, as the watch's errors name it).
_EVENTS_ROUTE = "/v1/bots/:id/events"
_CREDENTIAL_NAMES = {"session": "session token", "personal": "personal API key"}
# A credential longer than this is the likely cause of a 431: a proxy's usual limit of a header line is 8 KiB
# (nginx's large_client_header_buffers), and a platform's tokens are well under 100 characters.
LARGE_HEADER_CHARS = 4096


def refused_as_built(error: VibeError) -> bool:
    """Whether `error` refused the poll's request as it is built, so that no repeat of it passes."""
    if isinstance(error, VibeUnsendableRequestError):
        return True
    return isinstance(error, VibeProtocolError) and error.status in REQUEST_TOO_LARGE_STATUSES


def no_events_path(error: VibeError) -> TypeGuard[VibeProtocolError]:
    """Whether the poll was answered, outside the platform's envelope, that the events path or its method is
    not there (VibeProtocolError.no_handler_ran): whatever routes requests at the base URL has no such
    route, so no poll passes until the base URL or the route is fixed."""
    if not isinstance(error, VibeProtocolError) or not error.no_handler_ran:
        return False
    return error.method == "GET" and error.path.partition("?")[0].rstrip("/").endswith("/events")


def no_events_path_reason(error: VibeProtocolError) -> str:
    """What an operator is told of a poll that met no events path (no_events_path): what it means and what
    to check. The same for every repeat, so that it is said once a spell (polling._back_off)."""
    return (
        f"the poll (GET {_EVENTS_ROUTE}) was answered {error.status} outside the platform's envelope by"
        f" whatever routes requests at {_base_url_shown()}: no such path or method there, so no poll of any"
        " bot passes. Most likely VIBE_BASE_URL is wrong (its host, or a path prefix missing or extra: the"
        " web app's address rather than the API's), or the platform there has no events path (not a"
        " VibeCode platform, or a version without it); a proxy's route answers so too (its 404 page during a"
        " deploy, which passes). Check VIBE_BASE_URL and the proxy's routes: the bot backs off and polls"
        " again, and no stored event is lost"
    )


def _base_url_shown() -> str:
    """VIBE_BASE_URL as an operator checks it: its scheme, host, port and path, never a user or password it
    may hold, nor a query."""
    parts = urlsplit(conf.vibe_base_url())
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def refusal_reason(error: VibeError, credential: PortalCredential) -> str:
    """What an operator is told of the refusal (refused_as_built) and its likely cause: sizes, never a
    secret. The same for every repeat of one refusal, so that it is said once
    (polling._settle_refused_poll)."""
    if isinstance(error, VibeUnsendableRequestError):
        return f"the poll was not sent: {error.reason}"
    assert isinstance(error, VibeProtocolError)
    name = _CREDENTIAL_NAMES.get(credential.kind, "credential")
    if error.status == 431:
        said = (
            "the poll was refused with 431 (Request Header Fields Too Large) by something in the way (a"
            " proxy): our request headers are larger than it takes; "
        )
        size = len(credential.secret)
        if size > LARGE_HEADER_CHARS:
            return said + (
                f"likely cause: the portal's {name}, of {size} characters. Raise the proxy's header limit"
                " (nginx: large_client_header_buffers), or have the portal's user open the app again for a"
                " new session"
            )
        return said + (
            f"our largest header is the portal's {name}, of only {size} characters, so the proxy's header"
            " limit is far too small (nginx: large_client_header_buffers)"
        )
    if error.status == 414:
        return (
            "the poll was refused with 414 (URI Too Long) by something in the way (a proxy): its URL holds"
            " only the bot's id and offset, so the proxy's limit is far too small (nginx:"
            " large_client_header_buffers)"
        )
    return (
        f"the poll was refused with {error.status} (request too large) by something in the way (a proxy),"
        " though it has no body: look at the proxy's limits (nginx: client_max_body_size)"
    )


def watched_refused_request(vibe_bot_id: int, offset: int, error: VibeProtocolError) -> dict:
    """What the poller hands a bot's cycle of a watch refused as built or answered that no events path is
    there: only its status (the answer's own text stays in the poller), so that the cycle records it without
    sending the same request again (it is answered alike every time; asked again, each backoff step of a
    wrong base URL's spell cost two events calls). Each kind under a key of its own: the release before
    knows only "refused_as_built", and fetches again for a key it does not know."""
    kind = "no_such_path" if error.no_handler_ran else "refused_as_built"
    return {"vibe_bot_id": vibe_bot_id, "offset": offset, kind: {"status": error.status}}


# What the poller's watch met, by the key watched_refused_request hands it under: the statuses it may carry,
# and what the error the cycle raises for it says.
_WATCHED_REFUSALS = {
    "refused_as_built": (REQUEST_TOO_LARGE_STATUSES, "refused as too large by something in the way"),
    "no_such_path": (NO_HANDLER_STATUSES, "answered outside the envelope: no such path or method there"),
}


def refusal_watched(vibe_bot_id: int | None, watched: Mapping[str, Any] | None) -> VibeProtocolError | None:
    """The refusal as built, or the answer that no events path is there, the poller's watch met for this
    platform bot (watched_refused_request), if any."""
    if not watched or watched.get("vibe_bot_id") != vibe_bot_id:
        return None
    for kind, (statuses, said) in _WATCHED_REFUSALS.items():
        refused = watched.get(kind)
        status = refused.get("status") if isinstance(refused, Mapping) else None
        if status in statuses:
            return VibeProtocolError(
                status=status,
                code=None,
                message=f"HTTP {status}: the poller's watch was {said}",
                method="GET",
                path=_EVENTS_ROUTE,
            )
    return None
