"""The idempotency key a skill sends another service with a call that makes something there.

A deferred job or a scheduled run whose worker dies after the service acted (or whose answer is lost) runs
again from its start, and its call is sent again: nothing in the engine can take back a request that left.
A service that takes an idempotency key (an `Idempotency-Key` header, a client reference field) answers the
repeat with what the first call made, if the key is the same on every run of that job and on no other
job's. The run's key (`BackendEvent.run_key`) is that: the engine stores the run under it before it first
runs, and every attempt of the run carries it. It is unique per portal and skill only, so the key adds the
portal and what the call is for. A platform event's own id is no key: it is unique per platform bot only
(the next portal's bot, or this portal's after its bot moved, numbers its events from the start again).
"""

from __future__ import annotations

import hashlib

from botcore.skills.events import BackendEvent, SkillEvent


def idempotency_key(run: SkillEvent, call: str) -> str:
    """The same text on every attempt of this deferred job or scheduled run, and on no other call: 64 hex
    digits (a hash, so it says nothing of the portal or the run to the service, and fits any key field).

    `call` names what the call makes, with the skill's name in it ("tickets:file"): two calls of one job,
    or two skills' jobs that share a run key (each install's run), get keys of their own.
    Raises TypeError for a platform event: make the call in a deferred job (`ctx.defer`) and key it there."""
    if not isinstance(run, BackendEvent):
        raise TypeError(
            f"idempotency_key needs a deferred job or a scheduled run, not a {type(run).__name__}: make the"
            " outside call in a deferred job (ctx.defer) and pass that job's event (docs/skills.md §17.1)"
        )
    if not call:
        raise ValueError('idempotency_key needs `call`, what the call makes, e.g. "tickets:file"')
    material = "\x1f".join((run.portal_member_id, run.run_key, call))
    return hashlib.sha256(material.encode()).hexdigest()


__all__ = ["idempotency_key"]
