"""A bot's row deleted by a release that does not know botcore_botchat takes its chat rows with it.

The release before 0026 keeps running while `migrate` runs, and again after a rollback (docs/operators.md,
"Upgrade"); its purge of an uninstalled portal deletes the rows of every model it knows, and a chat row it
left failed the purge at its commit (the FOREIGN KEY), as SkillSecret's did (0016). Django 5.2 cascades in
Python only, so the database is told here: ON DELETE CASCADE on PostgreSQL, a trigger on SQLite. A migration
of its own: PostgreSQL's foreign key of 0026's new table is made only at the end of that migration.
"""

from django.db import migrations

TABLE = "botcore_botchat"
TRIGGER = "botcore_botchat_bot_delete"


def _bot_foreign_keys(schema_editor) -> list[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [name for name, c in constraints.items() if c["foreign_key"] == ("botcore_bot", "id")]


def _set_bot_foreign_key(schema_editor, *, cascade: bool) -> None:
    on_delete = " ON DELETE CASCADE" if cascade else ""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in _bot_foreign_keys(schema_editor):
            schema_editor.execute(
                f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{name}", ADD CONSTRAINT "{name}" FOREIGN KEY '
                f'("bot_id") REFERENCES "botcore_bot" ("id"){on_delete} DEFERRABLE INITIALLY DEFERRED'
            )
    elif vendor == "sqlite":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{TRIGGER}"')
        if cascade:
            schema_editor.execute(
                f'CREATE TRIGGER "{TRIGGER}" BEFORE DELETE ON "botcore_bot" FOR EACH ROW '
                f'BEGIN DELETE FROM "{TABLE}" WHERE "bot_id" = OLD."id"; END'
            )


def cascade(apps, schema_editor):
    _set_bot_foreign_key(schema_editor, cascade=True)


def no_cascade(apps, schema_editor):
    _set_bot_foreign_key(schema_editor, cascade=False)


class Migration(migrations.Migration):
    dependencies = [
        ("botcore", "0026_bot_chats"),
    ]

    operations = [
        migrations.RunPython(cascade, no_cascade, elidable=False),
    ]
