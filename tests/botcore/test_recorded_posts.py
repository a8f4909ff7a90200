"""Where the ledger's posts went (ActionRecord.posted_in, posted_message_id): written with each post's record,
filled at the upgrade from the results held, and the newest post in a dialog read as one row of an index."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

from botcore.models import ActionRecord, Bot
from botcore.selectors import newest_recorded_post_in
from botcore.services.action_ledger import DatabaseLedger
from tenants.models import Portal

pytestmark = pytest.mark.django_db

filling = importlib.import_module("botcore.migrations.0031_actionrecord_posted_in_filled")


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE)


def test_a_dialogs_newest_post_is_found_behind_any_number_of_the_bots_later_records(bot):
    """A dialog greeted, then a busy bot's 60 answers elsewhere (each a reaction and a reply recorded): the
    newest 50 records were all that was read, and the greeting, missed, left a later post's doubt judged
    against an older message (its reply, never sent, read as arrived)."""
    ledger = DatabaseLedger(bot_pk=bot.pk)
    ledger.record("greeting", {"id": 100, "posted_in": "12"})
    for number in range(60):
        ledger.record(f"7:{number}:react:1", {"done": True})
        ledger.record(f"reply {number}", {"id": 200 + number, "posted_in": "chat5"})

    assert newest_recorded_post_in(bot, "12") == 100
    assert newest_recorded_post_in(bot, "12", above=100) is None
    assert newest_recorded_post_in(bot, "chat5", above=210) == 259
    assert newest_recorded_post_in(bot, "chat9") is None


def test_the_newest_post_is_the_highest_message_id_not_the_newest_record(bot):
    """A post left in doubt and settled later keeps its older record: its message is the newer one."""
    ledger = DatabaseLedger(bot_pk=bot.pk)
    ledger.record("in doubt", {"in_doubt": True, "after": 90})
    ledger.record("later", {"id": 120, "posted_in": "12"})
    assert newest_recorded_post_in(bot, "12") == 120

    ledger.settle("in doubt", {"id": 130, "posted_in": "12"})

    assert newest_recorded_post_in(bot, "12") == 130


def test_a_posts_record_keeps_where_it_went_in_its_columns_and_its_result(bot):
    ledger = DatabaseLedger(bot_pk=bot.pk)
    ledger.record("post", {"id": 5, "posted_in": "chat5"})
    ledger.record("answer naming no message", {"id": 0, "posted_in": "12"})
    ledger.record("reaction", {"done": True})
    ledger.record("doubt", {"in_doubt": True, "after": 4})

    columns = dict(ActionRecord.objects.values_list("key", "posted_in"))
    assert columns == {"post": "chat5", "answer naming no message": "12", "reaction": None, "doubt": None}
    # The release before reads the result's key (kept, for a rollback): the same post there.
    assert ActionRecord.objects.get(key="post").result == {"id": 5, "posted_in": "chat5"}
    assert ActionRecord.objects.get(key="post").posted_message_id == 5

    ledger.settle("doubt", {"id": 9, "posted_in": "chat5"})
    assert ActionRecord.objects.filter(key="doubt").values_list("posted_in", "posted_message_id").get() == (
        "chat5",
        9,
    )


def test_the_newest_post_in_a_dialog_is_one_statement_on_the_index(bot):
    ledger = DatabaseLedger(bot_pk=bot.pk)
    for number in range(5):
        ledger.record(f"reply {number}", {"id": 200 + number, "posted_in": f"chat{number % 2}"})
    statements: list[tuple[str, tuple]] = []

    def keep(execute, sql, params, many, context):
        statements.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        assert newest_recorded_post_in(bot, "chat1") == 203

    [(sql, params)] = statements
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small is read whole otherwise
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(column) for row in cursor.fetchall() for column in row)
    assert "action_post_in_dialog_idx" in plan, plan
    assert "LIMIT" in sql.upper()  # one row, not the bot's records read in Python


def test_the_upgrade_fills_the_columns_from_the_results_held_a_batch_at_a_time(bot, monkeypatch):
    """Records the release before wrote (the result alone), read in batches smaller than their number."""
    rows = [
        ("greeting", {"id": 100, "posted_in": "12"}),
        ("react", {"done": True}),
        ("reply", {"id": 101, "posted_in": "chat5"}),
        ("doubt", {"in_doubt": True, "after": 100}),
        ("no id", {"id": 0, "posted_in": "chat5"}),
        ("odd", {"id": "x", "posted_in": 5}),
        ("later", {"id": 102, "posted_in": "12"}),
    ]
    ActionRecord.objects.bulk_create(ActionRecord(bot=bot, key=key, result=result) for key, result in rows)
    assert not ActionRecord.objects.filter(posted_in__isnull=False).exists()
    monkeypatch.setattr(filling, "BATCH", 2)

    filling.fill_posted_in(apps, None)
    filling.fill_posted_in(apps, None)  # a migrate run again after it stopped half way: nothing changes

    filled = ActionRecord.objects.order_by("pk").values_list("key", "posted_in", "posted_message_id")
    assert list(filled) == [
        ("greeting", "12", 100),
        ("react", None, None),
        ("reply", "chat5", 101),
        ("doubt", None, None),
        ("no id", "chat5", 0),
        ("odd", None, None),
        ("later", "12", 102),
    ]
    assert newest_recorded_post_in(bot, "12") == 102
