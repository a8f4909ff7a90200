"""What is a secret, in text and in JSON, and how it is written instead (<redacted>): the one decision the log
lines, the stored errors, Django's error report and the event log's payloads all follow.

In text: the platform's credentials and bearer values, a URL's password, a URL query's credential (by its
parameter's name), a quoted field named as a credential, and the values the work under way noted as secret.
In what a person wrote (the platform's payload: `ours=False`), a word after "Bearer" is kept unless it is
shaped as a credential, and a shared link's `code`, `state` and `invite` are its words.
In JSON (a platform's payload): the whole value of every field named as a credential, and in every string
what text loses.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"

# Credentials of the platform (CONTRACT A §2) and bearer values: never written, whoever formats them. Each
# runs over every character a credential may hold (tenants.shapes), not to the first . + / ~ or =. A key's
# prefix counts wherever it starts, a word's end or none: percent-encoded text runs it on from "%20" or "%3A",
# and a name may be glued to it ("key_vibe_api_…").
_SECRET = re.compile(
    r"(vibe_(?:app|api|session)_)[A-Za-z0-9_.~+/=\-]{4,}|(?i:(bearer\s+))([A-Za-z0-9_.~+/=\-]{8,})"
)
# What follows "Bearer" in a person's words ("Bearer something", "the bearer instructions", "BEARER BONDS")
# rather than a credential: letters alone in a word's case (lower, Capitalized or CAPITALS), hyphen-joined,
# a full stop after it, and shorter than a token worth the name. A token has digits, a credential's marks
# (_ . ~ + / =), letters in no word's case (a random one's), or length: in our own text (a log line quoting
# a header) every value after "Bearer" is one, as before.
_WORD_PART = r"(?:[A-Z]?[a-z]+|[A-Z]+)"
_BEARER_WORDS = re.compile(rf"{_WORD_PART}(?:-{_WORD_PART})*\.?")
_LONGEST_BEARER_WORD = 20

# Names of fields whose value is a credential, as an object's key or a URL query's parameter, compared
# lower-cased without "_" and "-" (access_token, accessToken, ACCESS-TOKEN). `auth` is the block imbot's
# webhook events carry (access_token, refresh_token, application_token: CONTRACT B §7.2), AUTH_ID and
# REFRESH_ID a placement's; the rest are what any platform, proxy or file link calls a credential.
_SECRET_NAMES = frozenset(
    {"auth", "authorization", "authid", "refreshid", "sessid", "apikey", "xapikey", "sig", "passwd"}
)
_SECRET_ENDINGS = ("token", "password", "secret", "apikey", "signature")
# ...but a colour token is a style's name (a keyboard button's BG_COLOR_TOKEN, an attach's COLOR_TOKEN).
_STYLE_ENDINGS = ("colortoken",)

# One-time credentials of our own URLs (the OAuth callback's code and state, the sign-in link's invite), by
# name only in a URL's query: as words ("state=active") they are no secret.
_ONE_TIME_PARAMETERS = frozenset({"code", "state", "invite"})
# A URL's parameter: in its query, its fragment (an implicit grant's access_token) or a path's ";" part.
# A value runs to the fragment's "#" (a "#" of its own is percent-encoded), over a ";" (a password's may
# not be).
_QUERY_PARAMETER = re.compile(r"([?&#;])([^=&#;\s\"']+)=([^&#\s\"']+)")

# A field quoted as JSON or a Python dict writes it ("access_token": "…", 'password': '…'), as an error's text
# or a log line quoting a payload does.
_QUOTED_FIELD = re.compile(r"""(["'])([A-Za-z0-9_\-]+)\1(\s*:\s*)(["'])((?:\\.|(?!\4)[^\\])*)\4""")

# A password in a URL's user part: DATABASE_URL's and REDIS_URL's, wherever a URL of theirs is written. It
# runs to the last "@" before the path, as the clients reading the URL take it (urlsplit): a password holding
# an unencoded "@" or a quote is redacted whole (next to another "@" with no space between, more is).
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s\"']*:)[^/?#\s]+@")

# Values known to be secret only by the work under way (a skill's Secret options, opened or given: no pattern
# tells them): redact() takes them out too, wherever they are quoted, until the log context is cleared (each
# request, each task). Shorter ones are left alone: a value of a few characters would blot out every word
# holding it.
_known_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "vibeapp_known_secrets", default=()
)
KNOWN_SECRET_MIN_LENGTH = 4


def note_secrets(values: Iterable[object]) -> None:
    """From now until the log context is cleared, redact() writes each of these strings as <redacted>: in
    log lines, stored errors, Django's error report (its frames' variables and the request's form)."""
    given = [value for value in values if isinstance(value, str) and len(value) >= KNOWN_SECRET_MIN_LENGTH]
    # As written, and as a URL carries it (a library's error names the URL it called: the token in its query
    # or path, percent-encoded, a space as "+" in a query).
    known = {
        form for value in given for form in (value, quote(value, safe=""), quote(value), quote_plus(value))
    }
    if not known.issubset(_known_secrets.get()):
        _known_secrets.set(tuple(sorted(known.union(_known_secrets.get()), key=len, reverse=True)))


