"""tenants services against the sandbox's real identity (GET /v1/me): install, refresh, lose and regain,
uninstall, personal keys."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tenants import handshakes, operations, selectors, services, signals
from tenants.errors import InstallationError, SessionTokenError
from tenants.models import Portal, PortalApiKey, SessionGrant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    """Every tenants signal sent during the test, as (name, member_id)."""
    events = []
    receivers = {}
    names = (
        "portal_installed",
        "portal_uninstalled",
        "portal_session_restored",
        "portal_session_lost",
        "portal_session_expiring",
    )
    for name in names:

        def receiver(sender, portal, _name=name, **kwargs):
            events.append((_name, portal.member_id))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def visit(platform, token: str, user: dict, *, portal_id: str | None = None) -> Portal:
    """What the gateway's X-Vibe-* headers claim, checked against the token."""
    return handshakes.accept_gateway_visit(
        session_token=token,
        claimed_portal_id=portal_id or platform.portal_id,
        claimed_user_id=str(user["id"]),
    )


def test_first_admin_visit_installs_the_portal_and_announces_it(platform, heard):
    token = platform.session(platform.admin)
    portal = visit(platform, token, platform.admin)
    assert portal.status == Portal.Status.ACTIVE and portal.member_id == platform.member_id
    assert portal.installed_by_user_id == platform.admin["id"]
    assert heard == [("portal_installed", platform.member_id)]
    assert selectors.get_portal_credential(portal).secret == token


def test_a_member_cannot_install_but_refreshes_an_installed_portal(platform):
    member_token = platform.session(platform.member)
    with pytest.raises(InstallationError):
        visit(platform, member_token, platform.member)
    assert not Portal.objects.exists()
    visit(platform, platform.session(platform.admin, ttl=600), platform.admin)
    portal = visit(platform, member_token, platform.member)
    assert SessionGrant.objects.filter(portal=portal).count() == 2


def test_an_admins_token_is_preferred_over_a_fresher_members(platform):
    admin_token = platform.session(platform.admin, ttl=600)
    visit(platform, admin_token, platform.admin)
    portal = visit(platform, platform.session(platform.member, ttl=7200), platform.member)
    assert selectors.get_portal_credential(portal).secret == admin_token


def test_gateway_headers_that_do_not_match_the_token_owner_are_refused(platform, caplog):
    token = platform.session(platform.admin)
    other_portal, _ = platform.add_portal("other.bitrix24.com")
    with pytest.raises(InstallationError):
        visit(platform, token, platform.admin, portal_id=other_portal["id"])
    with pytest.raises(InstallationError):
        visit(platform, token, platform.member)
    assert not Portal.objects.exists()
    assert "forged gateway headers refused" in caplog.text
    assert token not in caplog.text


def test_an_unknown_an_expired_and_an_app_less_token_are_refused(platform):
    with pytest.raises(InstallationError):
        visit(platform, "vibe_session_forged", platform.admin)
    with pytest.raises(InstallationError):
        visit(platform, platform.session(platform.admin, ttl=-1), platform.admin)
    with pytest.raises(InstallationError):  # a personal key is no session
        visit(platform, platform.personal_key(platform.admin), platform.admin)
    assert not Portal.objects.exists()


def test_losing_every_token_pauses_the_portal_and_a_fresh_one_resumes_it(platform, heard):
    portal = visit(platform, platform.session(platform.admin), platform.admin)
    services.report_credential_refused(portal, credential=selectors.get_portal_credential(portal))
    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_SESSION
    with pytest.raises(SessionTokenError):
        selectors.get_portal_credential(portal)
    fresh = platform.session(platform.admin)
    visit(platform, fresh, platform.admin)
    portal.refresh_from_db()
    assert portal.status == Portal.Status.ACTIVE
    assert selectors.get_portal_credential(portal).secret == fresh
    assert [name for name, _ in heard] == [
        "portal_installed",
        "portal_session_lost",
        "portal_session_restored",
    ]


