"""The portal pages trust a browser only while its grant lives: uninstall, expiry and demotion take effect on
the next request; malformed gateway headers get a 400; /oauth/start/ is invitation-only, rate-limited and
stateless."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone

from tenants import oauth, services
from tenants.errors import InstallationError
from tenants.models import Portal, SessionGrant

pytestmark = pytest.mark.django_db


def visit(client: Client, platform, token: str, *, user: dict | None = None):
    """Open the app through the gateway's headers; the sandbox's GET /v1/me checks the token."""
    return client.get(
        "/",
        headers={
            "X-Vibe-Authorization": f"Bearer {token}",
            "X-Vibe-Portal-Id": platform.portal_id,
            "X-Vibe-User-Id": str((user or platform.admin)["id"]),
        },
    )


@pytest.fixture
def two_admin_browsers(platform):
    first, second = Client(), Client()
    assert visit(first, platform, platform.session(platform.admin)).status_code == 302
    assert visit(second, platform, platform.session(platform.admin)).status_code == 302
    assert second.get("/portal/").status_code == 200
    return first, second


def test_an_uninstall_ends_every_viewer_session_and_refuses_their_writes(two_admin_browsers, platform):
    first, second = two_admin_browsers
    assert first.post("/portal/uninstall/", {"confirm": platform.portal["domain"]}).status_code == 302
    assert second.get("/portal/").status_code == 401
    refused = second.post("/portal/", {"action": "api_key", "api_key": "vibe_api_someone"})
    assert refused.status_code == 401
    assert not SessionGrant.objects.exists()


def test_a_service_write_to_an_uninstalled_portal_is_refused(two_admin_browsers, platform):
    portal = Portal.objects.get()
    services.uninstall_portal(portal, reason="admin")
    with pytest.raises(InstallationError):
        services.set_portal_api_key(portal, api_key=platform.personal_key(platform.admin), added_by_user_id=1)
    with pytest.raises(InstallationError):
        services.update_portal_settings(portal, bot_name="Late")


def test_a_reinstall_does_not_revive_a_browser_session_of_before(two_admin_browsers, platform):
    first, second = two_admin_browsers
    first.post("/portal/uninstall/", {"confirm": platform.portal["domain"]})
    assert visit(Client(), platform, platform.session(platform.admin)).status_code == 302  # a new grant row
    assert second.get("/portal/").status_code == 401


def test_the_browser_session_ends_with_the_token_and_a_demotion_applies_at_once(two_admin_browsers):
    first, _ = two_admin_browsers
    grant = SessionGrant.objects.get()
    assert first.session.get_expiry_date() <= grant.expires_at
    SessionGrant.objects.filter(pk=grant.pk).update(is_admin=False)
    assert (
        first.post("/portal/", {"action": "settings", "language": "en", "timezone": "UTC"}).status_code == 403
    )
    SessionGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert first.get("/portal/").status_code == 401


def _settings_post(client: Client):
    return client.post("/portal/", {"action": "settings", "language": "en", "timezone": "UTC"})


def test_an_admin_demoted_on_the_portal_loses_admin_rights_once_the_role_is_asked_again(
    two_admin_browsers, platform, settings
):
    # Nobody visits again after the demotion: only asking the platform (GET /v1/me with the grant's own
    # token) can tell. Within TENANTS_ROLE_RECHECK_SECONDS the role stands as last confirmed.
    first, _ = two_admin_browsers
    settings.TENANTS_ROLE_RECHECK_SECONDS = 300
    platform.control.patch(f"/_sandbox/users/{platform.admin['id']}", json={"isAdmin": False})
    assert _settings_post(first).status_code == 302  # confirmed a moment ago: no platform call
    SessionGrant.objects.update(role_checked_at=timezone.now() - timedelta(seconds=301))
    assert _settings_post(first).status_code == 403
    grant = SessionGrant.objects.get()
    assert grant.is_admin is False and grant.invalidated_at is None  # still a member, still signed in
    assert first.get("/portal/").status_code == 200


def test_an_admin_role_that_cannot_be_asked_again_gives_no_admin_rights_until_it_can(
    two_admin_browsers, platform, settings
):
    first, _ = two_admin_browsers
    SessionGrant.objects.update(role_checked_at=timezone.now() - timedelta(days=1))
    rule = {"path": "/v1/me", "errorRate": 1.0}  # BITRIX_UNAVAILABLE, a 503
    platform.control.post("/_sandbox/faults", json=rule)
    assert _settings_post(first).status_code == 403  # fails closed while the platform cannot say
    platform.control.delete("/_sandbox/faults")
    assert _settings_post(first).status_code == 302
    assert SessionGrant.objects.get().is_admin is True


def test_a_token_the_platform_refuses_when_the_role_is_asked_ends_the_browser_session(
    two_admin_browsers, platform
):
    first, _ = two_admin_browsers
    SessionGrant.objects.update(role_checked_at=timezone.now() - timedelta(days=1))
    platform.control.post("/_sandbox/clock", json={"advanceSeconds": 2 * 86400})  # the session has ended
    assert _settings_post(first).status_code in (401, 403)
    assert SessionGrant.objects.get().invalidated_at is not None
    assert first.get("/portal/").status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {
            "HTTP_X_VIBE_AUTHORIZATION": "Bearer vibe_séssion_ünicode",
            "HTTP_X_VIBE_PORTAL_ID": "p",
            "HTTP_X_VIBE_USER_ID": "1",
        },
        {
            "HTTP_X_VIBE_AUTHORIZATION": "Bearer vibe_session_ok_1",
            "HTTP_X_VIBE_PORTAL_ID": "p",
            "HTTP_X_VIBE_USER_ID": "1é",
        },
        {
            "HTTP_X_VIBE_AUTHORIZATION": "Bearer " + "x" * 5000,
            "HTTP_X_VIBE_PORTAL_ID": "p",
            "HTTP_X_VIBE_USER_ID": "1",
        },
        {
            "HTTP_X_VIBE_AUTHORIZATION": "Bearer vibe_session_ok_1",
            "HTTP_X_VIBE_PORTAL_ID": "p\u00e9",
            "HTTP_X_VIBE_USER_ID": "1",
        },
    ],
    ids=["non-ascii-token", "non-ascii-user", "huge-token", "non-ascii-portal"],
)
def test_malformed_gateway_headers_get_a_400_without_reaching_the_platform(headers, sandbox, settings):
    # The real backend: before the fix, httpx could not encode the header and the request ended in a 500.
    settings.VIBE_APP_KEY = "vibe_app_" + "k" * 40
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    response = Client(raise_request_exception=False).get("/", **headers)
    assert response.status_code == 400
    assert settings.VIBE_APP_KEY not in response.content.decode()


def test_oauth_start_without_an_invitation_is_refused_and_never_shows_the_app_key(
    settings, fresh_rate_limits
):
    settings.VIBE_APP_KEY = "vibe_app_" + "k" * 40
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    for url in ("/oauth/start/", "/oauth/start/?invite=forged"):
        response = Client().get(url)
        assert response.status_code == 403
        assert settings.VIBE_APP_KEY not in response.content.decode() + response.get("Location", "")
    assert not Session.objects.exists()


def test_an_invited_oauth_start_redirects_and_stores_no_session_row(platform, fresh_rate_limits):
    response = Client().get("/oauth/start/", {"invite": oauth.issue_invite()})
    assert response.status_code == 302 and "state=" in response["Location"]
    assert "tenants_oauth" in response.cookies and "sessionid" not in response.cookies
    assert not Session.objects.exists()


def test_oauth_start_is_rate_limited_per_client(platform, settings, fresh_rate_limits):
    settings.TENANTS_OAUTH_START_RATE = "3/m"
    client, invite = Client(), oauth.issue_invite()
    answers = [client.get("/oauth/start/", {"invite": invite}).status_code for _ in range(4)]
    assert answers == [302, 302, 302, 429]
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.get("/oauth/start/", {"invite": invite}).status_code == 302


def test_the_oauth_invite_command_prints_a_link_that_starts_the_sign_in(platform, fresh_rate_limits, capsys):
    from django.core.management import call_command

    call_command("oauth_invite", "--base-url", "http://testserver")
    link = capsys.readouterr().out.splitlines()[0]
    assert Client().get(link.removeprefix("http://testserver")).status_code == 302


def test_behind_a_proxy_the_limit_counts_the_address_the_proxy_saw(platform, settings, fresh_rate_limits):
    settings.TENANTS_OAUTH_START_RATE = "1/m"
    settings.TENANTS_CLIENT_IP_HEADER = "X-Forwarded-For"
    invite = oauth.issue_invite()
    first = Client(HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7")
    assert first.get("/oauth/start/", {"invite": invite}).status_code == 302
    assert first.get("/oauth/start/", {"invite": invite}).status_code == 429
    assert (
        Client(HTTP_X_FORWARDED_FOR="203.0.113.8").get("/oauth/start/", {"invite": invite}).status_code == 302
    )
    garbage = Client(HTTP_X_FORWARDED_FOR="not-an-address")  # falls back to the socket's address, never a 500
    assert garbage.get("/oauth/start/", {"invite": invite}).status_code == 302


def me_calls(platform) -> int:
    return len(platform.control.get("/_sandbox/calls", params={"path": "/v1/me"}).json()["data"]["calls"])


def test_unknown_gateway_tokens_are_checked_with_the_platform_a_bounded_number_of_times_per_client(
    platform, settings, fresh_rate_limits
):
    """From a security trial: each anonymous request with a made-up token cost a GET /v1/me on the app key
    (retried on 429), and a loop of them had the platform refuse the bots' own calls on every portal."""
    settings.TENANTS_GATEWAY_VERIFY_RATE = "3/m"
    before = me_calls(platform)
    attacker = Client()
    answers = [visit(attacker, platform, f"vibe_session_{n:040x}").status_code for n in range(6)]
    assert answers == [403, 403, 403, 429, 429, 429]
    assert me_calls(platform) - before == 3
    assert (
        visit(Client(REMOTE_ADDR="10.0.0.9"), platform, platform.session(platform.admin)).status_code == 302
    )


