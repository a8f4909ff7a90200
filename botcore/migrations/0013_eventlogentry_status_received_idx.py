"""An index on the event log's (status, received_at): operators read a status's newest events.

Built CONCURRENTLY on PostgreSQL: `migrate` runs while the release before still stores events (the upgrade
runbook), and a plain CREATE INDEX would hold every insert into the log for as long as it reads the table; a
`migrate` killed during the build and run again finishes it (botcore/migration_operations.py)."""

from django.db import migrations, models

from botcore.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("botcore", "0012_eventlogentry_give_up_right"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="eventlogentry",
            index=models.Index(fields=["status", "received_at"], name="event_status_received_idx"),
        ),
    ]
