"""The web process's gunicorn worker: gunicorn's threaded one, with a limit on how long a request may keep a
thread waiting for its next bytes.

gunicorn 27's threaded worker waits for a new connection's first bytes without holding a thread for long,
but then reads the request's head and body in a thread, blocking, with no limit: a client that sent part of
a request and then nothing held that thread until it hung up, and as many such connections as the process
has threads (`VIBE_WEB_WORKERS` times `VIBE_WEB_THREADS`) left every page, `/healthz` and `/readyz`
unanswered (a trial: 4 connections, each a request's first lines, against 2 workers of 2 threads). The
socket's receive timeout (SO_RCVTIMEO, which outlives gunicorn's switching the socket to blocking) ends such
a read with EAGAIN, and gunicorn closes the connection (ops.logs.StalledRequestFilter writes it as one
WARNING). A client that stalls by accident (a phone losing its network mid-request) no longer holds a
thread for good; an attacker sending a byte now and then, or opening such connections anew, still holds
them: that is for the proxy in front, which reads each request whole (docs/operators.md, Settings).
"""

from __future__ import annotations

import os
import socket
import struct

from gunicorn.workers.gthread import ThreadWorker

# Longer than any pause a person's browser makes mid-request on a slow network, short beside a page's wait.
READ_PAUSE_SECONDS = int(os.environ.get("VIBE_WEB_READ_PAUSE_SECONDS", "15"))


class ReadPauseLimitedWorker(ThreadWorker):
    def handle(self, conn):
        limit = struct.pack("ll", READ_PAUSE_SECONDS, 0)  # struct timeval
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        return super().handle(conn)
