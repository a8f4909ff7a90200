"""Which pid space this process runs in, as the lease tokens of its cycles name it: a pid says whether a
process lives only to a process that shares its machine's boot and its PID namespace.

A host name alone did not say it: containers given one host name (compose's `hostname:` on a scaled
service, pods with hostNetwork, two machines both called `localhost`) each have their own pids, and a
qcluster starting in one of them found the pid of another's live worker gone and handed its lease back,
two cycles on one bot.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from typing import NamedTuple

# Changes at each boot of the machine (the kernel's random uuid); one for every container on it.
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
# The PID namespace this process's pids are numbers in: its inode (and device) differ between two
# containers unless they share the namespace (`pid: host`, a pod's shared process namespace), where a pid
# check is right.
PID_NAMESPACE_PATH = "/proc/self/ns/pid"

# 48 bits: two pid spaces of one fleet sharing a tag by chance is about one in 10^8 for a thousand of them.
HOST_TAG_LENGTH = 12

# Where the identity cannot be read (not Linux, /proc not mounted), a tag no other process tree has: its
# forked workers share it (so a sentinel still hands back the cycles of a worker it saw die), a qcluster
# started later has another, and no process elsewhere under the same host name is judged by a pid check.
_UNIDENTIFIED_TAG = secrets.token_hex(HOST_TAG_LENGTH // 2)


class HostIdentity(NamedTuple):
    host_name: str
    boot_id: str  # "" where it cannot be read
    pid_namespace: str  # "<device>:<inode>", "" where it cannot be read


def read_host_identity() -> HostIdentity:
    """This process's host name, the machine's boot and its PID namespace, as the kernel says them now."""
    try:
        with open(BOOT_ID_PATH) as boot_id_file:
            boot_id = boot_id_file.read().strip()
    except OSError:
        boot_id = ""
    try:
        namespace = os.stat(PID_NAMESPACE_PATH)
        pid_namespace = f"{namespace.st_dev}:{namespace.st_ino}"
    except OSError:
        pid_namespace = ""
    return HostIdentity(socket.gethostname(), boot_id, pid_namespace)


# Tags read, by what could change them: a process's boot and PID namespace are its own for its life (a
# setns or unshare of the PID namespace moves its children, not it), so /proc is read once per process, per
# host name, and per path (the tests stand a file in for another namespace). Read on every lease, /proc
# cost ~1 % of a busy qcluster's samples.
_tags_read: dict[tuple[int, str, str, str], str] = {}


def this_host_tag() -> str:
    """The one answer to "which pid space is this process's", as hex of HOST_TAG_LENGTH: equal for two
    processes only when a pid means the same process to both (one host name, one boot, one PID namespace).
    Never raises."""
    key = (os.getpid(), socket.gethostname(), BOOT_ID_PATH, PID_NAMESPACE_PATH)
    tag = _tags_read.get(key)
    if tag is None:
        tag = _tags_read[key] = _tag_of(read_host_identity())
    return tag


def _tag_of(identity: HostIdentity) -> str:
    if not identity.boot_id or not identity.pid_namespace:
        return _UNIDENTIFIED_TAG
    return hashlib.sha256("\n".join(identity).encode()).hexdigest()[:HOST_TAG_LENGTH]
