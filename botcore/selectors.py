"""Reads of botcore's data."""

from __future__ import annotations

from django.db.models import QuerySet

from botcore.models import Bot, EventLogEntry
from tenants.models import Portal


def get_bot(bot_id: int) -> Bot:
    return Bot.objects.select_related("portal").get(pk=bot_id)


def find_portal_bot(portal: Portal) -> Bot | None:
    return Bot.objects.filter(portal=portal).exclude(status=Bot.Status.RETIRED).first()


def find_active_bot(portal: Portal) -> Bot | None:
    """The portal's bot that is registered on the platform and running, if any."""
    return Bot.objects.filter(portal=portal, status=Bot.Status.ACTIVE, vibe_bot_id__isnull=False).first()


def list_pending_entries(bot: Bot) -> QuerySet[EventLogEntry]:
    """Stored events not yet routed, in the order they arrived (the platform's order within one platform
    bot; a moved bot's drained events before its new bot's): what the next cycle must handle first."""
    return EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.RECEIVED).order_by("pk")
