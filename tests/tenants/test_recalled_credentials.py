"""A process keeps the credential it decrypted for a portal only while the portal's credentials stand: every
write to its grants or key (a save, a queryset's update or delete, a bulk write) gives it a new stamp, and
a recalled credential is always what a query would answer for a portal read just now."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.errors import SessionTokenError
from tenants.models import Portal, PortalApiKey, SessionGrant
from tenants.selectors import get_portal_credential, recall_portal_credential

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal() -> Portal:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    grant(portal, user=1, admin=False, token="member")
    return portal


def grant(portal: Portal, *, user: int, admin: bool, token: str, hours: float = 3) -> SessionGrant:
    return SessionGrant.objects.create(
        portal=portal, bitrix_user_id=user, is_admin=admin, source="gateway",
        token=f"vibe_session_{token}", expires_at=timezone.now() + timedelta(hours=hours),
    )  # fmt: skip


def fresh(portal: Portal) -> Portal:
    """The portal as a poll cycle reads it, with its bot, at its start."""
    return Portal.objects.get(pk=portal.pk)


def recalled(portal: Portal, kind: str = "session") -> str:
    answer = recall_portal_credential(fresh(portal), kind=kind)
    assert answer == get_portal_credential(fresh(portal), kind=kind)  # what a query answers now
    return answer.secret


def test_a_recalled_credential_costs_no_query_and_no_decryption_while_nothing_changed(portal, monkeypatch):
    assert recalled(portal) == "vibe_session_member"
    read = fresh(portal)
    monkeypatch.setattr("tenants.selectors.decrypt_secret", lambda raw: pytest.fail("decrypted again"))

    with CaptureQueriesContext(connection) as statements:
        assert recall_portal_credential(read, kind="session").secret == "vibe_session_member"
    assert statements.captured_queries == []


def test_every_kind_of_write_to_grants_or_keys_is_seen_at_the_next_recall(portal):
    assert recalled(portal) == "vibe_session_member"
    admin = grant(portal, user=2, admin=True, token="admin")  # a save (as a user opening the app)
    assert recalled(portal) == "vibe_session_admin"

    SessionGrant.objects.filter(pk=admin.pk).update(invalidated_at=timezone.now())  # the platform refused it
    assert recalled(portal) == "vibe_session_member"

    SessionGrant.objects.filter(pk=admin.pk).update(
        invalidated_at=None, is_admin=False, expires_at=timezone.now() + timedelta(hours=9)
    )
    assert recalled(portal) == "vibe_session_admin"  # now the freshest

    SessionGrant.objects.filter(pk=admin.pk).delete()  # a queryset's delete
    assert recalled(portal) == "vibe_session_member"

    member = SessionGrant.objects.get(portal=portal)
    member.token = "vibe_session_renewed"  # the same user brought a new token
    member.save()
    assert recalled(portal) == "vibe_session_renewed"

    bulk = SessionGrant(
        portal=portal, bitrix_user_id=3, is_admin=True, source="oauth", token="vibe_session_bulk",
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    SessionGrant.objects.bulk_create([bulk])
    assert recalled(portal) == "vibe_session_bulk"

    member.delete()
    SessionGrant.objects.all().delete()
    with pytest.raises(SessionTokenError):
        recall_portal_credential(fresh(portal), kind="session")


def test_a_personal_key_added_replaced_refused_and_removed_is_seen_at_the_next_recall(portal):
    key = PortalApiKey.objects.create(portal=portal, key="vibe_api_first", key_hint="f", added_by_user_id=1)
    assert recalled(portal, "personal") == "vibe_api_first"

    key.key = "vibe_api_second"
    key.save()
    assert recalled(portal, "personal") == "vibe_api_second"

    PortalApiKey.objects.filter(pk=key.pk).update(invalidated_at=timezone.now())
    with pytest.raises(SessionTokenError):
        recall_portal_credential(fresh(portal), kind="personal")

    PortalApiKey.objects.filter(pk=key.pk).update(invalidated_at=None)
    assert recalled(portal, "personal") == "vibe_api_second"
    key.delete()
    with pytest.raises(SessionTokenError):
        recall_portal_credential(fresh(portal), kind="personal")


def test_a_recalled_session_too_close_to_its_expiry_gives_way_to_the_next_usable_one(portal, settings):
    settings.TENANTS_TOKEN_MIN_REMAINING_SECONDS = 600
    grant(portal, user=2, admin=True, token="admin-ending", hours=0.5)
    assert recalled(portal) == "vibe_session_admin-ending"
    read = fresh(portal)

    later = timezone.now() + timedelta(minutes=21)
    with pytest.MonkeyPatch.context() as patch:  # nothing written: only the clock moves on
        patch.setattr("django.utils.timezone.now", lambda: later)
        assert recall_portal_credential(read, kind="session").secret == "vibe_session_member"


def test_an_uninstalled_portal_recalls_nothing(portal):
    assert recalled(portal) == "vibe_session_member"
    Portal.objects.filter(pk=portal.pk).update(status=Portal.Status.UNINSTALLED)

    with pytest.raises(SessionTokenError, match="uninstalled"):
        recall_portal_credential(fresh(portal), kind="session")


def test_two_portals_never_share_a_recalled_credential():
    first = Portal.objects.create(member_id="a", vibe_portal_id="pa", domain="a.bitrix24.com")
    second = Portal.objects.create(member_id="b", vibe_portal_id="pb", domain="b.bitrix24.com")
    grant(first, user=1, admin=True, token="first")
    grant(second, user=1, admin=True, token="second")
    Portal.objects.update(credentials_stamp="same")  # as a migration leaves existing rows

    assert recalled(first) == "vibe_session_first"
    assert recalled(second) == "vibe_session_second"


def test_a_superseded_secret_is_not_kept_beside_the_new_one(portal):
    from tenants import selectors

    assert recalled(portal) == "vibe_session_member"
    grant(portal, user=2, admin=True, token="admin")
    assert recalled(portal) == "vibe_session_admin"

    kept = [
        credential.secret
        for (pk, _kind), (_, credential, _at) in selectors._recalled.items()
        if pk == portal.pk
    ]
    assert "vibe_session_member" not in kept and kept.count("vibe_session_admin") == 1
