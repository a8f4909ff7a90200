"""The app key's rotation: a portal's bot registered under VIBE_APP_KEY_PREVIOUS is retired once the portal
has a bot under VIBE_APP_KEY, and nothing written to it is left unanswered.

A platform bot answers only to the key that registered it (CONTRACT A §7), so the old bot is still polled
and answered with the previous key (botcore.services.platform.app_key_for_bot) until a portal user opens
the app: that visit, verified with the current key, brings the session the new bot is registered with. The
move (bots._provision) then drains the old bot here before it unregisters it: every event it holds is read
and, within a cycle's deadline, handled with its own key, so each answer comes from the bot it was written
to, in the chat it was written in. What the deadline leaves, and what is written to it after that drain in
the moment before it is unregistered (stored by bots.retire_platform_bot), is answered by the new bot.

Where the old bot cannot be drained (its portal has no live session left, or the platform refuses the
previous key), one WARNING per portal says so and the bot's status note keeps it for the operator: nothing
more can be done for what it holds.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.utils import timezone
from django_q.tasks import async_task

from botcore import conf
from botcore.models import Bot
from botcore.selectors import lease_is_free, list_portal_code_bots, task_stamp_free
from botcore.services.eventlog import store_batch
from botcore.services.executor import handle_pending
from botcore.services.platform import client_for_bot, registered_under_previous_app_key
from botcore.vibe.errors import VibeError
from botcore.worker_liveness import new_worker_lease_token
from ops.redaction import redact
from tenants.errors import TenantsError
from tenants.models import Portal

log = logging.getLogger(__name__)

# How often the drain looks again for the bot's lease while a cycle holds it.
LEASE_LOOK_EVERY_SECONDS = 0.2
# The most batches one drain reads: a bot with more waiting than this many batches is still drained of the
# rest by bots.retire_platform_bot (stored, answered by the new bot).
MAX_DRAIN_BATCHES = 20

RETIRED_NOTE = "Moved to a new bot of the app's new key; the old key's bot was drained and unregistered."
NOT_DRAINED_NOTE = (
    "The bot of the app's previous key could not be drained ({reason}): what was written to it since its"
    " last poll is not answered."
)


def request_retirement(portal: Portal) -> bool:
    """A portal user brought a session verified with the current key: if the portal's bot is still the
    previous key's, its move to a bot of the current key is enqueued (bots.ensure_bot_credential, which
    drains and retires the old one), unless a move or provisioning of it is queued or running already (the
    provisioning stamp, as bots.handle_credential_gone takes it): each visit queued one, and each past the
    first held a task queue worker while it waited for the portal's turn. True when enqueued."""
    if not conf.vibe_app_key_previous():
        return False  # no rotation under way: not even a query
    bot = list_portal_code_bots(portal).exclude(status__in=[Bot.Status.RETIRED, Bot.Status.PENDING]).first()
    if bot is None or not registered_under_previous_app_key(bot):
        return False
    taken = Bot.objects.filter(task_stamp_free("provision_requested_at"), pk=bot.pk)
    if not taken.update(provision_requested_at=timezone.now()):
        return False  # the task queued or running moves it (move_portal_bot frees the stamp as it ends)
    log.info("bot of the previous app key to be retired portal=%s bot=%s", portal.member_id, bot.pk)
    async_task("botcore.tasks.move_portal_bot", portal.pk, task_name=f"move-{portal.pk}")
    return True


SESSION_LOST_NOTE = (
    "The bot of the app's previous key has no session left: it is drained and retired when a portal user"
    " opens the app; until then nothing written to it is answered."
)


