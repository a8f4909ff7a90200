"""A portal's session running out: the admin is reminded by the bot, bots pause on expiry and resume by
themselves when a portal user opens the app again."""

from __future__ import annotations

from datetime import datetime

import pytest

from botcore.models import Bot
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from tenants import services as tenant_services
from tenants.identity import VerifiedIdentity
from tenants.models import Portal
from tenants.tasks import warn_expiring_sessions


@pytest.mark.slow
def test_the_admin_gets_a_bot_message_with_a_link_before_the_token_expires(
    sandbox_portal, settings, task_queue
):
    bot = provision_bot(sandbox_portal.portal)
    settings.TENANTS_EXPIRY_WARNING_SECONDS = 48 * 3600  # the 24 h token is "about to expire"
    settings.VIBE_APP_PUBLIC_URL = "http://gateway.example/app"
    task_queue.purge()  # the install's own tasks are not this test's
    assert warn_expiring_sessions() == 1
    # The signal's receiver enqueued a django-q2 task; the worker sends the message.
    assert task_queue.names() == ["botcore.tasks.warn_portal_admins"]
    assert task_queue.run() == [1]
    messages = sandbox_portal.bot_messages(bot.vibe_bot_id)
    reminder = messages[-1]
    assert "expires soon" in reminder["text"] and "http://gateway.example/app" in reminder["text"]
    assert warn_expiring_sessions() == 0  # once per token


@pytest.mark.slow
def test_bots_pause_when_the_session_expires_and_resume_when_a_fresh_one_arrives(sandbox_portal, sandbox):
    bot = provision_bot(sandbox_portal.portal)
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})
    assert poll_bot_once(bot.pk).status == "no_session"
    bot.refresh_from_db()
    assert bot.status == Bot.Status.WAITING_SESSION

    session = sandbox_portal.control.post(
        "/_sandbox/sessions", json={"appKey": sandbox_portal.app_key, "userId": sandbox_portal.member_id}
    ).json()["data"]
    portal = sandbox_portal.portal
    tenant_services.store_session_grant(
        identity=VerifiedIdentity(
            vibe_portal_id=sandbox_portal.sandbox_portal_id,
            member_id=portal.member_id,
            domain=portal.domain,
            portal_name=portal.name,
            bitrix_user_id=sandbox_portal.member_id,
            user_name="Boris Ivanov",
            is_admin=False,
            expires_at=datetime.fromisoformat(session["expiresAt"].replace("Z", "+00:00")),
        ),
        session_token=session["token"],
        source="gateway",
    )
    portal.refresh_from_db()
    bot.refresh_from_db()
    assert portal.status == Portal.Status.ACTIVE
    assert bot.status == Bot.Status.ACTIVE
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="снова здесь")
    assert poll_bot_once(bot.pk).status == "polled"
