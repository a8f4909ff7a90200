"""What a skill's context tells the rest of the app of a handling, without knowing who listens (ops counts).

Sent from botcore.skills so that the skill API imports nothing of the engine or of ops (pyproject.toml's
import contracts); a receiver that raises fails the handling, so receivers only count.
"""

from __future__ import annotations

from typing import Literal

from django.dispatch import Signal

# A once-only write (a post, a new chat, an upload) whose call failed after the platform may have made it,
# and what became of it when the work was handled again. Sent with `write` and `outcome`:
# - "in_doubt": the call failed after the platform may have acted; the ledger records it so;
# - "never_arrived": a post or upload whose call failed so, which a read of the chat at once showed never
#   arrived: not in doubt, made again like any failed write;
# - "sent_again": a post in doubt that a repeat cannot show twice, or an upload in doubt its chat showed
#   never arrived, sent again (once it went through);
# - "left": a post in doubt not sent again (the person may lack it; a WARNING says what the check saw);
# - "refused": a chat or upload in doubt, not made again: its work fails (ActionInDoubtError).
write_in_doubt = Signal()

DoubtfulWrite = Literal["post", "chat", "upload"]
DoubtOutcome = Literal["in_doubt", "never_arrived", "sent_again", "left", "refused"]


def tell_write_in_doubt(write: DoubtfulWrite, outcome: DoubtOutcome) -> None:
    write_in_doubt.send(sender=None, write=write, outcome=outcome)
