"""tenants services with a scripted identity backend: install, refresh, lose and regain, uninstall."""
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from tenants import selectors, services, signals
from tenants.errors import InstallationError, SessionTokenError
from tenants.models import Portal, PortalApiKey, SessionGrant
from tests.fakes import make_identity

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    """Every tenants signal sent during the test, as (name, member_id)."""
    events = []
    receivers = {}
    for name in ("portal_installed", "portal_uninstalled", "portal_session_restored", "portal_session_lost", "portal_session_expiring"):
        def receiver(sender, portal, _name=name, **kwargs):
            events.append((_name, portal.member_id))
        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def test_first_admin_visit_installs_the_portal_and_announces_it(fake_identity, heard):
    fake_identity.sessions["tok-admin"] = make_identity(user_id=1, is_admin=True)
    portal = services.accept_gateway_visit(session_token="tok-admin", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    assert portal.status == Portal.Status.ACTIVE
    assert portal.installed_by_user_id == 1
    assert heard == [("portal_installed", "member-1")]
    assert selectors.get_portal_credential(portal).secret == "tok-admin"


def test_a_member_cannot_install_but_refreshes_an_installed_portal(fake_identity):
    fake_identity.sessions["tok-member"] = make_identity(user_id=2, is_admin=False)
    with pytest.raises(InstallationError):
        services.accept_gateway_visit(session_token="tok-member", claimed_portal_id="portal-uuid-1", claimed_user_id="2")
    assert not Portal.objects.exists()
    fake_identity.sessions["tok-admin"] = make_identity(user_id=1, is_admin=True, expires_in=600)
    services.accept_gateway_visit(session_token="tok-admin", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    portal = services.accept_gateway_visit(session_token="tok-member", claimed_portal_id="portal-uuid-1", claimed_user_id="2")
    assert SessionGrant.objects.filter(portal=portal).count() == 2


def test_an_admins_token_is_preferred_over_a_fresher_members(fake_identity):
    fake_identity.sessions["tok-admin"] = make_identity(user_id=1, is_admin=True, expires_in=600)
    fake_identity.sessions["tok-member"] = make_identity(user_id=2, is_admin=False, expires_in=7200)
    services.accept_gateway_visit(session_token="tok-admin", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    portal = services.accept_gateway_visit(session_token="tok-member", claimed_portal_id="portal-uuid-1", claimed_user_id="2")
    assert selectors.get_portal_credential(portal).secret == "tok-admin"


def test_gateway_headers_that_do_not_match_the_token_owner_are_refused(fake_identity, caplog):
    fake_identity.sessions["tok-admin"] = make_identity(user_id=1, is_admin=True)
    with pytest.raises(InstallationError):
        services.accept_gateway_visit(session_token="tok-admin", claimed_portal_id="another-portal", claimed_user_id="1")
    with pytest.raises(InstallationError):
        services.accept_gateway_visit(session_token="tok-admin", claimed_portal_id="portal-uuid-1", claimed_user_id="99")
    assert not Portal.objects.exists()
    assert "forged gateway headers refused" in caplog.text
    assert "tok-admin" not in caplog.text


def test_an_unknown_token_is_refused(fake_identity):
    with pytest.raises(InstallationError):
        services.accept_gateway_visit(session_token="tok-forged", claimed_portal_id="portal-uuid-1", claimed_user_id="1")


def test_losing_every_token_pauses_the_portal_and_a_fresh_one_resumes_it(fake_identity, heard):
    fake_identity.sessions["tok-1"] = make_identity(user_id=1, is_admin=True)
    portal = services.accept_gateway_visit(session_token="tok-1", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    services.report_credential_refused(portal, kind="session", bitrix_user_id=1)
    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_SESSION
    with pytest.raises(SessionTokenError):
        selectors.get_portal_credential(portal)
    fake_identity.sessions["tok-2"] = make_identity(user_id=1, is_admin=True)
    services.accept_gateway_visit(session_token="tok-2", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    portal.refresh_from_db()
    assert portal.status == Portal.Status.ACTIVE
    assert selectors.get_portal_credential(portal).secret == "tok-2"
    assert [name for name, _ in heard] == ["portal_installed", "portal_session_lost", "portal_session_restored"]


def test_a_session_of_unstated_life_lives_the_default_until_its_first_refusal(fake_identity, heard, settings):
    """GET /v1/me without session.expiresAt (me-no-expiry): assume the contract's life; a 401 ends it."""
    settings.TENANTS_DEFAULT_SESSION_SECONDS = 7200
    fake_identity.sessions["tok-1"] = replace(make_identity(user_id=1, is_admin=True), expires_at=None)
    before = timezone.now()
    portal = services.accept_gateway_visit(
        session_token="tok-1", claimed_portal_id="portal-uuid-1", claimed_user_id="1"
    )
    grant = SessionGrant.objects.get(portal=portal)
    assert before + timedelta(seconds=7200) <= grant.expires_at <= timezone.now() + timedelta(seconds=7200)
    assert selectors.get_portal_credential(portal).secret == "tok-1"
    services.report_credential_refused(portal, kind="session", bitrix_user_id=1)
    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_SESSION
    assert [name for name, _ in heard] == ["portal_installed", "portal_session_lost"]


def test_expiring_sessions_warn_once_and_lapsed_ones_pause(fake_identity, heard, settings):
    from tenants.tasks import warn_expiring_sessions

    settings.TENANTS_EXPIRY_WARNING_SECONDS = 3600
    fake_identity.sessions["tok-1"] = make_identity(user_id=1, is_admin=True, expires_in=1800)
    portal = services.accept_gateway_visit(session_token="tok-1", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    assert warn_expiring_sessions() == 1
    assert warn_expiring_sessions() == 0
    SessionGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    warn_expiring_sessions()
    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_SESSION
    assert ("portal_session_expiring", "member-1") in heard and ("portal_session_lost", "member-1") in heard


def test_uninstall_destroys_secrets_at_once_keeps_data_then_purges_and_reinstall_works(fake_identity, heard, settings):
    settings.TENANTS_RETENTION_DAYS = 7
    fake_identity.sessions["tok-1"] = make_identity(user_id=1, is_admin=True)
    fake_identity.api_keys["vibe_api_k"] = make_identity(user_id=1, is_admin=True, expires_in=0)
    portal = services.accept_gateway_visit(session_token="tok-1", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    services.set_portal_api_key(portal, api_key="vibe_api_k", added_by_user_id=1)
    services.uninstall_portal(portal, reason="admin")
    portal.refresh_from_db()
    assert portal.status == Portal.Status.UNINSTALLED
    assert not SessionGrant.objects.exists() and not PortalApiKey.objects.exists()
    assert services.purge_uninstalled_portals() == 0
    assert services.purge_uninstalled_portals(at=timezone.now() + timedelta(days=8)) == 1
    fake_identity.sessions["tok-again"] = make_identity(user_id=1, is_admin=True)
    portal = services.accept_gateway_visit(session_token="tok-again", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    assert portal.status == Portal.Status.ACTIVE
    assert [name for name, _ in heard] == ["portal_installed", "portal_uninstalled", "portal_installed"]


def test_a_personal_key_of_another_portal_is_refused_and_ours_wins_over_sessions(fake_identity):
    fake_identity.sessions["tok-1"] = make_identity(user_id=1, is_admin=True)
    fake_identity.api_keys["vibe_api_other"] = make_identity(member_id="member-2", vibe_portal_id="p2")
    fake_identity.api_keys["vibe_api_ours"] = make_identity()
    portal = services.accept_gateway_visit(session_token="tok-1", claimed_portal_id="portal-uuid-1", claimed_user_id="1")
    with pytest.raises(InstallationError):
        services.set_portal_api_key(portal, api_key="vibe_api_other", added_by_user_id=1)
    services.set_portal_api_key(portal, api_key="vibe_api_ours", added_by_user_id=1)
    credential = selectors.get_portal_credential(portal)
    assert (credential.kind, credential.secret) == ("personal", "vibe_api_ours")
    assert "vibe_api_ours" not in repr(credential)
