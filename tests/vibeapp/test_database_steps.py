"""What `runstack` says while it prepares the database (vibeapp/database_steps.py). The first start on a
fresh database, its lines per app, is held in tests/test_runstack.py (a real start, slow)."""

from __future__ import annotations

import pytest

from vibeapp.database_steps import migrate_in_steps, pending_migrations


@pytest.mark.django_db
def test_a_start_on_a_migrated_database_says_so_in_one_line():
    lines: list[str] = []
    assert pending_migrations() == []
    assert migrate_in_steps(lines.append) == 0
    assert len(lines) == 1 and lines[0].startswith("Database up to date ("), lines
