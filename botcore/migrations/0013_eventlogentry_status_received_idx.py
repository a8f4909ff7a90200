"""An index on the event log's (status, received_at): operators read a status's newest events.

Built CONCURRENTLY on PostgreSQL: `migrate` runs while the release before still stores events (the upgrade
runbook), and a plain CREATE INDEX would hold every insert into the log for as long as it reads the table."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """AddIndexConcurrently where the database has it, a plain AddIndex elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


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
