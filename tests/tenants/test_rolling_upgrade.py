"""An upgrade migrates while the release before it still runs: rows that release writes must be accepted.

`migrate` runs before the processes restart on the new code (compose's `migrate` service, a deploy by hand),
so for a while the old web still installs portals, its INSERTs naming only the columns it knows. A column
added NOT NULL with only a Python default has no default in the database (Django drops it after filling the
existing rows), and such an install failed with a 500 (NotNullViolation on tenants_portal.turn_token).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tenants.models import Portal

pytestmark = pytest.mark.django_db

# The last tenants migration of the release before the portal's turn (0005) was added.
RELEASE_BEFORE_THE_TURN = ("tenants", "0004_portal_credentials_stamp")
# The last one of the release before the credentials stamp (0004).
RELEASE_BEFORE_THE_STAMP = ("tenants", "0003_grant_role_checked_at")


def test_a_portal_installed_by_the_release_before_the_turn_is_accepted_after_migrate():
    old_apps = MigrationExecutor(connection).loader.project_state(RELEASE_BEFORE_THE_TURN).apps
    OldPortal = old_apps.get_model("tenants", "Portal")

    OldPortal.objects.create(member_id="m-old", vibe_portal_id="p-old", domain="old.bitrix24.com")

    portal = Portal.objects.get(member_id="m-old")
    assert portal.turn_token == "" and portal.turn_until is None


def test_a_portal_installed_by_the_release_before_the_stamp_is_accepted_after_migrate():
    """An operator trial's upgrade from that release: each install by the old web after `migrate` was a 500
    (NotNullViolation on tenants_portal.credentials_stamp) until the web was restarted."""
    old_apps = MigrationExecutor(connection).loader.project_state(RELEASE_BEFORE_THE_STAMP).apps
    OldPortal = old_apps.get_model("tenants", "Portal")

    OldPortal.objects.create(member_id="m-older", vibe_portal_id="p-older", domain="older.bitrix24.com")

    portal = Portal.objects.get(member_id="m-older")
    assert portal.credentials_stamp == "" and portal.turn_token == ""
