"""What a person's event left in doubt (a post, chat or file that may or may not be on the platform) and its
admins' notice of it (services/doubt_notices.py), with a partial index on the few entries so marked: the
minute sweep and the portal page read those only. The column's default is the database's too, so rows the
release before writes while an upgrade rolls get "" (nothing in doubt). Built concurrently on PostgreSQL,
as 0013's."""

from django.db import migrations, models

from botcore.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("botcore", "0028_bot_vibe_bot_gone_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="eventlogentry",
            name="left_in_doubt",
            field=models.CharField(
                blank=True,
                choices=[("post", "a post"), ("chat", "a chat"), ("upload", "a file")],
                db_default="",
                default="",
                max_length=8,
                verbose_name="left in doubt",
            ),
        ),
        migrations.AddField(
            model_name="eventlogentry",
            name="doubt_notice_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="eventlogentry",
            name="doubt_noticed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="eventlogentry",
            index=models.Index(
                condition=models.Q(("left_in_doubt", ""), _negated=True),
                fields=["bot", "received_at"],
                name="event_doubt_idx",
            ),
        ),
    ]
