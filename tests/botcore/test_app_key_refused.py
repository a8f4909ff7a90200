"""A refusal of the app's own key is not a refusal of a portal user's session.

From an outside trial against a platform written from the reference alone: one 403 KEY_REVOKED (or
SCOPE_DENIED) on the app key invalidated the portal's good session, put the portal in "needs a session" and
stopped its bot; after the key was restored, every portal waited for an admin to open the app again. The
app key is one for every portal, so such a refusal now backs the bot off and keeps the sessions; the bot
answers by itself once the key works again.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from botcore.models import Bot
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from tenants.models import Portal, SessionGrant
from tenants.operations import reverify_session

pytestmark = pytest.mark.slow


@pytest.fixture
def bot(sandbox_portal) -> Bot:
    return provision_bot(sandbox_portal.portal)


def usable_grants(portal: Portal) -> int:
    return SessionGrant.objects.filter(portal=portal, invalidated_at__isnull=True).count()


@pytest.mark.parametrize("code", ["KEY_REVOKED", "SCOPE_DENIED", "INVALID_API_KEY"])
def test_the_app_key_refused_on_a_poll_backs_off_and_keeps_the_session(sandbox_portal, bot, code, caplog):
    # An invalid key is refused everywhere, /v1/me too: that is how it is told from a session answered so.
    path = "*" if code == "INVALID_API_KEY" else "/v1/bots/{bot_id}/events"
    fault = sandbox_portal.control.post(
        "/_sandbox/faults", json={"path": path, "errorRate": 1.0, "errorCode": code}
    ).json()["data"]["id"]

    assert poll_bot_once(bot.pk).status == "app_key_refused"

    sandbox_portal.portal.refresh_from_db()
    assert sandbox_portal.portal.status == Portal.Status.ACTIVE
    assert usable_grants(sandbox_portal.portal) == 1
    assert "refused the app key" in caplog.text and "VIBE_APP_KEY" in caplog.text
    sandbox_portal.control.delete(f"/_sandbox/faults/{fault}")
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=None)
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="back?")
    assert poll_bot_once(bot.pk).status == "polled"
    assert any("back?" in m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id))


def test_the_app_key_refused_while_replying_keeps_the_session_and_the_event(sandbox_portal, bot):
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="hello")
    fault = sandbox_portal.control.post(
        "/_sandbox/faults",
        json={
            "method": "POST",
            "path": "/v1/bots/{bot_id}/messages",
            "errorRate": 1.0,
            "errorCode": "KEY_REVOKED",
        },
    ).json()["data"]["id"]

    poll_bot_once(bot.pk)

    assert usable_grants(sandbox_portal.portal) == 1
    sandbox_portal.control.delete(f"/_sandbox/faults/{fault}")
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=None)
    poll_bot_once(bot.pk)
    assert [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if "hello" in m["text"]]


def test_an_expired_session_answered_as_an_invalid_key_is_a_session_refused(sandbox_portal, bot, caplog):
    """From a trial on a platform written from the reference: it answered an expired session 401
    INVALID_API_KEY (the key and its session judged as one; dialect `key-code-for-session`), and the bot
    was polled for ever with an ERROR to fix VIBE_APP_KEY while the portal never asked for a session."""
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["key-code-for-session"]})
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})

    assert poll_bot_once(bot.pk).status == "no_session"

    sandbox_portal.portal.refresh_from_db()
    assert sandbox_portal.portal.status == Portal.Status.NEEDS_SESSION
    assert usable_grants(sandbox_portal.portal) == 0
    assert "fix VIBE_APP_KEY" not in caplog.text and "it is the session it refused" in caplog.text


def test_a_visit_with_a_session_answered_as_an_invalid_key_is_refused_as_that_session(sandbox_portal):
    """The same reading at a gateway visit: the visitor's token is what was refused (counted against its
    address), not the app's key (a 503 for everyone, never counted)."""
    from botcore.vibe.identity import VibeIdentityBackend
    from tenants.errors import InstallationError

    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["key-code-for-session"]})
    with pytest.raises(InstallationError) as refused:
        VibeIdentityBackend().verify_session("vibe_session_made_up_0123456789")
    assert not refused.value.refuses_app_key and not refused.value.is_transient


def test_a_revoked_app_key_does_not_cost_a_reverified_session(sandbox_portal):
    sandbox_portal.control.post("/_sandbox/keys/revoke", json={"key": sandbox_portal.app_key})

    result = reverify_session(sandbox_portal.portal, operator="olga")

    assert not result.ok and "kept" in result.message
    assert usable_grants(sandbox_portal.portal) == 1


def test_a_session_the_platform_refuses_is_still_dropped(sandbox_portal, bot):
    sandbox_portal.control.post(
        "/_sandbox/faults",
        json={"path": "/v1/bots/{bot_id}/events", "errorRate": 1.0, "errorCode": "TOKEN_EXPIRED"},
    )

    assert poll_bot_once(bot.pk).status == "no_session"
    assert usable_grants(sandbox_portal.portal) == 0


def test_an_app_key_check_the_platform_did_not_answer_is_asked_again_not_believed_a_minute(
    sandbox_portal, bot, settings
):
    """From an attacker trial: a check of the app key alone that met a 5xx (or a 429, a timeout) was kept
    for a minute as "the key is refused": in that process every expired session read as the app key's
    refusal (an alert to fix VIBE_APP_KEY, gateway visits a 503). Unanswered, it is asked again next time."""
    settings.VIBE_MAX_ATTEMPTS = 1
    sandbox_portal.control.post("/_sandbox/dialects", json={"dialects": ["key-code-for-session"]})
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})
    fault = sandbox_portal.control.post(
        "/_sandbox/faults", json={"path": "/v1/me", "errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"}
    ).json()["data"]["id"]

    assert poll_bot_once(bot.pk).status == "app_key_refused"  # unknown: the bot backs off, keeps its session
    assert usable_grants(sandbox_portal.portal) == 1

    sandbox_portal.control.delete(f"/_sandbox/faults/{fault}")
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now(), backoff_until=None)
    assert poll_bot_once(bot.pk).status == "no_session"
