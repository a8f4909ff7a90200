"""The group chats each platform bot joined (BotChat): kept with the bot, and from the log at the upgrade."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.db.models.deletion import Collector

from botcore.models import Bot, BotChat, EventLogEntry
from tests.botcore.skills.test_portal_admin import make_portal

pytestmark = pytest.mark.django_db(transaction=True)

migration = importlib.import_module("botcore.migrations.0026_bot_chats")


def joined(bot: Bot, event_id: int, dialog_id: str, name: str) -> EventLogEntry:
    chat = {
        "id": event_id,
        "dialogId": dialog_id,
        "type": "chat" if dialog_id.startswith("chat") else "private",
    }
    payload = {
        "eventId": event_id,
        "type": "ONIMBOTV2JOINCHAT",
        "data": {"dialogId": dialog_id, "bot": {"id": bot.vibe_bot_id}, "chat": chat | {"name": name}},
    }
    return EventLogEntry.objects.create(
        bot=bot, vibe_bot_id=bot.vibe_bot_id, vibe_event_id=event_id, event_type="ONIMBOTV2JOINCHAT",
        payload=payload, status=EventLogEntry.Status.IGNORED,
    )  # fmt: skip


def test_the_upgrade_keeps_the_group_chats_of_the_join_events_the_log_holds():
    bot = Bot.objects.create(portal=make_portal("acme"), code="vibe", name="Vibe", vibe_bot_id=7)
    joined(bot, 1, "chat5", "Sales")
    joined(bot, 2, "12", "Alice")  # a private dialog: the new bot writes there unadded
    joined(bot, 3, "chat5", "Sales")  # joined again
    joined(bot, 4, "chat9", "Team")
    migration.keep_chats_joined(apps, None)
    migration.keep_chats_joined(apps, None)  # a migration run again adds nothing
    kept = BotChat.objects.order_by("dialog_id").values_list("vibe_bot_id", "dialog_id", "name")
    assert list(kept) == [(7, "chat5", "Sales"), (7, "chat9", "Team")]


def test_a_bot_the_release_before_deletes_takes_its_chats_with_it():
    """The release before this table keeps running while `migrate` runs, and after a rollback: its purge of
    an uninstalled portal deletes every row of the models it knows, and knows no BotChat (0016's trap)."""
    kept = Bot.objects.create(portal=make_portal("acme"), code="vibe", name="Vibe", vibe_bot_id=7)
    BotChat.objects.create(bot=kept, vibe_bot_id=7, dialog_id="chat5")
    purged = make_portal("globex")
    bot = Bot.objects.create(portal=purged, code="vibe", name="Vibe", vibe_bot_id=8)
    BotChat.objects.create(bot=bot, vibe_bot_id=8, dialog_id="chat6")

    collector = Collector(using=connection.alias)
    collector.collect([purged])
    collector.data.pop(BotChat, None)
    collector.fast_deletes = [rows for rows in collector.fast_deletes if rows.model is not BotChat]
    collector.delete()  # the FOREIGN KEY would fail it at its commit

    assert not Bot.objects.filter(pk=bot.pk).exists()
    assert list(BotChat.objects.values_list("dialog_id", flat=True)) == ["chat5"]