@pytest.mark.parametrize("code", ["RATE_LIMIT", "BITRIX_UNAVAILABLE"])
def test_a_check_the_platform_could_not_answer_is_no_refusal_and_is_not_counted(
    platform, settings, fresh_rate_limits, code
):
    """From an outside probe: a flood of visits spent the app key's rate, /v1/me answered 429, and each visit
    was counted as a refused token for the gateway's one address: soon every admin opening the app got 429.
    The visitor is told to try again shortly (503, Retry-After); once the platform answers, they get in."""
    settings.TENANTS_GATEWAY_VERIFY_RATE, settings.VIBE_MAX_ATTEMPTS = "2/m", 1
    platform.control.post(
        "/_sandbox/faults", json={"method": "GET", "path": "/v1/me", "errorRate": 1.0, "errorCode": code}
    )
    busy = [visit(Client(), platform, platform.session(platform.admin)) for _ in range(4)]
    assert [answer.status_code for answer in busy] == [503, 503, 503, 503]
    assert busy[0]["Retry-After"].isdigit() and "try again" in busy[0].content.decode()
    platform.control.delete("/_sandbox/faults")

    assert visit(Client(), platform, platform.session(platform.admin)).status_code == 302


def test_people_opening_the_app_from_one_address_are_never_counted(platform, settings, fresh_rate_limits):
    """Behind the platform's gateway every visitor may share its address: only refused tokens count."""
    settings.TENANTS_GATEWAY_VERIFY_RATE = "1/m"
    people = [platform.session(platform.admin) for _ in range(3)] + [platform.session(platform.member)]
    assert [visit(Client(), platform, token, user=platform.admin if n < 3 else platform.member).status_code
            for n, token in enumerate(people)] == [302, 302, 302, 302]  # fmt: skip


