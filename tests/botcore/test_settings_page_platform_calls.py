"""A skill's settings page asks the platform for the portal's people only for an admin's form, and not on
every view: from a trial, a member reloading the standup's page (where no picker is shown) made one
GET /v1/users per view on the app key's shared budget, and twelve such loops slowed every other portal's
bot from half a second to over a minute."""

from __future__ import annotations

import pytest

from tenants.models import SessionGrant
from tests.botcore.skills.test_portal_admin import signed_in

pytestmark = pytest.mark.slow


def users_calls(sp) -> int:
    return len(sp.control.get("/_sandbox/calls", params={"path": "/v1/users"}).json()["data"]["calls"])


def test_a_members_views_never_ask_the_platform_for_the_portals_people(sandbox_portal):
    member = signed_in(sandbox_portal.portal, is_admin=False)
    for _ in range(5):
        assert member.get("/portal/skills/standup/").status_code == 200
    assert users_calls(sandbox_portal) == 0


def test_an_admins_reloads_ask_for_the_people_once_a_minute_at_most(sandbox_portal):
    grant = SessionGrant.objects.get(portal=sandbox_portal.portal, bitrix_user_id=sandbox_portal.admin_id)
    real = (grant.token, grant.expires_at)
    admin = signed_in(sandbox_portal.portal, is_admin=True)
    grant.refresh_from_db()
    grant.token, grant.expires_at = real  # the admin's real session, which the platform answers
    grant.save()
    for _ in range(5):
        page = admin.get("/portal/skills/standup/").content.decode()
        assert "Boris Ivanov" in page  # the people picker, filled every time
    assert users_calls(sandbox_portal) == 2  # one listing: its page, and the empty one that ends it
