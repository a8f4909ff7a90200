"""Each heartbeat names the release its process runs. Expand-only: the column has its default in the database,
so the release before goes on beating while this one migrates."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0004_operator_token_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="heartbeat",
            name="release",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
    ]