def test_a_person_s_tokens_are_checked_with_the_platform_a_bounded_number_of_times(
    platform, settings, fresh_rate_limits
):
    """From an attacker's trial: a portal user with two valid session tokens, sending them by turns with the
    gateway's headers, had each visit checked with GET /v1/me (the grant holds only the last one), at a
    reply's priority on the app key every portal's bots share: 219 checks in 25 s from 8 threads took the
    whole budget, and another portal's reply waited 23 s. Past TENANTS_GATEWAY_SIGN_IN_RATE sign-ins a
    person waits for the window's end, unchecked; others still get in."""
    settings.TENANTS_GATEWAY_SIGN_IN_RATE = "3/m"
    tokens = [platform.session(platform.admin), platform.session(platform.admin)]
    before = me_calls(platform)
    answers = [visit(Client(), platform, tokens[n % 2]).status_code for n in range(8)]
    assert answers == [302, 302, 302] + [429] * 5
    padded = Client().get(
        "/",
        headers={
            "X-Vibe-Authorization": f"Bearer {tokens[1]}",
            "X-Vibe-Portal-Id": platform.portal_id,
            "X-Vibe-User-Id": f" {platform.admin['id']} ",  # the check strips the id: the same person
        },
    )
    assert padded.status_code == 429
    assert me_calls(platform) - before == 3
    member = platform.session(platform.member)
    assert visit(Client(), platform, member, user=platform.member).status_code == 302
    assert me_calls(platform) - before == 4


def visit_together(platform, tokens: list[str]) -> list[int]:
    """Each token's visit from a browser of its own, all at the same moment (threads, each on a database
    connection of its own); the answers' statuses, sorted."""
    together = threading.Barrier(len(tokens))
    answers: list[int] = []

    def open_app(token: str) -> None:
        try:
            together.wait(timeout=10)
            answers.append(visit(Client(), platform, token).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_app, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(answers)


@pytest.fixture
def counter(request, settings, fresh_rate_limits) -> str:
    """Where the limits count: this test's own local-memory cache, or this test's keys in Redis."""
    if request.param == "redis":
        settings.CACHES = {
            **settings.CACHES,
            "ratelimit": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": settings.REDIS_URL,
                "KEY_PREFIX": f"test-limits-{uuid.uuid4().hex}",  # this test's counts alone, no flush
            },
        }
    return request.param


EACH_COUNTER = pytest.mark.parametrize(
    "counter",
    [
        "local memory",
        pytest.param(
            "redis", marks=pytest.mark.skipif(not django_settings.REDIS_URL, reason="CI's Redis run")
        ),
    ],
    indirect=True,
)


