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


def test_the_retention_job_prunes_the_chats_of_platform_bots_no_bot_points_at():
    """From an attacker trial: a retired platform bot's chats were kept forever (an uninstalled portal's bot,
    the old bot of a move that crashed after the drain stored its joins, one refused and left PENDING). Only
    the chats of the platform bot a live row points at are read: by the chat picker and by a move's notice."""
    from botcore.retention import prune_bot_chats

    running = Bot.objects.create(
        portal=make_portal("acme"), code="vibe", name="Vibe", vibe_bot_id=7, status=Bot.Status.ACTIVE
    )
    retired = Bot.objects.create(
        portal=make_portal("globex"), code="vibe", name="Vibe", vibe_bot_id=8, status=Bot.Status.RETIRED
    )
    never = Bot.objects.create(
        portal=make_portal("initech"), code="vibe", name="Vibe", status=Bot.Status.PENDING
    )
    for dialog_id in ("chat1", "chat2"):
        BotChat.objects.create(bot=running, vibe_bot_id=7, dialog_id=dialog_id)  # kept: its current bot's
        BotChat.objects.create(bot=running, vibe_bot_id=6, dialog_id=dialog_id)  # a platform bot it moved off
        BotChat.objects.create(
            bot=running, vibe_bot_id=9, dialog_id=dialog_id
        )  # nor a newer one it never had
        BotChat.objects.create(bot=retired, vibe_bot_id=8, dialog_id=dialog_id)
        BotChat.objects.create(bot=never, vibe_bot_id=5, dialog_id=dialog_id)
    assert prune_bot_chats() == 8
    kept = BotChat.objects.values_list("bot_id", "vibe_bot_id", "dialog_id").order_by("dialog_id")
    assert list(kept) == [(running.pk, 7, "chat1"), (running.pk, 7, "chat2")]
    assert prune_bot_chats() == 0


def test_a_move_reads_the_chats_its_old_bot_joined_a_chunk_at_a_time(monkeypatch):
    """From an attacker trial: a move read every chat its old bot ever joined into memory at once (a portal
    user can add the bot to a chat after chat), though past the notice's names and look-ups each is only
    counted. Now it holds at most the named ones and a chunk; the count is the same."""
    import tracemalloc

    from botcore.services import chats_notice

    bot = Bot.objects.create(
        portal=make_portal("acme"), code="vibe", name="Vibe", vibe_bot_id=7, status=Bot.Status.ACTIVE
    )
    rows = 20_000
    BotChat.objects.bulk_create(
        BotChat(bot=bot, vibe_bot_id=7, dialog_id=f"chat{n}", name=f"{n:05d}" + "n" * 250)
        for n in range(rows)
    )
    chats_notice.collect_old_bot_chats(bot)  # a first read's own costs (lazy imports, the query's compiling)
    tracemalloc.start()
    try:
        facts = chats_notice.collect_old_bot_chats(bot)  # no credential left: no look-ups, the joins' names
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert facts is not None
    assert len(facts["chats"]) == chats_notice.MAX_LISTED_CHATS
    assert len(facts["chats"]) + facts["more"] == rows
    # 20,000 names of 255 characters are 5 MB and more held at once (9.7 MB); a chunk's, 0.4 MB.
    assert peak < 1_000_000, peak
