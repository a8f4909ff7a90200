"""A liveness beat says until when its process lives (`alive_until`), apart from the work's max age.
Expand-only: the column is nullable, and a row the release before beats (without it) is read by its kind's
max age, as that release read it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0006_heartbeat_liveness"),
    ]

    operations = [
        migrations.AddField(
            model_name="heartbeat",
            name="alive_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