@pytest.mark.django_db(transaction=True)  # the visits run in threads, each on a connection of its own
@EACH_COUNTER
def test_sign_ins_at_the_same_moment_get_no_more_than_the_rate(platform, settings, counter):
    """A person's sign-ins were checked against the rate, then counted once the platform had confirmed the
    token: visits at the same moment all passed the check before the first was counted, and every one of
    them cost a GET /v1/me on the app key and a browser session row."""
    settings.TENANTS_GATEWAY_SIGN_IN_RATE = "3/m"
    tokens = [platform.session(platform.admin) for _ in range(8)]
    before = me_calls(platform)
    assert visit_together(platform, tokens) == [302] * 3 + [429] * 5
    assert me_calls(platform) - before == 3
    assert Session.objects.count() == 3


@pytest.mark.django_db(transaction=True)
@EACH_COUNTER
def test_made_up_tokens_at_the_same_moment_are_checked_no_more_than_the_rate(platform, settings, counter):
    """Refused tokens were counted per address after the platform's "no": made-up tokens sent at the same
    moment were each checked with GET /v1/me on the app key, 8 against a rate of 3."""
    settings.TENANTS_GATEWAY_VERIFY_RATE = "3/m"
    before = me_calls(platform)
    answers = visit_together(platform, [f"vibe_session_{n:040x}" for n in range(8)])
    assert answers == [403] * 3 + [429] * 5
    assert me_calls(platform) - before == 3


def test_visits_the_platform_refuses_spend_none_of_the_person_s_sign_ins(
    platform, settings, fresh_rate_limits
):
    """A sign-in is counted before the platform is asked, and given back when the token is refused: someone
    without the admin's token, claiming to be them, must not use up their sign-ins."""
    settings.TENANTS_GATEWAY_SIGN_IN_RATE, settings.TENANTS_GATEWAY_VERIFY_RATE = "2/m", "100/m"
    answers = [visit(Client(), platform, f"vibe_session_{n:040x}").status_code for n in range(4)]
    assert answers == [403] * 4
    admin = [visit(Client(), platform, platform.session(platform.admin)).status_code for _ in range(3)]
    assert admin == [302, 302, 429]


def test_a_known_browser_reopening_the_app_is_not_counted_against_its_address(
    platform, settings, fresh_rate_limits
):
    settings.TENANTS_GATEWAY_VERIFY_RATE = "1/m"
    browser, token = Client(), platform.session(platform.admin)
    assert [visit(browser, platform, token).status_code for _ in range(3)] == [302, 302, 302]


@pytest.mark.parametrize(
    "typed", ["vibe_api_é" + "x" * 20, "vibe_api_has space inside", "vibe_api_\u200bzwsp1234"]
)
def test_a_personal_key_with_characters_no_key_has_is_refused_plainly_not_a_500(two_admin_browsers, typed):
    """From a security trial: a non-ASCII key reached httpx, which cannot put it in a header: a 500, and with
    debug on (make run) an error page that showed the key."""
    first, _ = two_admin_browsers
    response = first.post("/portal/", {"action": "api_key", "api_key": typed})
    assert response.status_code in (200, 400)
    assert "only Latin letters, digits" in response.content.decode()
    with pytest.raises(InstallationError) as refused:
        services.set_portal_api_key(Portal.objects.get(), api_key=typed, added_by_user_id=1)
    assert "only Latin letters" in str(refused.value.public_message)


def test_a_browser_without_cookies_reopening_the_app_is_not_checked_with_the_platform_again(platform):
    """An app frame where third-party cookies are blocked brings the gateway's token on every page and never
    a session cookie: each page asked GET /v1/me on the app key, whose budget every portal's bots share. The
    grant that already holds the very token vouches for it, as the cookie would have."""
    token = platform.session(platform.admin)
    before = me_calls(platform)
    answers = [visit(Client(), platform, token).status_code for _ in range(5)]
    assert answers == [302] * 5
    assert me_calls(platform) - before == 1
    browser = Client()
    visit(browser, platform, token)
    assert browser.get("/portal/").status_code == 200  # the viewer is who the grant says


def test_a_browser_without_cookies_reopening_the_app_signs_in_a_bounded_number_of_times(
    platform, settings, fresh_rate_limits
):
    """From an attacker's trial: a valid token sent again and again without the session cookie (the grant
    holds it: no platform check, and nothing counted) wrote a new browser session row each time, 408 rows
    for 408 requests, each kept until the token ends. Sign-ins are counted per person: past the rate, 429
    and no row; a browser that keeps its cookie is not signed in again, nor refused."""
    settings.TENANTS_GATEWAY_SIGN_IN_RATE = "3/m"
    token = platform.session(platform.admin)
    browser = Client()
    assert visit(browser, platform, token).status_code == 302
    answers = [visit(Client(), platform, token).status_code for _ in range(7)]
    assert answers == [302, 302] + [429] * 5
    assert Session.objects.count() == 3
    assert visit(browser, platform, token).status_code == 302 and browser.get("/portal/").status_code == 200


