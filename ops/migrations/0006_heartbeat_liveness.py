"""A heartbeat row says apart when its process last lived (`beat_at`), last did its work (`worked_at`) and
whether it was stopped on purpose (`stopped_at`). Expand-only: both columns are nullable, and the release
before goes on beating `beat_at` after its work, which the new readers take as life (it is). The rows there
are have their last work filled from their last beat, which was one: /readyz reads the work, and would say
"never" until each process works again."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0005_heartbeat_release"),
    ]

    operations = [
        migrations.AddField(
            model_name="heartbeat",
            name="worked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="heartbeat",
            name="stopped_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE ops_heartbeat SET worked_at = beat_at WHERE worked_at IS NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
