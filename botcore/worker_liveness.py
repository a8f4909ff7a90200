"""Which worker process holds a piece of work, and whether it is still alive: the one place that decides it.

Work a worker takes (a poll cycle's lease on its bot, services/polling.py; a skill run it claimed,
SkillRun.worker) names the worker by a token prefix of its pid space (botcore.host_identity) and its pid, so
that work whose process is gone is handed back at once, not after its lease or stamp runs out: a poll
cycle's by the qcluster (polling.release_cycles_of_dead_processes), a run by the minute sweep
(skill_schedules._requeue).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from botcore.host_identity import HOST_TAG_LENGTH, this_host_tag
from ops.heartbeat import find_dead_pid_spaces

# A cycle's lease token begins with this mark, the tag of its process's pid space (botcore.host_identity:
# a pid means nothing to a process of another machine or container) and its pid in hex, then a dash. The
# mark is no hex digit: a token of the release before began with its host name's tag (4 hex digits), so
# neither release takes the other's tokens for its own.
WORKER_TOKEN_MARK = "h"
# The release before's tag: sha256 of the host name alone, as 4 hex digits.
LEGACY_HOST_TAG_LENGTH = 4


def worker_lease_prefix(pid: int | None = None) -> str:
    """How every lease token a cycle in process `pid` (this one) takes begins: its pid space and pid, so that
    a qcluster whose workers were killed hands their bots back at once (release_cycles_of) instead of leaving
    each for its lease to run out, BOTCORE_LEASE_SECONDS (two minutes of silence for those portals)."""
    return f"{WORKER_TOKEN_MARK}{this_host_tag()}{pid or os.getpid():x}-"


def new_worker_lease_token() -> str:
    """A lease token of this process (a cycle's, a drain's): Bot.lease_token's 36 characters, 56 or more of
    them random bits after the prefix."""
    return (worker_lease_prefix() + uuid.uuid4().hex)[:36]


class LeaseHolder(NamedTuple):
    host_tag: str
    pid: int
    is_legacy: bool  # a token of the release before: its host named by host name alone


def read_lease_holder(token: str) -> LeaseHolder | None:
    """The pid space and pid a lease token names, this release's or the release before's; None for the
    poller's and pacer's hand-over tokens (hex, no dash) and anything else."""
    if token.startswith(WORKER_TOKEN_MARK):
        host_tag, is_legacy = token[1 : 1 + HOST_TAG_LENGTH], False
        rest = token[1 + HOST_TAG_LENGTH :]
    else:
        host_tag, is_legacy = token[:LEGACY_HOST_TAG_LENGTH], True
        rest = token[LEGACY_HOST_TAG_LENGTH:]
    pid, dash, _ = rest.partition("-")
    try:
        return LeaseHolder(host_tag, int(pid, 16), is_legacy) if dash and pid else None
    except ValueError:
        return None


def _process_exists(pid: int) -> bool:
    """Whether `pid` is a process still running: a zombie (dead, not yet reaped by its parent, which for a
    worker of a cluster killed whole is whatever adopted it, when it gets round to it) runs no cycle."""
    try:
        os.kill(pid, 0)  # no signal: only whether the pid is in use
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc to read (not Linux): in use, as kill() said
    return stat.rpartition(")")[2].split()[:1] != ["Z"]  # the state follows the command's closing bracket


class GoneWorkers(NamedTuple):
    pids: list[int]  # processes of this pid space no longer running
    pid_spaces: list[str]  # other pid spaces every process of which reads not alive

    def token_prefixes(self) -> list[str]:
        """How every token of a gone worker begins."""
        return [worker_lease_prefix(pid) for pid in self.pids] + [
            WORKER_TOKEN_MARK + pid_space for pid_space in self.pid_spaces
        ]


def find_gone_workers(tokens: Iterable[str], *, now: datetime) -> GoneWorkers:
    """Of the workers these tokens (or token prefixes) name, those proven gone, two ways. In this pid space
    (this host name, boot and PID namespace: botcore.host_identity), the token's pid is in use by no process
    (a pid in use again, by anything, keeps its work). In another, a pid says nothing here, but its
    processes' heartbeat rows name it: once at least one does and every one reads not alive
    (ops.heartbeat.find_dead_pid_spaces), its workers are gone, as a container restarted (in a new PID
    namespace) needs for those of the qcluster it replaced. A pid space with a live row keeps its work, as
    does one with no row at all (a process that never beat), and a token of the release before, whose token
    names its host by host name alone: those wait for their lease or stamp to run out."""
    tag = this_host_tag()
    holders = [h for h in map(read_lease_holder, tokens) if h is not None and not h.is_legacy]
    pids = {h.pid for h in holders if h.host_tag == tag}
    return GoneWorkers(
        pids=sorted(pid for pid in pids if not _process_exists(pid)),
        pid_spaces=sorted(find_dead_pid_spaces({h.host_tag for h in holders if h.host_tag != tag}, now=now)),
    )
