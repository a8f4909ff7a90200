"""Log lines that say whose they are: portal, bot, event and the gateway's request id from contextvars, as
JSON (VIBE_LOG_FORMAT=json) or text; secrets redacted whatever a caller passed; idle-cycle chatter at DEBUG.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from pythonjsonlogger.json import JsonFormatter

from ops.redaction import forget_noted_secrets, redact, redact_json

CONTEXT_FIELDS = ("portal", "bot", "event", "request_id", "task")
_EMPTY: Mapping[str, object] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "vibeapp_log_context", default=_EMPTY
)


def bind_log_context(**fields: object) -> None:
    """Add fields to every log line of this thread or task from now on (None removes one)."""
    merged = {**_context.get(), **fields}
    _context.set({k: v for k, v in merged.items() if v is not None})


def clear_log_context() -> None:
    _context.set(_EMPTY)
    forget_noted_secrets()


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


# The gateway's request id as the app takes it from X-Vibe-Request-Id: anything else in the header (a client's
# "req_1 status=500", a pasted token) names no request, in the app's lines nor in gunicorn's access lines.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# gunicorn's name for that header's value among an access line's atoms (access_log_format's %({…}i)s).
_REQUEST_ID_ATOM = "{x-vibe-request-id}i"


def is_request_id(value: str) -> bool:
    """Whether a client's X-Vibe-Request-Id is one a log line may name."""
    return _REQUEST_ID.fullmatch(value) is not None