@pytest.mark.parametrize(
    "change", ["another user claimed", "grant invalidated", "grant expired", "other token"]
)
def test_a_token_no_live_grant_holds_is_checked_with_the_platform(platform, change):
    token = platform.session(platform.admin)
    assert visit(Client(), platform, token).status_code == 302
    grant = SessionGrant.objects.get()
    if change == "grant invalidated":
        SessionGrant.objects.filter(pk=grant.pk).update(invalidated_at=timezone.now())
    elif change == "grant expired":
        SessionGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif change == "other token":
        token = platform.session(platform.admin)
    before = me_calls(platform)

    claimed = platform.member if change == "another user claimed" else platform.admin
    answer = visit(Client(), platform, token, user=claimed)

    assert me_calls(platform) - before == 1
    assert answer.status_code == (403 if change == "another user claimed" else 302)


def test_a_busy_platform_s_own_wait_is_the_one_the_visitor_is_asked_for(
    platform, settings, fresh_rate_limits
):
    """The 503's Retry-After was a fixed 30 s whatever the platform's 429 said (an injected one says 1)."""
    settings.VIBE_MAX_ATTEMPTS = 1
    platform.control.post(
        "/_sandbox/faults",
        json={"method": "GET", "path": "/v1/me", "errorRate": 1.0, "errorCode": "RATE_LIMIT"},
    )
    busy = visit(Client(), platform, platform.session(platform.admin))
    assert busy.status_code == 503 and busy["Retry-After"] == "1"


def test_a_visitor_the_busy_platform_could_not_check_is_no_error_in_the_logs(
    platform, settings, fresh_rate_limits, caplog
):
    """From a security trial: each visitor's 503 while the platform was down added Django's "Service
    Unavailable" ERROR, which names nothing, to the view's own WARNING: an outage the runbook says needs
    nothing of the app paged for every visit."""
    settings.VIBE_MAX_ATTEMPTS = 1
    platform.control.post("/_sandbox/faults", json={"method": "GET", "path": "/v1/me", "errorRate": 1.0})
    with caplog.at_level("WARNING"):
        busy = visit(Client(), platform, platform.session(platform.admin))
    assert busy.status_code == 503
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
    assert any("transient=True" in r.getMessage() for r in caplog.records)


