"""GET /_sandbox/stats: running counts of platform calls by endpoint and status (for benchmarks)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.hosts import refuse_foreign_host
from sandbox.http import ApiError, envelope_error


async def stats(request: Request) -> Response:
    try:
        refuse_foreign_host(request)
    except ApiError as error:
        return envelope_error(error)
    calls = request.app.state.services.calls
    return JSONResponse(
        {
            "success": True,
            "data": {
                "byRoute": dict(calls.by_route),
                "byStatus": {str(k): v for k, v in calls.by_status.items()},
            },
        }
    )


routes = [Route("/_sandbox/stats", stats, methods=["GET"])]
