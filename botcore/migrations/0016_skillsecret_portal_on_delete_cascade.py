"""A portal's row deleted by a release that does not know botcore_skillsecret takes its secrets with it.

The release before 0015 keeps running while `migrate` runs, and again after a rollback (docs/operators.md,
"Upgrade"); its purge of an uninstalled portal deletes the rows of every model it knows, then the portal, and
the FOREIGN KEY of a secret it left (the portal uninstalled by that release, which does not destroy secrets)
failed the purge at its commit, each time: that portal, and every one after it, was never purged. Django 5.2
cascades in Python only, so the database is told here: ON DELETE CASCADE on PostgreSQL, a trigger on SQLite
(whose foreign keys cannot be altered in place).
"""

from django.db import migrations

TABLE = "botcore_skillsecret"
TRIGGER = "botcore_skillsecret_portal_delete"


def _portal_foreign_keys(schema_editor) -> list[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [name for name, c in constraints.items() if c["foreign_key"] == ("tenants_portal", "id")]


def _set_portal_foreign_key(schema_editor, *, cascade: bool) -> None:
    on_delete = " ON DELETE CASCADE" if cascade else ""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in _portal_foreign_keys(schema_editor):
            schema_editor.execute(
                f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{name}", ADD CONSTRAINT "{name}" FOREIGN KEY '
                f'("portal_id") REFERENCES "tenants_portal" ("id"){on_delete} DEFERRABLE INITIALLY DEFERRED'
            )
    elif vendor == "sqlite":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{TRIGGER}"')
        if cascade:
            schema_editor.execute(
                f'CREATE TRIGGER "{TRIGGER}" BEFORE DELETE ON "tenants_portal" FOR EACH ROW '
                f'BEGIN DELETE FROM "{TABLE}" WHERE "portal_id" = OLD."id"; END'
            )


def cascade(apps, schema_editor):
    _set_portal_foreign_key(schema_editor, cascade=True)


def no_cascade(apps, schema_editor):
    _set_portal_foreign_key(schema_editor, cascade=False)


class Migration(migrations.Migration):
    dependencies = [
        ("botcore", "0015_skillsecret"),
    ]

    operations = [
        migrations.RunPython(cascade, no_cascade, elidable=False),
    ]