def test_a_refusal_of_the_app_s_own_key_is_not_counted_against_the_visitor(
    platform, settings, fresh_rate_limits
):
    """The platform refusing the app key (revoked) refused no visitor's token: counted per address, it soon
    locked out everyone behind the gateway's one address with 429 "too many attempts", hiding the cause.
    Each visitor is told the app cannot reach the platform (503), and no one is counted."""
    settings.TENANTS_GATEWAY_VERIFY_RATE, settings.VIBE_MAX_ATTEMPTS = "2/m", 1
    platform.control.post(
        "/_sandbox/faults",
        json={"method": "GET", "path": "/v1/me", "errorRate": 1.0, "errorCode": "KEY_REVOKED"},
    )
    answers = [visit(Client(), platform, platform.session(platform.admin)) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [503, 503, 503, 503]
    assert "access to the platform" in answers[-1].content.decode()
    platform.control.delete("/_sandbox/faults")

    assert visit(Client(), platform, platform.session(platform.admin)).status_code == 302


def test_a_user_id_too_long_for_any_user_is_a_plain_400_not_a_500(platform, caplog):
    """From a security probe: 4,301 digits passed the headers' check and met int()'s digit limit in the
    known-token lookup (a 500 and an ERROR with a traceback per request, never counted)."""
    answer = Client().get(
        "/",
        headers={
            "X-Vibe-Authorization": f"Bearer vibe_session_{'a' * 40}",
            "X-Vibe-Portal-Id": platform.portal_id,
            "X-Vibe-User-Id": "9" * 4301,
        },
    )
    assert answer.status_code == 400
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_token_held_by_a_grant_is_trusted_unasked_only_while_the_platform_confirmed_it_lately(
    platform, settings
):
    """From a security probe: where /v1/me names no expiry the grant assumes a day, and a token the platform
    had since refused opened new browser sessions unasked; a demoted admin reopening the app kept admin
    rights. The grant vouches for its token only within TENANTS_ROLE_RECHECK_SECONDS of the platform's last
    word on it, as it does for an admin's role."""
    assert visit(Client(), platform, platform.session(platform.admin)).status_code == 302  # installs
    token = platform.session(platform.member)  # a member: no admin role to confirm on the way
    assert visit(Client(), platform, token, user=platform.member).status_code == 302
    SessionGrant.objects.update(
        obtained_at=timezone.now() - timedelta(seconds=settings.TENANTS_ROLE_RECHECK_SECONDS + 1),
        role_checked_at=None,
    )
    before = me_calls(platform)
    assert visit(Client(), platform, token, user=platform.member).status_code == 302
    assert me_calls(platform) - before == 1  # asked again, and trusted again for a while
    assert visit(Client(), platform, token, user=platform.member).status_code == 302
    assert me_calls(platform) - before == 1


def test_a_visits_identity_check_gives_up_within_its_time_and_the_visitor_is_told_to_retry(
    platform, settings, fresh_rate_limits
):
    """Four attempts, each waiting out the platform's 429, held the visitor's page (and a web worker) for as
    long as the platform asked each time; the check now has VIBE_IDENTITY_CHECK_SECONDS, retries included."""
    settings.VIBE_IDENTITY_CHECK_SECONDS = 1.5
    platform.control.post(
        "/_sandbox/faults",
        json={"method": "GET", "path": "/v1/me", "errorRate": 1.0, "errorCode": "RATE_LIMIT"},
    )  # each answer asks for a second's wait
    before = me_calls(platform)
    busy = visit(Client(), platform, platform.session(platform.admin))
    assert busy.status_code == 503 and busy["Retry-After"] == "1"
    assert me_calls(platform) - before == 2  # at 0 s and 1 s; four before, the last after 3 s


def test_a_viewers_pages_and_api_answers_are_never_stored_by_a_cache(two_admin_browsers):
    """The portal's pages and the skills API carry one viewer's settings, the page's CSRF token and, for an
    admin, the key's hint, yet said nothing of caching: a shared cache or the browser's own could keep them
    past the viewer's rights (Back, after an uninstall on a shared computer, could show the settings)."""
    first, _second = two_admin_browsers
    for path in ("/portal/", "/portal/skills/standup/", "/api/skills/", "/api/skills/echo/"):
        answer = first.get(path)
        assert answer.status_code == 200, path
        assert {"no-store", "private"} <= {part.strip() for part in answer["Cache-Control"].split(",")}, path


def gateway_headers(platform, token: str, *, user: dict | None = None) -> dict[str, str]:
    return {
        "X-Vibe-Authorization": f"Bearer {token}",
        "X-Vibe-Portal-Id": platform.portal_id,
        "X-Vibe-User-Id": str((user or platform.admin)["id"]),
    }


@pytest.mark.parametrize("page", ["/portal/", "/portal/skills/standup/"])
def test_a_deep_link_opened_through_the_gateway_signs_in_and_lands_on_its_page(platform, page):
    """From a skill author's trial: a portal page opened in the frame with the gateway's headers (the
    sandbox's /portal?next=…) said "Open this app from your Bitrix24 portal": only / read the headers."""
    browser, headers = Client(), gateway_headers(platform, platform.session(platform.admin))
    first = browser.get(page, headers=headers)
    assert first.status_code == 302 and first["Location"] == f"/?next={page.replace('/', '%2F')}"
    entered = browser.get(first["Location"], headers=headers)
    assert entered.status_code == 302 and entered["Location"] == page
    assert browser.get(page, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "wanted", ["https://evil.example/", "//evil.example/portal/", "/admin/", "/no/such/page/", "javascript:x"]
)
def test_the_entry_leads_only_to_a_page_of_the_portals_own(platform, wanted):
    browser = Client()
    entered = browser.get(
        "/", {"next": wanted}, headers=gateway_headers(platform, platform.session(platform.admin))
    )
    assert entered.status_code == 302 and entered["Location"] == "/portal/"


def test_a_portal_page_without_the_gateway_still_says_where_the_app_opens():
    assert Client().get("/portal/skills/standup/").status_code == 401


def test_a_deep_link_opened_by_another_user_in_the_same_browser_shows_that_users_page(platform):
    """The page kept the browser's viewer (the admin) while the gateway said another user (a member) had
    opened it: only / switched viewers, so the member saw the admin's page and its forms."""
    browser = Client()
    assert visit(browser, platform, platform.session(platform.admin)).status_code == 302
    member = gateway_headers(platform, platform.session(platform.member), user=platform.member)
    first = browser.get("/portal/", headers=member)
    assert first.status_code == 302 and first["Location"].startswith("/?next=")
    assert browser.get(first["Location"], headers=member)["Location"] == "/portal/"
    page = browser.get("/portal/", headers=member).content.decode()
    assert "Bob Member" in page and 'data-testid="uninstall"' not in page


@pytest.mark.parametrize("page", ["/", "/portal/", "/portal/skills/standup/"])
def test_a_browser_that_keeps_no_cookie_is_told_so_not_sent_round_in_a_loop(platform, page):
    """From an attacker trial: a browser keeping no cookie of the app's (blocked in the Bitrix24 frame) brings
    the gateway's headers on every page, and a page went through the entry and back to itself for ever: the
    entry signed it in, the cookie was dropped, the page sent it to the entry again (the browser's
    ERR_TOO_MANY_REDIRECTS after 20 hops, each a sign-in)."""
    headers = gateway_headers(platform, platform.session(platform.admin))
    url, answers = page, []
    for _ in range(8):
        answer = Client().get(url, headers=headers)  # a new browser each time: no cookie kept
        answers.append(answer.status_code)
        if answer.status_code != 302:
            break
        url = answer["Location"]
    assert answers[-1] == 403 and len(answers) <= 3, answers
    assert "your browser did not keep the app" in answer.content.decode()
    assert "frame-ancestors" in answer["Content-Security-Policy"]  # said in the portal's frame


def test_users_switching_back_and_forth_in_one_browser_each_go_through_the_entry(platform):
    """The entry's memory of a token it has just signed in with (the test above) is not read for a browser
    that keeps its cookie: the admin back at once after a member, in the same browser, is signed in again."""
    browser = Client()
    admin = gateway_headers(platform, platform.session(platform.admin))
    member = gateway_headers(platform, platform.session(platform.member), user=platform.member)
    for headers, name in ((admin, "Alice Admin"), (member, "Bob Member"), (admin, "Alice Admin")):
        first = browser.get("/portal/", headers=headers)
        assert first.status_code == 302 and first["Location"].startswith("/?next=")
        assert browser.get(first["Location"], headers=headers)["Location"] == "/portal/"
        assert name in browser.get("/portal/", headers=headers).content.decode()


def test_refused_personal_keys_are_checked_with_the_platform_a_bounded_number_of_times_per_portal(
    two_admin_browsers, platform, settings, fresh_rate_limits
):
    """From an attacker trial: a portal's admin could post made-up personal keys without end, each a GET
    /v1/me the platform was asked (50 in 4 s) and two rows of the request budget's table kept for good."""
    settings.TENANTS_API_KEY_REFUSED_RATE = "3/h"
    first, second = two_admin_browsers
    before = me_calls(platform)
    answers = [
        first.post("/portal/", {"action": "api_key", "api_key": f"vibe_api_{n:040x}"}) for n in range(5)
    ]
    assert [answer.status_code for answer in answers] == [400] * 5
    assert me_calls(platform) - before == 3
    assert "Too many keys were refused" in answers[3].content.decode()
    # Per portal, whichever browser of it asks; a good key still waits for the window's end.
    assert second.post("/portal/", {"action": "api_key", "api_key": platform.personal_key(platform.admin)})
    assert me_calls(platform) - before == 3


def test_personal_keys_saved_on_a_portal_move_its_bot_a_bounded_number_of_times(
    two_admin_browsers, platform, settings, fresh_rate_limits, monkeypatch, django_capture_on_commit_callbacks
):
    """From an attacker trial: a portal's admin giving a good personal key and removing it again, in a loop,
    had the bot moved each time (a task registering it and its commands, draining and deleting the old one,
    up to 40 chat look-ups, on the app key every portal shares) and every key asked about with GET /v1/me,
    without end: only refused keys were counted. Saved keys are counted per portal too; a removal is not (an
    admin takes a leaked key back at once), and each needs a key saved before it."""
    settings.TENANTS_API_KEY_SAVED_RATE = "3/h"
    moves: list[str] = []
    monkeypatch.setattr("botcore.receivers.async_task", lambda task, *args, **kwargs: moves.append(task))
    first, second = two_admin_browsers
    # Keys the platform refuses are no saves: counted by TENANTS_API_KEY_REFUSED_RATE alone.
    for n in range(2):
        made_up = {"action": "api_key", "api_key": f"vibe_api_{n:040x}"}
        assert first.post("/portal/", made_up).status_code == 400
    before = me_calls(platform)
    answers = []
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            key = platform.personal_key(platform.admin)
            saved = first.post("/portal/", {"action": "api_key", "api_key": key})
            removed = first.post("/portal/", {"action": "remove_api_key", "confirm_remove": "yes"})
            answers.append((saved.status_code, removed.status_code))
    assert answers == [(302, 302)] * 3 + [(400, 302)] * 2
    assert moves.count("botcore.tasks.move_portal_bot") == 6  # three keys given, three taken back
    assert me_calls(platform) - before == 3
    # Per portal, whichever browser of it asks; the page says to wait.
    refused = second.post("/portal/", {"action": "api_key", "api_key": platform.personal_key(platform.admin)})
    assert "Too many keys were saved" in refused.content.decode()
    assert me_calls(platform) - before == 3


@pytest.mark.django_db(transaction=True)  # the posts run in threads, each on a connection of its own
def test_personal_keys_posted_at_the_same_moment_are_checked_no_more_than_the_rate(
    two_admin_browsers, platform, settings, fresh_rate_limits
):
    """Refused keys were counted after the platform's "no": keys posted at the same moment (the admin's
    browser, several tabs) all passed the check before the first was counted, each a GET /v1/me."""
    settings.TENANTS_API_KEY_REFUSED_RATE = "3/h"
    first, _ = two_admin_browsers
    before = me_calls(platform)
    together = threading.Barrier(8)
    answers: list[int] = []

    def post_key(n: int) -> None:
        tab = Client()
        tab.cookies = first.cookies  # the same browser's session
        try:
            together.wait(timeout=10)
            answers.append(
                tab.post("/portal/", {"action": "api_key", "api_key": f"vibe_api_{n:040x}"}).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post_key, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [400] * 8
    assert me_calls(platform) - before == 3


def test_a_visit_while_the_cache_is_down_is_told_to_try_again_not_a_500(platform, fresh_rate_limits, caplog):
    """The refused-token counts live in the shared cache (Redis): with Redis down every portal user opening
    the app with a new session token got the 500 page (an on-call trial). No token is checked uncounted: the
    visitor is told to try again shortly (503, Retry-After), one WARNING and no ERROR; once it answers, in."""
    import redis
    from django.core.cache.backends.locmem import LocMemCache

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    token = platform.session(platform.admin)
    with pytest.MonkeyPatch.context() as patch, caplog.at_level("WARNING"):
        for method in ("add", "get", "incr"):  # the counters' cache (fresh_rate_limits: a LocMemCache here)
            patch.setattr(LocMemCache, method, refuse)
        answer = visit(Client(), platform, token)
    assert answer.status_code == 503
    assert answer["Retry-After"].isdigit() and "try again" in answer.content.decode()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert visit(Client(), platform, token).status_code == 302


def test_an_oauth_start_while_the_cache_is_down_is_told_to_try_again_not_a_500(platform, fresh_rate_limits):
    """As a visit's: the starts per address are counted in the cache (Redis); with it down an invited admin's
    sign-in link was a 500 (an on-call trial). None goes uncounted: 503, try again shortly."""
    import redis
    from django.core.cache.backends.locmem import LocMemCache

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    invite = oauth.issue_invite()
    with pytest.MonkeyPatch.context() as patch:
        for method in ("add", "get", "incr"):
            patch.setattr(LocMemCache, method, refuse)
        answer = Client().get("/oauth/start/", {"invite": invite})
    assert answer.status_code == 503 and answer["Retry-After"].isdigit()
    assert Client().get("/oauth/start/", {"invite": invite}).status_code == 302


def test_a_personal_key_posted_while_the_cache_is_down_is_told_to_try_again_not_a_500(
    two_admin_browsers, platform, fresh_rate_limits, caplog
):
    """As a visit's and an oauth start's: the refused keys per portal are counted in the cache (Redis); with
    it down an admin's personal key form was a 500. None is checked uncounted: 503, try again shortly, one
    WARNING and no ERROR, and the platform is not asked; once the cache answers, the key is saved."""
    import redis
    from django.core.cache.backends.locmem import LocMemCache

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    first, _ = two_admin_browsers
    key = platform.personal_key(platform.admin)
    before = me_calls(platform)
    with pytest.MonkeyPatch.context() as patch, caplog.at_level("WARNING"):
        for method in ("add", "get", "incr"):  # the counters' cache (fresh_rate_limits: a LocMemCache here)
            patch.setattr(LocMemCache, method, refuse)
        answer = first.post("/portal/", {"action": "api_key", "api_key": key})
    assert answer.status_code == 503
    assert answer["Retry-After"].isdigit() and "try again" in answer.content.decode()
    assert me_calls(platform) == before
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert first.post("/portal/", {"action": "api_key", "api_key": key}).status_code == 302


def test_a_known_visitor_and_a_deep_link_while_the_cache_is_down_are_let_in_not_a_500(platform):
    """The entry remembers, in the shared cache, a token it has just signed a browser in with (so a browser
    keeping no cookie is told so, not sent round): with Redis down a visit whose token a grant holds (no
    check, nothing to count) and a deep link asked for through the entry were 500s. The memory is best
    effort: without it the page goes through the entry as it did before there was one."""
    import redis
    from django.core.cache.backends.locmem import LocMemCache

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    from vibeapp import shared_cache

    token = platform.session(platform.admin)
    assert visit(Client(), platform, token).status_code == 302  # its grant is held from now on
    with pytest.MonkeyPatch.context() as patch:
        for method in ("add", "get", "set", "incr"):
            patch.setattr(LocMemCache, method, refuse)
        # The shared cache is Redis itself where REDIS_URL is set (CI's PostgreSQL + Redis run).
        patch.setattr(shared_cache, "cache", type("DownCache", (), {"get": refuse, "set": refuse})())
        assert visit(Client(), platform, token)["Location"] == "/portal/"
        deep_link = Client().get("/portal/", headers=gateway_headers(platform, token))
    assert deep_link.status_code == 302 and deep_link["Location"].startswith("/?next=")


def test_a_browser_that_keeps_no_cookie_is_logged_once_not_by_django_as_well(platform, caplog):
    """From a soak trial in production mode behind the gateway (plain HTTP: the Secure cookies were dropped):
    every such visit logged an INFO line of its own and Django's WARNING `Forbidden: /portal/`, which names no
    reason, as each refused portal page once did (docs/operators.md: one WARNING, never Django's as well)."""
    headers = gateway_headers(platform, platform.session(platform.admin))
    entered = Client().get("/portal/", headers=headers)
    url = entered["Location"]
    for _ in range(3):  # through the entry and back, each time a browser that kept nothing
        answer = Client().get(url, headers=headers)
        if answer.status_code != 302:
            break
        url = answer["Location"]
    assert answer.status_code == 403
    refusals = [
        r for r in caplog.records if r.name in ("django.request", "tenants.views") and r.levelno >= 20
    ]
    assert [
        (r.name, r.levelname) for r in refusals if "cookie" in r.getMessage() or "Forbidden" in r.getMessage()
    ] == [("tenants.views", "WARNING")]
