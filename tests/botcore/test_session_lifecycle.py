"""A portal's session running out: the admin is reminded by the bot, bots pause on expiry and resume by
themselves when a portal user opens the app again."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from botcore.models import Bot
from botcore.services.bots import provision_bot
from botcore.services.platform import client_for_bot
from botcore.services.polling import poll_bot_once
from tenants import services as tenant_services
from tenants.identity import VerifiedIdentity
from tenants.models import Portal
from tenants.operations import send_renewal_reminder
from tenants.tasks import warn_expiring_sessions


def fail_sends(sandbox_portal, *, after_action: bool = False) -> str:
    """Every message the bot sends fails with INTERNAL_ERROR (after the platform posted it, with
    `after_action`); the fault's id, to lift it."""
    rule = {
        "method": "POST",
        "path": "/v1/bots/{bot_id}/messages",
        "errorRate": 1.0,
        "errorCode": "INTERNAL_ERROR",
    }
    if after_action:
        rule["afterAction"] = True
    return sandbox_portal.control.post("/_sandbox/faults", json=rule).json()["data"]["id"]


def expiry_warnings(sandbox_portal, bot) -> int:
    """How many renewal warnings the bot's chats hold."""
    return sum("expires soon" in m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id))


@pytest.mark.slow
def test_the_admin_gets_a_bot_message_with_a_link_before_the_token_expires(
    sandbox_portal, settings, task_queue
):
    from tenants.models import PortalSettings, SessionGrant

    bot = provision_bot(sandbox_portal.portal)
    PortalSettings.objects.update_or_create(
        portal=sandbox_portal.portal, defaults={"timezone": "Asia/Kolkata"}
    )
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
    # On the portal's clock, as its admins set it (it said UTC, hours off a Kolkata admin's day).
    ends = SessionGrant.objects.get(portal=sandbox_portal.portal).expires_at
    local = ends.astimezone(ZoneInfo("Asia/Kolkata"))
    assert f"({local:%Y-%m-%d %H:%M}, Asia/Kolkata)" in reminder["text"], reminder["text"]
    assert warn_expiring_sessions() == 0  # once per token


@pytest.mark.slow
def test_an_expiry_warning_the_platform_failed_to_take_is_sent_at_a_later_sweep_once_to_each_admin(
    sandbox_portal, settings, task_queue
):
    """The warning goes out once per token, and it is what keeps a portal's bot alive: a platform failing
    the sends (past the client's own retries) lost it for good, the portal stamped warned. Now the warning
    waits for the next sweep, and an admin told already is not told twice."""
    bot = provision_bot(sandbox_portal.portal)
    settings.TENANTS_EXPIRY_WARNING_SECONDS = 48 * 3600
    task_queue.purge()
    fault = fail_sends(sandbox_portal)

    def warnings() -> int:
        return expiry_warnings(sandbox_portal, bot)

    assert warn_expiring_sessions() == 1
    assert task_queue.run() == [0]
    assert warnings() == 0
    # Nor is an operator's reminder refused for ten minutes as if it had reached the admins.
    assert send_renewal_reminder(Portal.objects.get(pk=sandbox_portal.portal.pk), operator="op").ok
    assert task_queue.run() == [0]
    sandbox_portal.control.delete(f"/_sandbox/faults/{fault}")
    assert warn_expiring_sessions() == 1  # the next sweep tries again
    assert task_queue.run() == [1]
    assert warnings() == 1
    assert warn_expiring_sessions() == 0  # told: once per token again
    assert task_queue.run() == []
    assert warnings() == 1


@pytest.mark.slow
def test_each_admin_is_reminded_in_their_own_language_with_the_moment_as_it_writes_it(
    sandbox_portal, settings, task_queue
):
    """From a Russian-language trial: in a Russian portal every admin got the reminder in Russian, Alice who
    reads English too (docs/translating.md: a reminder goes in "the recipient's language as the platform
    lists it"), and its moment read "(2026-12-07 13:19, Europe/Moscow)" where Russians write 07.12.2026."""
    import re

    from tenants.models import PortalSettings
    from tenants.testing import store_sandbox_session

    sp = sandbox_portal
    [portal] = [p for p in sp.control.get("/_sandbox/portals").json()["data"]["portals"]
                if p["id"] == sp.sandbox_portal_id]  # fmt: skip
    anna = sp.control.post(
        f"/_sandbox/portals/{sp.sandbox_portal_id}/users",
        json={"name": "Анна Петрова", "isAdmin": True, "language": "ru"},
    ).json()["data"]["user"]
    session = sp.control.post("/_sandbox/sessions", json={"appKey": sp.app_key, "userId": anna["id"]})
    store_sandbox_session(portal=portal, user=anna, session=session.json()["data"])
    bot = provision_bot(sp.portal)
    PortalSettings.objects.update_or_create(
        portal=sp.portal, defaults={"timezone": "Europe/Moscow", "language": "ru"}
    )
    settings.TENANTS_EXPIRY_WARNING_SECONDS = 48 * 3600
    task_queue.purge()
    assert warn_expiring_sessions() == 1
    assert task_queue.run() == [2]  # both admins told
    chats = sp.control.get("/_sandbox/state").json()["data"]["chats"]
    person_of = {
        c["id"]: next(m for m in c["members"] if m != bot.vibe_bot_id)
        for c in chats
        if c["type"] == "private" and c["botId"] == bot.vibe_bot_id
    }
    told = {person_of[m["chatId"]]: m["text"] for m in sp.bot_messages(bot.vibe_bot_id)}
    assert told[anna["id"]].startswith("Доступ бота к порталу скоро истечёт"), told
    assert re.search(r"\(\d\d\.\d\d\.\d{4} \d\d:\d\d, Europe/Moscow\)", told[anna["id"]]), told
    assert told[sp.admin_id].startswith("The bot's access to this portal expires soon"), told
    assert re.search(r"\(\d{4}-\d\d-\d\d \d\d:\d\d, Europe/Moscow\)", told[sp.admin_id]), told


