"""Migrations only expand: the release before a migration keeps running while `migrate` runs.

An upgrade migrates before the processes restart on the new code (compose's `migrate` service, the upgrade
runbook in docs/operators.md), so for a while the old release still writes, its INSERTs naming only the
columns it knows and its SELECTs every column it knows. A column added NOT NULL with only a Python default
has no default in the database (Django drops it once the existing rows are filled): each old INSERT failed
(an install was a 500 on tenants_portal.turn_token). A column or table removed or renamed fails every old
SELECT. Contract in a later release, once nothing runs the code that reads the old shape.
"""

from __future__ import annotations

from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.models.fields import NOT_PROVIDED

OUR_APPS = ("tenants", "botcore", "ops")

# Shipped before this gate, each column filled by its migration; a rolling upgrade over them is past.
# tenants 0005's column has its database default since 0006, and 0004's since 0007.
SHIPPED_BEFORE = {
    ("botcore", "0003_reliability"),
    ("tenants", "0004_portal_credentials_stamp"),
    ("tenants", "0005_portal_turn"),
}

CONTRACTING = (
    migrations.RemoveField,
    migrations.RenameField,
    migrations.DeleteModel,
    migrations.RenameModel,
)


def _our_migrations():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for key, migration in sorted(loader.disk_migrations.items()):
        if key[0] in OUR_APPS and key not in SHIPPED_BEFORE:
            yield key, migration


def test_a_column_a_migration_adds_is_nullable_or_has_a_database_default():
    refused = [
        f"{app}.{name}: {op.model_name}.{op.name}"
        for (app, name), migration in _our_migrations()
        for op in migration.operations
        if isinstance(op, migrations.AddField)
        and not op.field.null
        and not op.field.many_to_many
        and op.field.db_default is NOT_PROVIDED
    ]
    assert not refused, f"NOT NULL without db_default (the release before cannot insert): {refused}"


def test_no_migration_removes_or_renames_what_the_release_before_reads():
    refused = [
        f"{app}.{name}: {type(op).__name__} {getattr(op, 'model_name', '')} {op.name}".replace("  ", " ")
        for (app, name), migration in _our_migrations()
        for op in migration.operations
        if isinstance(op, CONTRACTING)
    ]
    assert not refused, f"contracts the schema under the running release: {refused}"


# Tables that grow with the portals' traffic: a plain CREATE INDEX on one holds every write to it for as long
# as it reads the table (botcore 0007's on the event log: ~0.75 s per 300,000 rows in an operator trial, and
# growing), while the release before still stores events.
GROWING_TABLES = {
    ("botcore", "eventlogentry"),
    ("botcore", "skillrun"),
    ("botcore", "actionrecord"),
    ("botcore", "conversationstate"),
}
# Shipped before this gate, while the tables were small.
PLAIN_INDEXES_SHIPPED = {
    ("botcore", "0001_initial"),
    ("botcore", "0003_reliability"),
    ("botcore", "0007_event_message_id"),
}


def _indexed(field) -> bool:
    return bool(getattr(field, "db_index", False) or getattr(field, "unique", False))


def test_an_index_on_a_table_that_grows_with_traffic_is_built_concurrently():
    from django.contrib.postgres.operations import AddIndexConcurrently

    loader = MigrationLoader(None, ignore_no_migrations=True)
    refused = []
    for (app, name), migration in _our_migrations():
        if (app, name) in PLAIN_INDEXES_SHIPPED:
            continue
        for op in migration.operations:
            model = (app, getattr(op, "model_name", "").lower())
            if model not in GROWING_TABLES:
                continue
            if isinstance(op, migrations.AddIndex) and not isinstance(op, AddIndexConcurrently):
                refused.append(f"{app}.{name}: AddIndex {op.index.name}")
            field = getattr(op, "field", None)
            if isinstance(op, migrations.AlterField) and _indexed(field):
                # An index the field had before is not built again: a new label (verbose_name) on an indexed
                # field alters nothing in the database.
                before = loader.project_state((app, name), at_end=False).models[model].fields[op.name]
                if _indexed(before):
                    continue
            if isinstance(op, (migrations.AddField, migrations.AlterField)) and _indexed(field):
                refused.append(f"{app}.{name}: {type(op).__name__} {op.name} with an index")
    assert not refused, f"a plain index build holds the table's writes (AddIndexConcurrently): {refused}"
