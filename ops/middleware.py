"""Binds each web request's log context: the gateway's X-Vibe-Request-Id (when well-formed), cleared after."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse

from ops.logs import bind_log_context, clear_log_context

_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class RequestLogContextMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        clear_log_context()
        request_id = request.headers.get("X-Vibe-Request-Id", "")
        if _REQUEST_ID.fullmatch(request_id):
            bind_log_context(request_id=request_id)
        try:
            return self.get_response(request)
        finally:
            clear_log_context()
