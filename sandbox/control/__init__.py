"""The control API under /_sandbox: set the platform up, act as portal users, read back what bots did.

It has no authentication at all: it is a local test tool, bound to loopback by `runsandbox`, and must
never be exposed beyond the developer's machine. Paths and shapes are listed in docs/sandbox.md.
"""

from __future__ import annotations

from sandbox.control import act, readback, setup

routes = [*setup.routes, *act.routes, *readback.routes]