class ContextFilter(logging.Filter):
    """Puts the bound fields on each record (attributes for JSON, a `context` suffix for text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django-q2's worker announces the next task before its pre_execute signal rebinds the context, so its
        # own lines would carry the previous task's fields; they name their task themselves.
        bound = _EMPTY if record.name == "django-q" else _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, bound.get(name))
        record.bound_context = bound
        record.context = "".join(f" {k}={bound[k]}" for k in CONTEXT_FIELDS if k in bound)
        return True


# django-q2's lines about one task: enqueued, created by a schedule, picked up by a worker, done.
PER_TASK_LINE = re.compile(r"Enqueued |Processed '|Process-\S+ (?:processing |created task )")


class IdleNoiseFilter(logging.Filter):
    """django-q2 writes INFO lines for every enqueued and processed task; an idle bot's poll cycles are
    three a second, and the one-minute schedules a dozen lines a minute. They count as DEBUG: dropped unless
    the root logger is at DEBUG (a failed task is an ERROR, kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "django-q" or record.levelno != logging.INFO:
            return True
        message = record.getMessage()
        if PER_TASK_LINE.match(message) or "poll_bot" in message:
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


class ReadinessAnswerFilter(logging.Filter):
    """On django.request: /readyz answering 503 is the probe doing its job, and the view logs what is down
    (a WARNING); Django's own "Service Unavailable: /readyz" would add an ERROR that names nothing on every
    probe of every start-up and outage."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 503:
            return True
        match = getattr(getattr(record, "request", None), "resolver_match", None)
        return getattr(match, "url_name", None) != "readyz"  # the route's name in vibeapp/urls.py


def escaped_path(request: object) -> str:
    """A request's path for a log line, escaped as Django's own request lines have it (log_response): the
    client wrote it, and Django decodes %0a into a line break that would start a line of the client's own."""
    return str(getattr(request, "path", "?")).encode("unicode_escape").decode("ascii")


# Django refuses a body over one of its upload limits with these errors, each logged at ERROR with a
# traceback on django.security.<its class name>; the setting each one names.
BODY_LIMITS: Mapping[type[Exception], str] = MappingProxyType(
    {
        RequestDataTooBig: "DATA_UPLOAD_MAX_MEMORY_SIZE",
        TooManyFieldsSent: "DATA_UPLOAD_MAX_NUMBER_FIELDS",
        TooManyFilesSent: "DATA_UPLOAD_MAX_NUMBER_FILES",
    }
)


def _client_refusal(
    record: logging.LogRecord, *, status: int, message: str, args: tuple[object, ...]
) -> bool:
    """Turn Django's ERROR-with-traceback `record` about a request refused for the client's own doing into
    one WARNING saying `message % args` with the answer's `status`; whether it is still written."""
    record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
    record.exc_info, record.exc_text = None, None
    record.msg, record.args = message, args
    record.status_code = status
    return logging.getLogger(record.name).isEnabledFor(logging.WARNING)


class BodyLimitFilter(logging.Filter):
    """On django.security.RequestDataTooBig and its kin: a body over a limit is the client's doing and is
    answered 413 (ops.views.bad_request); Django's ERROR with a traceback would page whoever watches errors
    for it. The line becomes a WARNING naming the path and the limit."""

    _settings = {error.__name__: setting for error, setting in BODY_LIMITS.items()}

    def filter(self, record: logging.LogRecord) -> bool:
        setting = self._settings.get(record.name.rpartition(".")[2])
        if setting is None:
            return True
        path = escaped_path(getattr(record, "request", None))
        message = "request body refused (413) path=%s over %s=%s"
        return _client_refusal(
            record, status=413, message=message, args=(path, setting, getattr(settings, setting))
        )


class DisallowedHostFilter(logging.Filter):
    """On django.security.DisallowedHost: a Host header not in ALLOWED_HOSTS (any scanner that reaches the
    address rather than the name) is the client's doing, answered 400; Django's ERROR with a traceback paged
    whoever watches errors for each one. The line becomes a WARNING naming the path and the host (cut, and
    quoted: the client wrote it), so a name missing from ALLOWED_HOSTS still shows which."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        meta = getattr(request, "META", {})
        forwarded = settings.USE_X_FORWARDED_HOST and meta.get("HTTP_X_FORWARDED_HOST")
        host = str(forwarded or meta.get("HTTP_HOST", ""))
        message = "request refused (400) path=%s: host %r is not in ALLOWED_HOSTS"
        return _client_refusal(record, status=400, message=message, args=(escaped_path(request), host[:100]))


class RedactingJsonFormatter(JsonFormatter):
    def process_log_record(self, log_data):
        # Each field before JSON escapes its quotes: a message quoting {"password": "…"} is written with \"
        # around each, which no text pattern reads as a field.
        return super().process_log_record(redact_json(log_data))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def formatMessage(self, record: logging.LogRecord) -> str:
        # A line that names its bot or portal itself ("cycle bot=3 portal=m stored=1") is not followed by
        # the same pair again; a field the message does not say, or says with another value, still is.
        bound = getattr(record, "bound_context", _EMPTY)
        said = set(record.message.split())
        record.context = "".join(
            f" {k}={bound[k]}" for k in CONTEXT_FIELDS if k in bound and f"{k}={bound[k]}" not in said
        )
        return super().formatMessage(record)


def build_logging(*, fmt: str, level: str) -> dict:
    """The LOGGING setting: one console handler, text (development) or JSON (VIBE_LOG_FORMAT=json)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": ContextFilter},
            "idle": {"()": IdleNoiseFilter},
            "readiness": {"()": ReadinessAnswerFilter},
            "body_limit": {"()": BodyLimitFilter},
            "disallowed_host": {"()": DisallowedHostFilter},
            "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        },
        "formatters": {
            "text": {
                "()": RedactingTextFormatter,
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s",
            },
            "json": _json_formatter(),
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if fmt == "json" else "text",
                "filters": ["context", "idle"],
            },
            # Django's own, as its DEFAULT_LOGGING has it (a no-op while ADMINS is empty).
            "mail_admins": {
                "class": "django.utils.log.AdminEmailHandler",
                "level": "ERROR",
                "filters": ["require_debug_false"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        # httpx logs every request URL at INFO; URLs are safe but noisy at scale.
        "loggers": {
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            # Its handlers replaced: DEFAULT_LOGGING's console one wrote each django.* line again with DEBUG
            # on, unformatted and unredacted; the lines reach ours through the root.
            "django": {"handlers": ["mail_admins"], "level": "INFO"},
            "django.request": {"filters": ["readiness"]},
            **{f"django.security.{error.__name__}": {"filters": ["body_limit"]} for error in BODY_LIMITS},
            "django.security.DisallowedHost": {"filters": ["disallowed_host"]},
            # The development server's access lines through our handler (redacted, JSON when asked), not
            # Django's own handler for them, which printed the OAuth callback's code as it came.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


class StalledRequestFilter(logging.Filter):
    """On gunicorn.error: a request whose client stopped sending mid-way is ended by the worker's read limit
    (vibeapp/web_worker.py), which gunicorn writes as "Socket error processing request." at ERROR with a
    traceback, one for each such connection anyone opens. It is the client's doing: one WARNING instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.exc_info and isinstance(record.exc_info[1], BlockingIOError)):
            return True
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text = None, None
        record.msg, record.args = (
            "request ended: its client stopped sending (VIBE_WEB_READ_PAUSE_SECONDS)",
            (),
        )
        return logging.getLogger(record.name).isEnabledFor(logging.WARNING)


class AccessRequestIdFilter(logging.Filter):
    """On gunicorn.access: the request id header's value is written only when is_request_id, else "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, dict) and not is_request_id(str(atoms.get(_REQUEST_ID_ATOM, ""))):
            atoms[_REQUEST_ID_ATOM] = "-"
        return True


def build_gunicorn_logging(fmt: str) -> dict:
    """gunicorn's logconfig_dict (deploy/gunicorn.conf.py): its own lines and its access lines redacted as
    the app's are, in text (gunicorn's own layout) or as the app's JSON (VIBE_LOG_FORMAT=json, one object a
    line, so a log shipper reads the web process as it reads the others). An access line quotes the path
    and the request id as the client sent them, and gunicorn's own line a request line it refuses (its
    query too): gunicorn's own handlers wrote a token there as it came. Its loggers and handlers keep
    gunicorn's names (glogging.CONFIG_DEFAULTS)."""
    if fmt == "json":
        formatters = {"own": _json_formatter(), "access": _json_formatter()}
    else:
        formatters = {
            "own": {
                "()": RedactingTextFormatter,
                "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
            },
            "access": {"()": RedactingTextFormatter, "format": "%(message)s"},
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": AccessRequestIdFilter}, "stalled": {"()": StalledRequestFilter}},
        "formatters": formatters,
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "own", "stream": "ext://sys.stdout"},
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "own",
                "stream": "ext://sys.stderr",
            },
            "access_console": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
                "filters": ["request_id"],
            },
        },
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {
                "level": "INFO",
                "handlers": ["error_console"],
                "filters": ["stalled"],
                "propagate": False,
            },
            "gunicorn.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False},
        },
    }


# LogRecord's own attributes: not repeated as JSON fields (the formatter's `format` names the ones kept).
_STANDARD_ATTRS = [
    "args",
    "asctime",
    "created",
    "exc_info",
    "exc_text",
    "filename",
    "funcName",
    "levelname",
    "levelno",
    "lineno",
    "module",
    "msecs",
    "message",
    "msg",
    "name",
    "pathname",
    "process",
    "processName",
    "relativeCreated",
    "stack_info",
    "thread",
    "threadName",
    "taskName",
]


def _json_formatter() -> dict:
    """The JSON formatter's configuration, new each time (dictConfig consumes what it is given)."""
    return {
        "()": RedactingJsonFormatter,
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        "reserved_attrs": [*_STANDARD_ATTRS, "context", "bound_context"],
    }
