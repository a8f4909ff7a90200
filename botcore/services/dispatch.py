"""Routes a bot's stored events to skills, in event order: one skill per event, failures kept, never fatal."""
from __future__ import annotations

import logging
import time

from django.utils import timezone

from botcore import conf
from botcore.models import Bot, EventLogEntry
from botcore.selectors import list_pending_entries
from botcore.skills import configs as skill_configs
from botcore.skills.base import Skill
from botcore.skills.runtime import choose_skill
from botcore.vibe import VibeClient
from botcore.vibe.errors import VibeError
from botcore.vibe.events import EventType, MalformedEventError, parse_event
from ops.logs import bind_log_context
from tenants.services import uninstall_portal

log = logging.getLogger(__name__)


def _finish(entry: EventLogEntry, status: str, *, skill: str = "", error: str = "", started: float) -> None:
    entry.status = status
    entry.skill = skill
    entry.error = error[:4000]
    entry.handled_at = timezone.now()
    entry.duration_ms = int((time.monotonic() - started) * 1000)
    entry.save(update_fields=["status", "skill", "error", "handled_at", "duration_ms"])


def handle_entry(entry: EventLogEntry, *, bot: Bot, client: VibeClient, skills: list[tuple[Skill, dict]]) -> str:
    """Hand one stored event to its skill and record the outcome on the entry.

    The attempt is counted before the skill runs, so a worker killed mid-skill is seen on the next
    cycle as an attempt already made; after BOTCORE_HANDLE_MAX_ATTEMPTS the entry is failed, not retried.
    Platform errors that say "try later" (rate limit, outage) propagate so the cycle can back off.
    """
    started = time.monotonic()
    bind_log_context(portal=bot.portal.member_id, bot=bot.pk, event=entry.vibe_event_id)  # on every line from here
    if entry.attempts >= conf.handle_max_attempts():
        _finish(entry, EventLogEntry.Status.FAILED, error=f"gave up after {entry.attempts} attempts", started=started)
        return entry.status
    EventLogEntry.objects.filter(pk=entry.pk).update(attempts=entry.attempts + 1)
    entry.attempts += 1
    try:
        event = parse_event(entry.payload)
    except MalformedEventError as error:
        _finish(entry, EventLogEntry.Status.FAILED, error=f"malformed event: {error}", started=started)
        return entry.status
    chosen, ctx = choose_skill(event, bot=bot, client=client, skills=skills)
    if chosen is None:
        _finish(entry, EventLogEntry.Status.IGNORED, started=started)
        return entry.status
    try:
        chosen.handle(event, ctx)
    except VibeError as error:
        if getattr(error, "is_transient", False):
            raise  # the cycle backs off; the entry stays pending with its attempt counted
        log.warning("skill %s failed on a platform error bot=%s event=%s: %s", chosen.name, bot.pk, entry.vibe_event_id, error)
        _finish(entry, EventLogEntry.Status.FAILED, skill=chosen.name, error=str(error), started=started)
        return entry.status
    except Exception as error:  # a skill's bug must not stall the bot: the entry carries it
        log.exception("skill %s raised bot=%s event=%s", chosen.name, bot.pk, entry.vibe_event_id)
        _finish(entry, EventLogEntry.Status.FAILED, skill=chosen.name, error=f"{type(error).__name__}: {error}", started=started)
        return entry.status
    _finish(entry, EventLogEntry.Status.HANDLED, skill=chosen.name, started=started)
    return entry.status


def handle_pending(bot: Bot, *, client: VibeClient) -> int:
    """Handle every stored, unhandled event of `bot` in order; returns how many were handled."""
    skills: list[tuple[Skill, dict]] | None = None  # loaded only when there is something to handle
    count = 0
    # No transaction around a skill: its HTTP calls must not hold the database's write lock, and the
    # attempt counted before it runs must survive a worker killed mid-skill.
    for entry in list_pending_entries(bot):
        if skills is None:
            skills = skill_configs.list_enabled_skills(bot.portal_id)
        handle_entry(entry, bot=bot, client=client, skills=skills)
        count += 1
        if entry.event_type == EventType.BOT_DELETE:
            # The platform deleted the bot: it was the bot's last event, and the portal's install ends with it.
            log.info("bot deleted on the platform: uninstalling portal=%s bot=%s", bot.portal.member_id, bot.pk)
            uninstall_portal(bot.portal, reason="bot_deleted")
            break
    return count
