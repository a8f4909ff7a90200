"""Binds each web request's log context: the gateway's X-Vibe-Request-Id (when well-formed), cleared after."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from ops.logs import bind_log_context, clear_log_context, is_request_id


class RequestLogContextMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        clear_log_context()
        request_id = request.headers.get("X-Vibe-Request-Id", "")
        if is_request_id(request_id):
            bind_log_context(request_id=request_id)
        try:
            return self.get_response(request)
        finally:
            clear_log_context()
