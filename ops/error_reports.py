"""Django's error report, credentials redacted as in the logs: the debug page (DJANGO_DEBUG) and its text
(what a mail to ADMINS carries) list every frame's variables and the request's query and form, where session
tokens and keys pass; Django hides only settings and headers, by their names."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter

from ops.logs import REDACTED, redact


class RedactingExceptionReporter(ExceptionReporter):
    def get_traceback_html(self) -> SafeString:
        # The page is HTML already escaped: the mark is put in as text, not as a tag.
        return mark_safe(redact(super().get_traceback_html()).replace(REDACTED, escape(REDACTED)))

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact(super().get_traceback_text()))  # plain text, safe as Django marks it
