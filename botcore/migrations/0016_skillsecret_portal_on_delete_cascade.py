"""A portal's row deleted by a release that does not know botcore_skillsecret takes its secrets with it.

The release before 0015 keeps running while `migrate` runs, and again after a rollback (docs/operators.md,
"Upgrade"); its purge of an uninstalled portal deletes the rows of every model it knows, then the portal, and
the FOREIGN KEY of a secret it left (the portal uninstalled by that release, which does not destroy secrets)
failed the purge at its commit, each time: that portal, and every one after it, was never purged. Django 5.2
cascades in Python only, so the database is told here: ON DELETE CASCADE on PostgreSQL, a trigger on SQLite
(whose foreign keys cannot be altered in place).
"""

from django.db import migrations

from botcore.migration_operations import cascade_on_delete


class Migration(migrations.Migration):
    dependencies = [
        ("botcore", "0015_skillsecret"),
    ]

    operations = [
        cascade_on_delete(
            table="botcore_skillsecret",
            column="portal_id",
            parent="tenants_portal",
            trigger="botcore_skillsecret_portal_delete",
        ),
    ]
