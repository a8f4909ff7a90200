"""Django's error report, credentials redacted as in the logs: the debug page (DJANGO_DEBUG) and its text
(what a mail to ADMINS carries) list every frame's variables and the request's query and form, where session
tokens and keys pass; Django hides only settings and headers, by their names."""

from __future__ import annotations

from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter

from ops.redaction import REDACTED, redact


def _redacted(value: Any) -> Any:
    """`value` with each string in it redacted (dicts, lists and tuples walked; other objects as they are)."""
    if isinstance(value, str):
        return mark_safe(redact(value)) if isinstance(value, SafeString) else redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redacted(item) for item in value)
    return value


class RedactingExceptionReporter(ExceptionReporter):
    def get_traceback_data(self) -> dict[str, Any]:
        # Before the page escapes them: a password holding a quote is no longer whole once written as &#x27;.
        return _redacted(super().get_traceback_data())

    def get_traceback_html(self) -> SafeString:
        # The page is HTML already escaped: the mark is put in as text, not as a tag.
        return mark_safe(redact(super().get_traceback_html()).replace(REDACTED, escape(REDACTED)))

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact(super().get_traceback_text()))  # plain text, safe as Django marks it