@pytest.mark.slow
def test_an_expiry_warning_the_platform_may_have_posted_is_not_sent_again_at_every_sweep(
    sandbox_portal, settings, task_queue
):
    """From a hostile-platform probe: a platform that posts the warning and then answers an error (a gateway's
    504 after the backend wrote it) left the send in doubt, yet it was counted as not told, the stamp was
    lifted and the next sweep sent it again: the admin got the same warning every five minutes until the
    token expired. A send that may have posted is sent once more at most (a lost warning costs the bot)."""
    bot = provision_bot(sandbox_portal.portal)
    settings.TENANTS_EXPIRY_WARNING_SECONDS = 48 * 3600
    task_queue.purge()
    fail_sends(sandbox_portal, after_action=True)

    def warnings() -> int:
        return expiry_warnings(sandbox_portal, bot)

    assert warn_expiring_sessions() == 1
    task_queue.run()
    assert warnings() == 1  # posted; the answer said otherwise
    for _ in range(3):  # the sweeps of the next quarter hour
        warn_expiring_sessions()
        task_queue.run()
    assert warnings() == 2


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


def registrations(sandbox_portal) -> int:
    calls = sandbox_portal.control.get("/_sandbox/calls", params={"path": "/v1/bots"}).json()["data"]["calls"]
    return len([call for call in calls if call["method"] == "POST"])


def refuse_for_good(sandbox_portal, bot: Bot, refusal: str) -> None:
    """The app was uninstalled and installed again on the platform while the portal waited for a session
    (nothing reached the backend): the old bot is gone from this key, and the platform answers its id with
    `refusal` (404 BOT_NOT_FOUND as the sandbox does, or 403 BOT_ACCESS_DENIED as a bot kept by another
    owner would be)."""
    client_for_bot(bot).delete_bot(bot.vibe_bot_id)  # as the platform's uninstall did
    if refusal != "BOT_NOT_FOUND":
        fault = {"path": f"/v1/bots/{bot.vibe_bot_id}/events", "errorRate": 1.0, "errorCode": refusal}
        assert sandbox_portal.control.post("/_sandbox/faults", json=fault).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("refusal", ["BOT_NOT_FOUND", "BOT_ACCESS_DENIED"])
def test_a_bot_the_platform_refuses_after_a_reinstall_is_registered_anew_not_resumed(
    task_queue, sandbox_portal, refusal
):
    """From an outside trial: a portal reinstalled on the platform came back with a fresh session, and its
    bot resumed on the old platform bot, which the platform refused for good: broken, for an operator to
    re-provision. It is registered anew, its offset starting afresh for the new bot."""
    assert task_queue.run() == ["provisioned"]  # the install's
    bot = Bot.objects.get(portal=sandbox_portal.portal)
    old_id = bot.vibe_bot_id
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=old_id, text="before")
    assert poll_bot_once(bot.pk).status == "polled"
    sandbox_portal.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})
    assert poll_bot_once(bot.pk).status == "no_session"

    portal = sandbox_portal.open_app()
    bot.refresh_from_db()
    assert (portal.status, bot.status, bot.vibe_bot_id) == (Portal.Status.ACTIVE, Bot.Status.ACTIVE, old_id)
    refuse_for_good(sandbox_portal, bot, refusal)

    assert poll_bot_once(bot.pk).status == "reprovision"
    bot.refresh_from_db()
    assert bot.status == Bot.Status.PENDING and refusal in bot.last_error
    assert task_queue.names() == ["botcore.tasks.provision_portal_bot"]
    assert task_queue.run(allow_failures=True)[0] == "provisioned"
    bot.refresh_from_db()
    assert registrations(sandbox_portal) == 2  # the install's, and this one
    assert bot.status == Bot.Status.ACTIVE and bot.vibe_bot_id not in (None, old_id)
    assert bot.event_offset == 0 and bot.broken_reason == ""
    sandbox_portal.say(user_id=sandbox_portal.member_id, bot_id=bot.vibe_bot_id, text="after")
    assert poll_bot_once(bot.pk).status == "polled"
    assert poll_bot_once(bot.pk).status == "polled"  # the new bot's offset holds
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.event_offset > 0


