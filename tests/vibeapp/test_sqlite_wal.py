"""The embedded default's SQLite write-ahead log gives its room back after a large transaction."""

from __future__ import annotations

import os

import pytest
from django.db import connection, transaction

MIB = 1024 * 1024


@pytest.mark.django_db(transaction=True)
def test_the_wal_shrinks_back_after_a_large_transaction():
    # From an outside trial: pruning 160,000 event log entries grew the WAL to 611 MB, and it stayed that
    # size beside a 682 MB database for as long as the stack ran (SQLite reuses a WAL file, never shrinks it).
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    wal = f"{connection.settings_dict['NAME']}-wal"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE wal_trial (body BLOB)")
        try:
            with transaction.atomic():
                for _ in range(48):
                    cursor.execute("INSERT INTO wal_trial VALUES (zeroblob(%s))", [MIB])
            grown = os.path.getsize(wal)
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.execute("DELETE FROM wal_trial")  # the next write starts the log afresh
        finally:
            cursor.execute("DROP TABLE wal_trial")
    assert grown > 48 * MIB
    assert os.path.getsize(wal) <= 32 * MIB
