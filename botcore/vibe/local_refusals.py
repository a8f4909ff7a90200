"""Requests that cannot be put on the wire, found before anything is sent (VibeUnsendableRequestError).

httpx refuses a URL too long or holding a character no URL carries (httpx.InvalidURL), a lone surrogate in
a query (UnicodeEncodeError) and a non-ASCII header value (UnicodeEncodeError); h11 under it refuses a header
value with a newline, a NUL or a space at its end (LocalProtocolError, whose text quotes the value). None of
them is the platform's word, and the same request meets the same refusal every time: each becomes one
permanent error saying what was wrong and where, never the value (a header's is a key or a session token, a
download URL carries its own token).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from botcore.vibe.errors import VibeUnsendableRequestError

# What each header we send carries, as an error names it.
_HEADER_NAMES = {"x-api-key": "the API key", "authorization": "the session token"}
# A header value h11 sends (RFC 9110 field-value, ASCII only as httpx encodes it): visible characters, with
# single spaces or tabs only between them.
_FIELD_VALUE = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")
# Past this the path is not worth quoting in an error (an id of 100,000 digits).
_PATH_SHOWN = 200


def header_problem(headers: Mapping[str, str]) -> str | None:
    """Why `headers` cannot be sent, naming the header by what it carries; None when they can."""
    for name, value in headers.items():
        if not _FIELD_VALUE.fullmatch(value):
            what = _HEADER_NAMES.get(name.lower(), f"the {name} header")
            return (
                f"{what} holds a character no HTTP header may carry (a newline, a NUL, a non-ASCII letter,"
                " or a space at its end): it must be replaced, it cannot be sent as it is"
            )
    return None


def shown_path(path: str) -> str:
    """`path` as an error names it: whole unless it is too long to be worth quoting."""
    if len(path) <= _PATH_SHOWN:
        return path
    return f"{path[:_PATH_SHOWN]}… ({len(path)} characters)"


def url_refusal(error: Exception, *, method: str, path: str) -> VibeUnsendableRequestError:
    """The error for httpx's refusal to build a request to `path` (httpx.InvalidURL or UnicodeEncodeError).
    `path` is what may be shown of the URL (a download's is not shown at all)."""
    text = str(error).lower()
    if "too long" in text:
        reason = "the URL is too long to send (an id or a query value far longer than any the platform gives)"
    elif isinstance(error, UnicodeEncodeError):
        reason = "the URL holds a character that cannot be encoded (a lone surrogate)"
    elif "non-printable" in text:
        reason = "the URL holds a control character (a NUL, a newline…)"
    else:
        reason = "the URL is not one HTTP can carry"
    return VibeUnsendableRequestError(reason, method=method, path=shown_path(path))


def build_request(
    http: httpx.Client, method: str, url: str, *, shown_as: str, **options: Any
) -> httpx.Request:
    """http.build_request(method, url, **options), or the VibeUnsendableRequestError for its refusal;
    `shown_as` is what the error may name of the URL."""
    try:
        return http.build_request(method, url, **options)
    except (httpx.InvalidURL, UnicodeEncodeError) as error:
        raise url_refusal(error, method=method, path=shown_as) from None


def path_piece_refusal(piece: str) -> VibeUnsendableRequestError:
    """The error for a piece of a path that cannot be encoded (botcore.vibe.endpoints.base.bot_path)."""
    return VibeUnsendableRequestError(
        f"a piece of the path ({len(piece)} characters) holds a character that cannot be encoded (a lone"
        " surrogate)"
    )


def sending_refusal(method: str, path: str) -> VibeUnsendableRequestError:
    """The error for h11's refusal as the request started (its text quotes the header value refused)."""
    return VibeUnsendableRequestError(
        "the HTTP layer refused a header value as the request started (a key or session token holding a"
        " character no header may carry)",
        method=method,
        path=shown_path(path),
    )
