"""GET /_sandbox/stats: running counts of platform calls by endpoint and status (for benchmarks)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def stats(request: Request) -> JSONResponse:
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
