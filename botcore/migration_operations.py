"""Schema operations botcore's migrations share: an index built without holding the writes of a busy table."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """AddIndexConcurrently where the database has it, a plain AddIndex elsewhere (SQLite).

    A concurrent build runs outside a transaction: a `migrate` killed during it (a deploy step's timeout, a
    closed terminal) records nothing, while the build finishes in the database or is cancelled there, leaving
    an invalid index of that name. `migrate` run again keeps a valid one and builds an invalid one anew; it
    failed on `relation "…" already exists`, and the upgrade waited on an operator's DROP INDEX."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
            return
        name = schema_editor.quote_name(self.index.name)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
            left = cursor.fetchone()
            if left is not None and left[0]:
                return  # a killed migrate's build finished
            if left is not None:  # waits for a build of it still running, then drops what it left
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
