"""Reads of botcore's data."""
from __future__ import annotations

from django.db.models import QuerySet

from botcore.models import Bot, EventLogEntry
from tenants.models import Portal


def get_bot(bot_id: int) -> Bot:
    return Bot.objects.select_related("portal").get(pk=bot_id)


def find_portal_bot(portal: Portal) -> Bot | None:
    return Bot.objects.filter(portal=portal).exclude(status=Bot.Status.RETIRED).first()


def list_pending_entries(bot: Bot) -> QuerySet[EventLogEntry]:
    """Stored events not yet routed, in the platform's order: what the next cycle must handle first."""
    return EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.RECEIVED).order_by("vibe_event_id")
