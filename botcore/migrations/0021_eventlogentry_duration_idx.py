"""A partial index on the event log's (received_at, duration_ms) of the events that have a handler's
duration: the fleet's p95 handler time of the last hour counts and sorts those from the index alone, where
it read every row of the hour twice (1.3 s of the dashboard's 1.5 s at 100,000 events an hour on SQLite,
benchmarks/operator_views.py). Built concurrently on PostgreSQL, as 0013's."""

from django.db import migrations, models

from botcore.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("botcore", "0020_eventlogentry_error_received_idx"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="eventlogentry",
            index=models.Index(
                condition=models.Q(("duration_ms__isnull", False)),
                fields=["received_at", "duration_ms"],
                name="event_duration_idx",
            ),
        ),
    ]