@pytest.mark.slow
def test_a_bot_refused_before_it_ever_answered_is_left_broken_for_an_operator(task_queue, sandbox_portal):
    """No loop of registrations: a platform that refuses the bot it has just registered is not asked for
    another."""
    assert task_queue.run() == ["provisioned"]
    bot = Bot.objects.get(portal=sandbox_portal.portal)
    refuse_for_good(sandbox_portal, bot, "BOT_ACCESS_DENIED")
    assert poll_bot_once(bot.pk).status == "broken"
    bot.refresh_from_db()
    assert bot.status == Bot.Status.BROKEN and "BOT_ACCESS_DENIED" in bot.broken_reason
    assert task_queue.queued == [] and registrations(sandbox_portal) == 1


@pytest.mark.slow
def test_a_reinstall_does_not_warn_that_the_bot_the_uninstall_unregistered_was_not_retired(
    task_queue, sandbox_portal, caplog
):
    """From an operator's trial: every reinstall logged a WARNING `old bot not retired on the platform …
    404 BOT_NOT_FOUND`, for the bot its uninstall had unregistered on purpose, which reads as a leak."""
    assert task_queue.run() == ["provisioned"]  # the install's
    bot = Bot.objects.get(portal=sandbox_portal.portal)
    old_id = bot.vibe_bot_id
    tenant_services.uninstall_portal(sandbox_portal.portal, reason="admin")
    task_queue.purge()
    sandbox_portal.open_app()  # the admin opens the app again: installed anew
    caplog.clear()
    assert "provisioned" in task_queue.run(allow_failures=True)
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.vibe_bot_id not in (None, old_id)
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")], caplog.text
    assert f"old bot already gone on the platform portal={sandbox_portal.portal.member_id}" in caplog.text


def unregistrations(sandbox_portal, vibe_bot_id: int) -> int:
    path = f"/v1/bots/{vibe_bot_id}"
    calls = sandbox_portal.control.get("/_sandbox/calls", params={"path": path}).json()["data"]["calls"]
    return len([call for call in calls if call["method"] == "DELETE" and call["path"] == path])


@pytest.mark.slow
def test_a_bot_refused_as_another_keys_is_not_marked_gone_and_an_uninstall_unregisters_it(
    task_queue, sandbox_portal
):
    """BOT_ACCESS_DENIED says the bot is there, under another key (VibeApiError.says_bot_gone): the bot the
    row awaits a new one for was marked gone all the same, so an uninstall before the new one came sent the
    old one no DELETE and left it in users' chats. Counted on the platform's record of DELETEs."""
    assert task_queue.run() == ["provisioned"]
    bot = Bot.objects.get(portal=sandbox_portal.portal)
    old_id = bot.vibe_bot_id
    assert poll_bot_once(bot.pk).status == "polled"
    fault = {"path": f"/v1/bots/{old_id}/events", "errorRate": 1.0, "errorCode": "BOT_ACCESS_DENIED"}
    assert sandbox_portal.control.post("/_sandbox/faults", json=fault).status_code == 200

    assert poll_bot_once(bot.pk).status == "reprovision"
    bot.refresh_from_db()
    assert (bot.status, bot.vibe_bot_id, bot.vibe_bot_gone_at) == (Bot.Status.PENDING, old_id, None)
    task_queue.purge()  # the portal uninstalls before the new bot is registered
    tenant_services.uninstall_portal(sandbox_portal.portal, reason="admin")
    assert unregistrations(sandbox_portal, old_id) == 1


@pytest.mark.slow
def test_an_unregister_answered_another_not_found_does_not_mark_the_bot_gone(task_queue, sandbox_portal):
    """An uninstall's DELETE answered 404 NOT_FOUND ("no such endpoint": a proxy's path, not the bot) took the
    bot for gone, as BOT_NOT_FOUND says (delete_bot's missing_ok took any 404), while the platform still had
    it: a later move would not retire it (retire_platform_bot skips a bot marked gone). Checked against the
    platform's record of DELETEs and of bots."""
    assert task_queue.run() == ["provisioned"]
    bot = Bot.objects.get(portal=sandbox_portal.portal)
    old_id = bot.vibe_bot_id
    fault = {"method": "DELETE", "path": "/v1/bots/{bot_id}", "errorRate": 1.0, "errorCode": "NOT_FOUND"}
    assert sandbox_portal.control.post("/_sandbox/faults", json=fault).status_code == 200
    tenant_services.uninstall_portal(sandbox_portal.portal, reason="admin")
    assert unregistrations(sandbox_portal, old_id) == 1
    bots = sandbox_portal.control.get("/_sandbox/bots").json()["data"]["bots"]
    assert old_id in [each["id"] for each in bots]  # still there
    bot.refresh_from_db()
    assert bot.status == Bot.Status.RETIRED and bot.vibe_bot_gone_at is None
