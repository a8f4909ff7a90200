"""Where each recorded post went, in columns of its own (ActionRecord.posted_in, posted_message_id).

Expand-only: two nullable columns, which the release before, still running while `migrate` runs, neither
names nor needs; it keeps reading the result's "posted_in" key, which this release writes too. 0031 fills
them from the results already held, and 0032 indexes them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("botcore", "0029_event_left_in_doubt"),
    ]

    operations = [
        migrations.AddField(
            model_name="actionrecord",
            name="posted_in",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="actionrecord",
            name="posted_message_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
