"""Schema operations botcore's migrations share: an index built without holding the writes of a busy table,
and a child table's rows deleted by the database with their parent's."""

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


def cascade_on_delete(*, table: str, column: str, parent: str, trigger: str) -> migrations.RunPython:
    """`table`'s rows deleted with the `parent` row their `column` names, by the database itself.

    For a table a release before does not know: it keeps running while `migrate` runs, and again after a
    rollback, and its purge deletes the rows of every model it knows, then the parent, whose FOREIGN KEY
    then fails at the commit (Django 5.2 cascades in Python only). ON DELETE CASCADE on PostgreSQL, a
    trigger on SQLite (whose foreign keys cannot be altered in place); reversed, the plain key again. In a
    migration of its own after the table's: PostgreSQL makes a new table's foreign key at the migration's end.
    """

    def set_foreign_key(schema_editor, *, cascade: bool) -> None:
        connection = schema_editor.connection
        on_delete = " ON DELETE CASCADE" if cascade else ""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                constraints = connection.introspection.get_constraints(cursor, table)
            for name, constraint in constraints.items():
                if constraint["foreign_key"] == (parent, "id"):
                    schema_editor.execute(
                        f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}", ADD CONSTRAINT "{name}" '
                        f'FOREIGN KEY ("{column}") REFERENCES "{parent}" ("id"){on_delete} '
                        "DEFERRABLE INITIALLY DEFERRED"
                    )
        elif connection.vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{trigger}"')
            if cascade:
                schema_editor.execute(
                    f'CREATE TRIGGER "{trigger}" BEFORE DELETE ON "{parent}" FOR EACH ROW '
                    f'BEGIN DELETE FROM "{table}" WHERE "{column}" = OLD."id"; END'
                )

    return migrations.RunPython(
        lambda apps, schema_editor: set_foreign_key(schema_editor, cascade=True),
        lambda apps, schema_editor: set_foreign_key(schema_editor, cascade=False),
        elidable=False,
    )