def note_session_lost(portal: Portal) -> bool:
    """The portal lost its last session (once per loss): if its bot is still the previous key's, say plainly,
    once, that what is written to it waits for a portal user's visit. True when said."""
    if not conf.vibe_app_key_previous():
        return False
    bot = list_portal_code_bots(portal).exclude(status=Bot.Status.RETIRED).first()
    if bot is None or not registered_under_previous_app_key(bot):
        return False
    log.warning(
        "bot of the previous app key lost its portal's last session portal=%s vibe_bot=%s: it is drained and"
        " retired when a portal user opens the app while VIBE_APP_KEY_PREVIOUS is set; until then nothing"
        " written to it is answered",
        portal.member_id, bot.vibe_bot_id,
    )  # fmt: skip
    Bot.objects.filter(pk=bot.pk).update(status_note=SESSION_LOST_NOTE)
    return True


def drain_previous_key_bot(bot: Bot, *, wait: float | None = None) -> str | None:
    """Read every event the old platform bot `bot` points at holds and answer them with its own key and
    session, within a cycle's deadline (the rest wait in the log for the new bot), holding the bot's lease so
    that no cycle handles them meanwhile; `wait`: how long to wait for that lease (a cycle's deadline). None
    when drained; else, after the one WARNING that says so, the note for the bot's status (what the operator
    and the portal's admin read)."""
    old_id = bot.vibe_bot_id
    if old_id is None:
        return None  # never registered: nothing to drain
    # Both bounds are a cycle's deadline, as the move runs in a task the queue kills at VIBE_Q_TIMEOUT: a
    # cycle holding the lease is done within it, and the drain answers what fits in one cycle's time. A
    # drain bounded by neither waited up to a whole lease (120 s), then answered a thousand waiting
    # messages one by one; its worker was killed mid-move.
    token = _take_lease(bot, wait=conf.cycle_deadline_seconds() if wait is None else wait)
    if token is None:
        return _not_drained(bot, "a poll cycle held it throughout")
    deadline = time.monotonic() + conf.cycle_deadline_seconds()
    try:
        bot.refresh_from_db()
        client = client_for_bot(bot)
        for _ in range(MAX_DRAIN_BATCHES):
            batch = client.get_events(old_id, offset=bot.event_offset, limit=conf.poll_batch_size())
            if store_batch(bot.pk, batch, vibe_bot_id=old_id, lease_token=token) is None:
                return _not_drained(bot, "the bot changed hands while it was drained")
            bot.refresh_from_db()
            # An event left waiting (for a retry, or past the deadline) stays in the log: the new bot answers
            # it, as any move's.
            handle_pending(bot, client=client, lease_token=token, deadline=deadline)
            if not batch.has_more:
                break
    except (VibeError, TenantsError) as error:
        return _not_drained(bot, redact(str(error))[:200])
    finally:
        Bot.objects.filter(pk=bot.pk, lease_token=token).update(lease_token="", lease_until=None)
    log.info("bot of the previous app key drained portal=%s vibe_bot=%s", bot.portal.member_id, old_id)
    return None


def _take_lease(bot: Bot, *, wait: float) -> str | None:
    """The bot's lease, taken as a cycle's is (free, or run out), within `wait` seconds; None if not."""
    # Named as a cycle's is (its pid space and pid), so that a worker killed mid-drain has it handed back by
    # the qcluster that restarts (polling.release_cycles_of), not left to run out.
    token = new_worker_lease_token()
    give_up = time.monotonic() + wait
    while True:
        now = timezone.now()
        until = now + timedelta(seconds=conf.lease_seconds())
        if Bot.objects.filter(lease_is_free(now), pk=bot.pk).update(lease_token=token, lease_until=until):
            return token
        if time.monotonic() >= give_up:
            return None
        time.sleep(LEASE_LOOK_EVERY_SECONDS)


def _not_drained(bot: Bot, reason: str) -> str:
    log.warning(
        "bot of the previous app key not drained portal=%s vibe_bot=%s: %s; what was written to it since its"
        " last poll is not answered",
        bot.portal.member_id, bot.vibe_bot_id, reason,
    )  # fmt: skip
    return NOT_DRAINED_NOTE.format(reason=reason)