def test_a_session_of_unstated_life_lives_the_default_until_its_first_refusal(platform, heard, settings):
    """GET /v1/me without session.expiresAt (the me-no-expiry dialect): assume the contract's life; a 401
    ends it."""
    settings.TENANTS_DEFAULT_SESSION_SECONDS = 7200
    platform.control.post("/_sandbox/dialects", json={"dialects": ["me-no-expiry"]}).raise_for_status()
    token = platform.session(platform.admin)
    before = timezone.now()
    portal = visit(platform, token, platform.admin)
    grant = SessionGrant.objects.get(portal=portal)
    assert before + timedelta(seconds=7200) <= grant.expires_at <= timezone.now() + timedelta(seconds=7200)
    assert selectors.get_portal_credential(portal).secret == token
    services.report_credential_refused(portal, credential=selectors.get_portal_credential(portal))
    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_SESSION
    assert [name for name, _ in heard] == ["portal_installed", "portal_session_lost"]


def test_expiring_sessions_warn_once_and_lapsed_ones_pause(platform, heard, settings):
    from tenants.tasks import warn_expiring_sessions

    settings.TENANTS_EXPIRY_WARNING_SECONDS = 3600
    portal = visit(platform, platform.session(platform.admin, ttl=1800), platform.admin)
    assert warn_expiring_sessions() == 1
    assert warn_expiring_sessions() == 0
    SessionGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    warn_expiring_sessions()
    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_SESSION
    member_id = platform.member_id
    assert ("portal_session_expiring", member_id) in heard and ("portal_session_lost", member_id) in heard


def test_uninstall_destroys_secrets_at_once_keeps_data_then_purges_and_reinstall_works(
    platform, heard, settings
):
    settings.TENANTS_RETENTION_DAYS = 7
    portal = visit(platform, platform.session(platform.admin), platform.admin)
    services.set_portal_api_key(
        portal, api_key=platform.personal_key(platform.admin), added_by_user_id=platform.admin["id"]
    )
    services.uninstall_portal(portal, reason="admin")
    portal.refresh_from_db()
    assert portal.status == Portal.Status.UNINSTALLED
    assert not SessionGrant.objects.exists() and not PortalApiKey.objects.exists()
    assert services.purge_uninstalled_portals() == 0
    assert services.purge_uninstalled_portals(at=timezone.now() + timedelta(days=8)) == 1
    portal = visit(platform, platform.session(platform.admin), platform.admin)
    assert portal.status == Portal.Status.ACTIVE
    assert [name for name, _ in heard] == ["portal_installed", "portal_uninstalled", "portal_installed"]


def test_a_personal_key_is_verified_with_the_platform_and_ours_wins_over_sessions(platform):
    portal = visit(platform, platform.session(platform.admin), platform.admin)
    _, other_admin = platform.add_portal("other.bitrix24.com")
    added_by = platform.admin["id"]
    for refused in (platform.personal_key(other_admin), "vibe_api_" + "0" * 40, platform.app_key):
        with pytest.raises(InstallationError):
            services.set_portal_api_key(portal, api_key=refused, added_by_user_id=added_by)
    revoked = platform.personal_key(platform.admin)
    platform.revoke(revoked)
    with pytest.raises(InstallationError):
        services.set_portal_api_key(portal, api_key=revoked, added_by_user_id=added_by)
    assert not PortalApiKey.objects.exists()
    ours = platform.personal_key(platform.member)  # any user's key of the portal: it acts as its owner
    services.set_portal_api_key(portal, api_key=ours, added_by_user_id=added_by)
    credential = selectors.get_portal_credential(portal)
    assert (credential.kind, credential.secret) == ("personal", ours)
    assert ours not in repr(credential)


