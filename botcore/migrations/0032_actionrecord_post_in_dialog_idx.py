"""An index of the recorded posts by bot, dialog and message id: the newest post of the bot's in a dialog
is its one row (selectors.newest_recorded_post_in). Partial, the posts only (reactions, state writes, chats
and uploads are most rows). Built concurrently on PostgreSQL: the table grows with the traffic."""

from django.db import migrations, models

from botcore.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("botcore", "0031_actionrecord_posted_in_filled"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="actionrecord",
            index=models.Index(
                condition=models.Q(("posted_in__isnull", False)),
                fields=["bot", "posted_in", "posted_message_id"],
                name="action_post_in_dialog_idx",
            ),
        ),
    ]
