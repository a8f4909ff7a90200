"""A `migrate` stopped while it built an index concurrently can be run again.

CREATE INDEX CONCURRENTLY runs outside a transaction, so a `migrate` killed during the build (a deploy step's
timeout, a closed terminal) records nothing, while the build goes on in the database (its backend does not
notice the client has gone) or is cancelled there, leaving an invalid index of that name. Run again, the
migration failed on `relation "event_status_received_idx" already exists` and the upgrade stopped until an
operator dropped the index by hand.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent index builds are PostgreSQL's"),
]

BEFORE = [("botcore", "0012_eventlogentry_give_up_right")]
WITH_INDEX = [("botcore", "0013_eventlogentry_status_received_idx")]
INDEX = "event_status_received_idx"


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def _index() -> tuple[bool, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = to_regclass(%s)",
            [INDEX],
        )
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1])


def _drop_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


@pytest.fixture
def before_the_index():
    _migrate(BEFORE)
    yield
    executor = MigrationExecutor(connection)
    if WITH_INDEX[0] not in executor.loader.applied_migrations:
        _drop_index()  # what a failed test left
    # The latest state again for the tests after it: every botcore migration, not only up to this index
    # (stopped at 0013, the ones after it were left unapplied for the rest of the run).
    _migrate([node for node in executor.loader.graph.leaf_nodes() if node[0] == "botcore"])


def test_migrate_again_after_a_killed_one_whose_build_finished(before_the_index):
    with connection.cursor() as cursor:  # what the killed migrate's backend went on to build
        cursor.execute(f'CREATE INDEX CONCURRENTLY "{INDEX}" ON botcore_eventlogentry (status, received_at)')

    _migrate(WITH_INDEX)

    valid, definition = _index()
    assert valid and "(status, received_at)" in definition


def _models_before():
    """The models as the schema stands before the index (today's have columns added since: a Bot made from
    them there names one the table has not got)."""
    apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    return (
        apps.get_model(app, name)
        for app, name in (("tenants", "Portal"), ("botcore", "Bot"), ("botcore", "EventLogEntry"))
    )


def test_migrate_again_after_a_build_that_was_cancelled(before_the_index):
    portals, bots, entries = _models_before()
    portal = portals.objects.create(member_id="m1", vibe_portal_id="p1", domain="p1.bitrix24.com")
    bot = bots.objects.create(portal=portal, code="main", name="Bot")
    for event_id in (1, 2):
        entries.objects.create(bot=bot, vibe_event_id=event_id, event_type="X", payload={})
    # A build that fails leaves its index behind, invalid.
    with connection.cursor() as cursor, pytest.raises(IntegrityError, match="could not create unique index"):
        cursor.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{INDEX}" ON botcore_eventlogentry (status)')
    assert _index()[0] is False

    _migrate(WITH_INDEX)

    valid, definition = _index()
    assert valid and "(status, received_at)" in definition and "UNIQUE" not in definition
