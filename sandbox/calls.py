"""A bounded record of the platform calls the sandbox received, for tests to read back call by call."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from starlette.requests import Request


@dataclass
class CallRecord:
    seq: int
    at: float
    method: str
    path: str
    query: dict
    key_kind: str | None = None  # "app" / "api"; never the key itself
    key_digest: str | None = None  # which key (ApiKey.digest): an app's rotated keys told apart
    had_bearer: bool = False
    accept_encoding: str | None = None  # the call's Accept-Encoding, as it came (None: none)
    bot_id: int | None = None
    body: dict = field(default_factory=dict)
    status: int | None = None
    error_code: str | None = None
    finished_at: float | None = None

    log: CallLog | None = field(default=None, repr=False)

    def finish(self, status: int, error_code: str | None) -> None:
        if self.log is not None:
            self.log.count_status(status)
        self.status = status
        self.error_code = error_code
        self.finished_at = time.time()

    def as_json(self) -> dict:
        return {
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "keyKind": self.key_kind,
            "keyDigest": self.key_digest,
            "hadBearer": self.had_bearer,
            "acceptEncoding": self.accept_encoding,
            "botId": self.bot_id,
            "body": self.body,
            "status": self.status,
            "errorCode": self.error_code,
            "durationMs": None if self.finished_at is None else round((self.finished_at - self.at) * 1000, 1),
        }


_IDS = re.compile(r"/\d+(?=/|$)")


def route_of(method: str, path: str) -> str:
    """A call's endpoint with its ids masked, e.g. "GET /v1/bots/:id/events", for counting."""
    return f"{method} {_IDS.sub('/:id', path)}"


class CallLog:
    """The last `size` calls in full, and running counts of every call by endpoint and by status."""

    def __init__(self, size: int = 20_000) -> None:
        self.records: deque[CallRecord] = deque(maxlen=size)
        self._seq = itertools.count(1)
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()

    def start(self, request: Request) -> CallRecord:
        record = CallRecord(
            seq=next(self._seq),
            at=time.time(),
            method=request.method,
            path=request.scope["path"],  # not request.url: building a URL object costs on every call
            query=dict(request.query_params),
            accept_encoding=request.headers.get("accept-encoding"),
            log=self,
        )
        self.records.append(record)
        self.by_route[route_of(record.method, record.path)] += 1
        return record

    def count_status(self, status: int) -> None:
        self.by_status[status] += 1

    def clear(self) -> None:
        self.records.clear()
        self.by_route.clear()
        self.by_status.clear()
