"""A failed scheduled run's notice to the admins the platform did not take is kept for the minute sweep to try
again. Expand-only: a nullable moment and a text with its default in the database, so the release before it
still inserts runs while this one migrates."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("botcore", "0013_eventlogentry_status_received_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="skillrun",
            name="notice_due_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="admins' notice tried again at"),
        ),
        migrations.AddField(
            model_name="skillrun",
            name="notice_text",
            field=models.TextField(blank=True, db_default="", default=""),
        ),
    ]