def forget_noted_secrets() -> None:
    """The end of the work that noted them (ops.logs.clear_log_context)."""
    _known_secrets.set(())


def is_secret_name(name: str) -> bool:
    """Whether a field or query parameter so named holds a credential (access_token, password, auth…)."""
    key = name.lower().replace("_", "").replace("-", "")
    return key in _SECRET_NAMES or (key.endswith(_SECRET_ENDINGS) and not key.endswith(_STYLE_ENDINGS))


def _query_parameter(match: re.Match[str], *, ours: bool = True) -> str:
    mark, name, _value = match.groups()
    if (ours and name.lower() in _ONE_TIME_PARAMETERS) or is_secret_name(name):
        return f"{mark}{name}={REDACTED}"
    return match.group(0)


def _platform_query_parameter(match: re.Match[str]) -> str:
    return _query_parameter(match, ours=False)


def _quoted_field(match: re.Match[str]) -> str:
    quote_mark, name, colon, value_quote, _value = match.groups()
    if not is_secret_name(name):
        return match.group(0)
    return f"{quote_mark}{name}{quote_mark}{colon}{value_quote}{REDACTED}{value_quote}"


def _secret(match: re.Match[str]) -> str:
    return f"{match.group(1) or match.group(2)}{REDACTED}"


def _secret_in_words(match: re.Match[str]) -> str:
    """_secret, but a word after "Bearer" that is shaped as a person's word (_BEARER_WORDS) is kept."""
    value = match.group(3)
    if value and len(value) < _LONGEST_BEARER_WORD and _BEARER_WORDS.fullmatch(value):
        return match.group(0)
    return _secret(match)


def redact(text: str, *, ours: bool = True) -> str:
    """`text` with every secret in it written <redacted>. `ours=False`: text a person wrote (what the
    platform sent), which quotes none of our own URLs nor headers: its `code`, `state` and `invite`
    parameters are a shared link's words, not one-time credentials, and a word after "Bearer" is redacted
    only where shaped as a credential ("Bearer something" is kept, "Bearer eyJhbGci…" is not)."""
    for value in _known_secrets.get():
        text = text.replace(value, REDACTED)
    text = _SECRET.sub(_secret if ours else _secret_in_words, text)
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_PARAMETER.sub(_query_parameter if ours else _platform_query_parameter, text)
    if ":" in text:
        text = _QUOTED_FIELD.sub(_quoted_field, text)
    return text


def redact_json(value: Any, *, ours: bool = True) -> Any:
    """`value` (JSON: objects, arrays, scalars) with each secret in it written <redacted>: the whole value of
    a field named as a credential (an `auth` block whatever it holds; an empty one is left, nothing to hide),
    and in every string what redact() takes out of text (`ours` as there). A new value; `value` is left
    as it was."""
    if isinstance(value, str):
        return redact(value, ours=ours)
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if isinstance(key, str) and is_secret_name(key) and _holds_something(item)
            else redact_json(item, ours=ours)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_json(item, ours=ours) for item in value]
    return value


def payload_secrets(value: Any) -> set[str]:
    """Each credential `value` (a platform's payload, JSON) holds as it came: every string of a field named
    as a credential (an auth block's access_token, refresh_token…), and every value of a URL query parameter
    so named in its strings (a file link's token). What text quoting the payload, or one of them alone, shows
    with no prefix or name beside it to know it by: an OAuth token is bare hex."""
    found: set[str] = set()

    def collect(item: Any, *, named_secret: bool) -> None:
        if isinstance(item, str):
            if named_secret:
                found.add(item)
            elif "=" in item:
                queried = _QUERY_PARAMETER.finditer(item)
                found.update(m.group(3) for m in queried if is_secret_name(m.group(2)))
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                collect(sub, named_secret=isinstance(key, str) and is_secret_name(key))
        elif isinstance(item, (list, tuple)):
            for sub in item:
                collect(sub, named_secret=named_secret)

    collect(value, named_secret=False)
    return {secret for secret in found if len(secret) >= KNOWN_SECRET_MIN_LENGTH}


def redact_quoting(text: str, payload: Any) -> str:
    """`text` written of a payload's handling (an event's error) as redact() writes it, and without any
    credential the payload holds (payload_secrets), however bare it is quoted: the one rule for an event's
    error where it is stored and where it is shown (an entry stored before secrets were redacted on arrival
    keeps them in its payload, and an error a skill raised then may quote one)."""
    for secret in sorted(payload_secrets(payload), key=len, reverse=True):
        for form in (secret, quote(secret, safe=""), quote_plus(secret)):
            text = text.replace(form, REDACTED)
    return redact(text)


def redact_payload(value: Any) -> Any:
    """What the platform sent (an event's payload) without its credentials: redact_json of a person's words,
    where a link they shared keeps its `code`, `state` and `invite` (only our own URLs' are one-time
    credentials) and a word after "Bearer" is kept unless shaped as a credential."""
    return redact_json(value, ours=False)


def _holds_something(item: Any) -> bool:
    """Whether a credential field's value holds anything (None, "" and an empty block hide nothing)."""
    return item is not None and item != "" and item != {} and item != []
