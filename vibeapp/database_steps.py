"""Migrate the database saying what it does, one line per app, for `runstack`'s start.

A fresh clone's first `make run` applies about ninety migrations (5-20 s on a shared 2-core machine): one
quiet "Preparing the database…" over that looked hung, and Django's own `migrate` prints a line per
migration. So the start says how many there are, then one line as each app's begin, then how long it took;
a start that finds them all applied says so in one line.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from django.core.management import call_command
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def pending_migrations(database: str = DEFAULT_DB_ALIAS) -> list[tuple[str, str]]:
    """(app label, migration name) of every migration not applied yet, in the order migrate applies them."""
    executor = MigrationExecutor(connections[database])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [(migration.app_label, migration.name) for migration, backwards in plan if not backwards]


def describe_database(database: str = DEFAULT_DB_ALIAS) -> str:
    """The engine and the database's name ("SQLite, /path/db.sqlite3", "PostgreSQL, vibeapp"), never its
    credentials (a URL's password is in the connection's settings, not in its NAME)."""
    connection = connections[database]
    return f"{connection.display_name}, {connection.settings_dict['NAME']}"


class _StepwiseMigrate(MigrateCommand):
    """Django's migrate, its line per migration replaced by one per app, as the app's first one starts."""

    def __init__(self, *, counts: Counter[str], write: Callable[[str], None]) -> None:
        super().__init__()
        self.counts = counts
        self.write_line = write
        self.started: set[str] = set()

    def migration_progress_callback(self, action, migration=None, fake=False):
        if action == "apply_start" and migration.app_label not in self.started:
            self.started.add(migration.app_label)
            count = self.counts[migration.app_label]
            self.write_line(f"  {migration.app_label}: {count} migration{'s' if count != 1 else ''}…")


def migrate_in_steps(write: Callable[[str], None], database: str = DEFAULT_DB_ALIAS) -> int:
    """Apply every pending migration, writing what it does through `write`; return how many were applied.

    Errors are migrate's own, raised as they are."""
    pending = pending_migrations(database)
    if not pending:
        write(f"Database up to date ({describe_database(database)}).")
        # Still run it: migrate's post_migrate work (content types, permissions) is quick and idempotent.
        call_command("migrate", database=database, verbosity=0)
        return 0
    write(
        f"Preparing the database ({describe_database(database)}): {len(pending)} migrations to apply,"
        " once (a later start finds them applied)"
    )
    started = time.monotonic()
    counts = Counter(app_label for app_label, _name in pending)
    call_command(_StepwiseMigrate(counts=counts, write=write), database=database, verbosity=0)
    write(f"Database ready: {len(pending)} migrations applied in {time.monotonic() - started:.0f} s.")
    return len(pending)
