"""Django's error report, credentials redacted as in the logs: the debug page (DJANGO_DEBUG) and its text
(what a mail to ADMINS carries) list every frame's variables and the request's query and form, where session
tokens and keys pass; Django hides only settings and headers, by their names."""

from __future__ import annotations

from django.views.debug import ExceptionReporter

from ops.logs import redact


class RedactingExceptionReporter(ExceptionReporter):
    def get_traceback_html(self) -> str:
        return redact(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        return redact(super().get_traceback_text())
