"""A bot's row deleted by a release that does not know botcore_botchat takes its chat rows with it.

The release before 0026 keeps running while `migrate` runs, and again after a rollback (docs/operators.md,
"Upgrade"); its purge of an uninstalled portal deletes the rows of every model it knows, and a chat row it
left failed the purge at its commit (the FOREIGN KEY), as SkillSecret's did (0016). Django 5.2 cascades in
Python only, so the database is told here: ON DELETE CASCADE on PostgreSQL, a trigger on SQLite. A migration
of its own: PostgreSQL's foreign key of 0026's new table is made only at the end of that migration.
"""

from django.db import migrations

from botcore.migration_operations import cascade_on_delete


class Migration(migrations.Migration):
    dependencies = [
        ("botcore", "0026_bot_chats"),
    ]

    operations = [
        cascade_on_delete(
            table="botcore_botchat",
            column="bot_id",
            parent="botcore_bot",
            trigger="botcore_botchat_bot_delete",
        ),
    ]
