"""Run-time fault injection: added latency, error rates, forced error codes, dropped connections."""
from __future__ import annotations

from starlette.requests import Request


class Faults:
    async def before(self, request: Request) -> None:
        """Apply the faults configured for this request's endpoint (see the sandbox issue)."""
        return None