def test_a_reverify_the_platform_could_not_answer_tells_the_operator_without_the_credential(monkeypatch):
    """The operator's answer quoted the failure as it came, and the platform's words in it may name the very
    credential asked about (its message, its hint): shown in the admin and /api/ops/, it is redacted as
    every failure stored for operators is."""
    portal = Portal.objects.create(member_id="m-1", vibe_portal_id="p-1", domain="acme.bitrix24.com")
    token = "vibe_session_" + "T0ken" * 8
    SessionGrant.objects.create(
        portal=portal, bitrix_user_id=1, user_name="Ann", is_admin=True, source="gateway", token=token,
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip

    class Busy:
        def verify_session(self, session_token: str):
            error = InstallationError(f"the platform could not check the credential now: 503 {session_token}")
            error.is_transient = True
            raise error

    monkeypatch.setattr(operations, "get_identity_backend", Busy)
    result = operations.reverify_session(portal, operator="olga")
    assert not result.ok and "not verified now" in result.message and "T0ken" not in result.message


def test_a_reverify_without_an_app_key_keeps_the_credential_it_could_not_check(settings):
    """From an operator trial: with VIBE_APP_KEY unset (a deployment's environment that lost it), the check
    failed before asking the platform, and re-verify took that for the platform's refusal of the session: it
    was dropped and the portal needed a session. The app's own key is at fault, as when the platform refuses
    it (refuses_app_key): role checks and gateway visits read it so too."""
    settings.VIBE_APP_KEY = ""
    portal = Portal.objects.create(member_id="m-1", vibe_portal_id="p-1", domain="acme.bitrix24.com")
    SessionGrant.objects.create(
        portal=portal, bitrix_user_id=1, user_name="Ann", is_admin=True, source="gateway",
        token="vibe_session_" + "T0ken" * 8, expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip

    result = operations.reverify_session(portal, operator="olga")

    assert not result.ok and "VIBE_APP_KEY" in result.message
    assert SessionGrant.objects.get(portal=portal).invalidated_at is None
    assert Portal.objects.get(pk=portal.pk).status == Portal.Status.ACTIVE


def test_a_session_end_without_its_offset_is_taken_as_unstated_and_a_second_visit_still_stores(settings):
    """/v1/me's session.expiresAt with no offset ("2030-03-05T10:00:00": on whose clock?) was kept naive:
    stored on the server's clock with a warning, then the next visit's comparison with the stored grant's end
    raised TypeError, a 500 for the person opening the app."""
    from botcore.vibe.identity import identity_from_me

    settings.TENANTS_DEFAULT_SESSION_SECONDS = 7200

    def me(user_id: int) -> dict:
        return {
            "portal": {"id": "p1", "memberId": "m-naive", "domain": "naive.example"},
            "currentUser": {"bitrixUserId": user_id, "name": f"User {user_id}", "isAdmin": True},
            "session": {"expiresAt": "2030-03-05T10:00:00"},
        }

    before = timezone.now()
    for user_id in (1, 2):
        identity = identity_from_me(me(user_id))
        assert identity.expires_at is None
        services.store_session_grant(
            identity=identity, session_token=f"vibe_session_{user_id}", source="gateway"
        )
    ends = SessionGrant.objects.values_list("expires_at", flat=True)
    assert len(ends) == 2
    assert all(
        before + timedelta(seconds=7200) <= end <= timezone.now() + timedelta(seconds=7200) for end in ends
    )


def _me_calls(platform) -> int:
    calls = platform.control.get("/_sandbox/calls", params={"path": "/v1/me"}).json()["data"]["calls"]
    return len(calls)


@pytest.mark.parametrize("bad", ["\x0b", "\x00", "\n", "\x7f"], ids=["vtab", "nul", "newline", "del"])
def test_a_session_token_holding_a_control_character_is_refused_at_the_door_and_never_stored(platform, bad):
    """A token holding a control character was stored (the OAuth exchange's access_token is taken as the
    platform says it) and refused only when used: httpx cannot send it, and every call of the portal's bot
    failed until another visit. Refused before it is stored, with the malformed-credentials message the
    gateway's bad tokens get."""
    token = platform.session(platform.admin)
    identity = handshakes.get_identity_backend().verify_session(token)
    with pytest.raises(InstallationError) as refused:
        services.store_session_grant(
            identity=identity, session_token=token[:20] + bad + token[20:], source=SessionGrant.Source.OAUTH
        )
    assert refused.value.public_message == "The request's credentials are malformed."
    assert not SessionGrant.objects.exists() and not Portal.objects.exists()


def test_a_gateway_visit_with_a_tab_in_its_token_is_refused_before_the_platform_is_asked(platform):
    """A tab inside a header value is one HTTP carries: the platform was asked (GET /v1/me, on the app key
    every portal shares) about a token no platform gives."""
    token = platform.session(platform.admin)
    asked = _me_calls(platform)
    with pytest.raises(InstallationError) as refused:
        handshakes.accept_gateway_visit(
            session_token=token[:20] + "\t" + token[20:],
            claimed_portal_id=platform.portal_id,
            claimed_user_id=str(platform.admin["id"]),
        )
    assert refused.value.public_message == "The request's credentials are malformed."
    assert _me_calls(platform) == asked and not SessionGrant.objects.exists()
