"""A portal that installed gets its bot without anyone doing anything: a provisioning that met a passing
failure is enqueued again by the sweep once its backoff has passed, once at a time; a final refusal is left
for an operator. Against the live sandbox, through the real task queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from botcore import conf
from botcore.models import Bot
from botcore.schedules import SCHEDULES
from botcore.services.bots import provision_bot
from botcore.services.provisioning import sweep_pending_bots
from tenants.models import Portal, SessionGrant

TASK = "botcore.tasks.provision_portal_bot"


@pytest.fixture
def installed(task_queue, settings, sandbox_portal):
    """The portal just installed: its install-time provisioning is queued, not run yet (task_queue is set up
    first, so its purge does not drop it)."""
    settings.VIBE_MAX_ATTEMPTS = 1  # the client's own retries of one call are not what is tested here
    assert task_queue.names() == [TASK]
    return sandbox_portal


def platform_bots(sandbox_portal) -> list[dict]:
    params = {"portalId": sandbox_portal.sandbox_portal_id}
    answer = sandbox_portal.control.get("/_sandbox/bots", params=params)
    return answer.json()["data"]["bots"]


def registrations(sandbox_portal) -> list[dict]:
    calls = sandbox_portal.control.get("/_sandbox/calls", params={"path": "/v1/bots"}).json()["data"]["calls"]
    return [call for call in calls if call["method"] == "POST"]


def fail_registration(sandbox_portal, code: str) -> None:
    fault = {"method": "POST", "path": "/v1/bots", "errorRate": 1.0, "errorCode": code}
    assert sandbox_portal.control.post("/_sandbox/faults", json=fault).status_code == 200


def provision_portal_bot_later(portal: Portal) -> None:
    async_task(TASK, portal.pk)  # as the admin action and the operator API enqueue it


def let_backoff_pass(bot: Bot) -> None:
    """As if the clock had moved past the bot's backoff (the sandbox shares the process's clock)."""
    Bot.objects.filter(pk=bot.pk).update(backoff_until=timezone.now() - timedelta(seconds=1))


def test_a_provisioning_failed_on_a_platform_fault_is_provisioned_once_by_the_sweep(installed, task_queue):
    fail_registration(installed, "INTERNAL_ERROR")
    assert task_queue.run() == ["backoff"]
    bot = Bot.objects.get(portal=installed.portal)
    assert (bot.status, bot.vibe_bot_id, bot.consecutive_failures) == (Bot.Status.PENDING, None, 1)
    assert "INTERNAL_ERROR" in bot.last_error and bot.backoff_until is not None
    assert platform_bots(installed) == []

    installed.control.delete("/_sandbox/faults")
    let_backoff_pass(bot)
    assert sweep_pending_bots() == 1
    assert sweep_pending_bots() == 0  # one queued already
    assert task_queue.queued == [(TASK, (installed.portal.pk,))]
    assert task_queue.run() == ["provisioned"]

    assert len(platform_bots(installed)) == 1
    assert len(registrations(installed)) == 2  # the failed one, and the sweep's
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.vibe_bot_id == platform_bots(installed)[0]["id"]
    assert (bot.last_error, bot.consecutive_failures, bot.provision_requested_at) == ("", 0, None)
    assert sweep_pending_bots() == 0
    assert task_queue.queued == []


def test_the_sweep_leaves_a_provisioning_in_flight_alone(installed, task_queue):
    assert sweep_pending_bots() == 0  # the install's is queued
    task_queue.run()
    assert len(platform_bots(installed)) == 1
    assert len(registrations(installed)) == 1


def test_a_provisioning_whose_task_was_lost_is_enqueued_again_after_its_lease(installed, task_queue):
    task_queue.purge()  # the worker that took it died with it
    bot = Bot.objects.get(portal=installed.portal)
    assert sweep_pending_bots() == 0
    lease = timedelta(seconds=conf.task_stamp_seconds() + 1)
    Bot.objects.filter(pk=bot.pk).update(provision_requested_at=timezone.now() - lease)
    assert sweep_pending_bots() == 1
    assert task_queue.run() == ["provisioned"]
    assert len(platform_bots(installed)) == 1


def test_an_installed_portal_with_no_bot_row_gets_its_bot_from_the_sweep(installed, task_queue):
    task_queue.purge()
    Bot.objects.filter(portal=installed.portal).delete()  # installed before the install requested a row
    assert sweep_pending_bots() == 1
    assert task_queue.run() == ["provisioned"]
    assert len(platform_bots(installed)) == 1


def test_a_final_refusal_is_left_for_an_operator_and_not_retried(installed, task_queue):
    # Not SCOPE_DENIED, as it was: with a session that is the app key's scopes, which every portal meets alike
    # and which waits for an operator's fix of the key (the test above).
    fail_registration(installed, "NAME_REQUIRED")
    task_queue.run(allow_failures=True)
    bot = Bot.objects.get(portal=installed.portal)
    assert bot.status == Bot.Status.BROKEN and "NAME_REQUIRED" in bot.broken_reason
    assert bot.provision_requested_at is None

    installed.control.delete("/_sandbox/faults")
    let_backoff_pass(bot)
    assert sweep_pending_bots() == 0
    assert task_queue.queued == []
    assert platform_bots(installed) == [] and len(registrations(installed)) == 1


@pytest.mark.parametrize("status", [Portal.Status.NEEDS_SESSION, Portal.Status.UNINSTALLED])
def test_portals_that_cannot_have_a_bot_are_not_swept(installed, task_queue, status):
    fail_registration(installed, "INTERNAL_ERROR")
    task_queue.run()
    let_backoff_pass(Bot.objects.get(portal=installed.portal))
    Portal.objects.filter(pk=installed.portal.pk).update(status=status)
    assert sweep_pending_bots() == 0
    assert task_queue.queued == []


def test_a_swept_provisioning_of_a_bot_registered_meanwhile_does_nothing(installed, task_queue):
    fail_registration(installed, "INTERNAL_ERROR")
    task_queue.run()
    installed.control.delete("/_sandbox/faults")
    let_backoff_pass(Bot.objects.get(portal=installed.portal))
    assert sweep_pending_bots() == 1
    provision_bot(installed.portal)  # an operator's, run first
    assert task_queue.run() == ["skipped"]
    assert len(registrations(installed)) == 2  # the failed one, and the operator's


def test_the_sweep_runs_every_minute():
    spec = SCHEDULES["botcore.sweep_pending_bots"]
    assert (spec["func"], spec["minutes"]) == ("botcore.tasks.sweep_pending_bots", 1)


def test_the_schedules_bring_its_bot_to_a_portal_whose_install_provisioning_failed(installed, task_queue):
    fail_registration(installed, "RATE_LIMIT")
    task_queue.run(allow_failures=True)
    installed.control.delete("/_sandbox/faults")
    Bot.objects.filter(portal=installed.portal).update(backoff_until=None)  # as if the clock had moved on
    for _ in range(2):  # two turns of every schedule, as two minutes of a cluster would run them
        for spec in SCHEDULES.values():
            import_string(spec["func"])()
        task_queue.run()
    assert len(platform_bots(installed)) == 1
    assert len(registrations(installed)) == 2  # the failed one, and one more
    assert Bot.objects.get(portal=installed.portal).status == Bot.Status.ACTIVE


def test_a_registered_bots_reprovisioning_that_fails_leaves_the_bot_as_it_was(installed, task_queue):
    assert task_queue.run() == ["provisioned"]
    fail_registration(installed, "INTERNAL_ERROR")
    provision_portal_bot_later(installed.portal)  # an operator's re-provision
    task_queue.run(allow_failures=True)
    bot = Bot.objects.get(portal=installed.portal)
    assert (bot.status, bot.backoff_until, bot.consecutive_failures) == (Bot.Status.ACTIVE, None, 0)
    installed.control.delete("/_sandbox/faults")
    assert sweep_pending_bots() == 0


def install_portals(sandbox_portal, count: int) -> list[Portal]:
    """`count` more portals install the app (an admin's session stored, as a gateway visit does)."""
    return [sandbox_portal.another_portal(f"mass{index}.example").portal for index in range(count)]


def test_a_mass_install_provisions_a_few_at_a_time_and_every_portal_gets_its_bot(
    installed, task_queue, settings
):
    """From a mass install of 200 portals: a provisioning each queued at once held every worker while its
    calls waited for the key's slots, and the cycles carrying other portals' replies queued behind them.
    At most BOTCORE_PROVISIONING_CONCURRENCY are queued or running; each one that ends starts the next."""
    settings.BOTCORE_PROVISIONING_CONCURRENCY = 2
    portals = install_portals(installed, 4)
    assert len(task_queue.queued) == 2  # the first portal's, and one more; three wait as PENDING bots
    done, most_at_once = [], 0
    while task_queue.queued:
        most_at_once = max(most_at_once, len(task_queue.queued))
        done += task_queue.run_one()
    assert most_at_once == 2 and done == ["provisioned"] * 5
    for portal in [installed.portal, *portals]:
        bot = Bot.objects.get(portal=portal)
        assert bot.status == Bot.Status.ACTIVE and bot.provision_requested_at is None
    assert sweep_pending_bots() == 0


def usable_grants(portal: Portal) -> int:
    return SessionGrant.objects.filter(portal=portal, invalidated_at__isnull=True).count()


def test_a_provisioning_refused_for_an_expired_session_waits_for_a_fresh_one(installed, task_queue):
    """From an outside trial: a provisioning that met 401 TOKEN_EXPIRED broke the bot for an operator and
    kept the refused session as usable; it is a refusal for want of a session like any other call's."""
    installed.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})  # the session ran out
    assert task_queue.run() == ["no_session"]  # no other session: it waits for a user, no backoff

    portal, bot = Portal.objects.get(pk=installed.portal.pk), Bot.objects.get(portal=installed.portal)
    assert portal.status == Portal.Status.NEEDS_SESSION and usable_grants(portal) == 0
    assert (bot.status, bot.vibe_bot_id, bot.broken_reason) == (Bot.Status.PENDING, None, "")
    assert "TOKEN_EXPIRED" in bot.last_error
    assert len(registrations(installed)) == 1 and platform_bots(installed) == []
    let_backoff_pass(bot)
    assert sweep_pending_bots() == 0 and task_queue.queued == []  # nothing could register it now

    # The user who brings a fresh session gets the bot at once, not at the sweep's next minute after the
    # provisioning's backoff (up to minutes).
    assert installed.open_app().status == Portal.Status.ACTIVE
    assert task_queue.run() == ["provisioned"]
    bot.refresh_from_db()
    assert len(registrations(installed)) == 2 and len(platform_bots(installed)) == 1
    assert (bot.status, bot.vibe_bot_id) == (Bot.Status.ACTIVE, platform_bots(installed)[0]["id"])


def test_a_provisioning_refused_with_the_app_key_keeps_the_session_and_waits_for_the_key(
    installed, task_queue, caplog
):
    """The app's own key refused (KEY_REVOKED with a session) is an operator's matter, as on a poll: no portal
    user's session is dropped for it, and an ERROR says to fix VIBE_APP_KEY. The bot waits for the key, as a
    poll does: it was left broken, so once the key was fixed every bot that met the refusal needed an
    operator's re-provision; now the sweep provisions it after its backoff."""
    fail_registration(installed, "KEY_REVOKED")
    with caplog.at_level("ERROR", logger="botcore"):
        assert task_queue.run() == ["backoff"]
    portal, bot = Portal.objects.get(pk=installed.portal.pk), Bot.objects.get(portal=installed.portal)
    assert portal.status == Portal.Status.ACTIVE and usable_grants(portal) == 1
    assert (bot.status, bot.vibe_bot_id) == (Bot.Status.PENDING, None) and "KEY_REVOKED" in bot.last_error
    assert bot.backoff_until is not None
    assert any("fix VIBE_APP_KEY" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert len(registrations(installed)) == 1

    installed.control.delete("/_sandbox/faults")  # the operator fixed the key
    let_backoff_pass(bot)
    assert sweep_pending_bots() == 1
    assert task_queue.run() == ["provisioned"]
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and len(platform_bots(installed)) == 1


def sessions_end(portal: Portal) -> None:
    """Every session of the portal ends (expired or refused), and it has no personal key: nothing a bot
    could be registered with until a portal user opens the app."""
    SessionGrant.objects.filter(portal=portal).update(invalidated_at=timezone.now())


def test_a_reprovisioning_that_finds_no_session_waits_for_a_user_with_one_warning_and_no_error(
    installed, task_queue, caplog
):
    """An operator's re-provision of a registered bot whose portal had no session left failed in the queue
    each time, django-q's ERROR `Failed … SessionTokenError` with its traceback (a fuzzer's loop logged 161 in
    three minutes), and the portal still read as active. It is a state that waits for a portal user: one
    WARNING saying so, the bot's last error saying so, the portal *needs a session*; nothing is tried again
    until a user opens the app, and then the bot runs as before."""
    assert task_queue.run() == ["provisioned"]
    sessions_end(installed.portal)
    registered = len(registrations(installed))
    provision_portal_bot_later(installed.portal)  # queued while a session still stood (a race)
    with caplog.at_level("INFO"):
        assert task_queue.run() == ["no_session"]
    assert not [r for r in caplog.records if r.levelno >= 40 or r.exc_info]
    waits = [r for r in caplog.records if "waits for a portal user to open the app" in r.getMessage()]
    assert [r.levelname for r in waits] == ["WARNING"]
    portal, bot = Portal.objects.get(pk=installed.portal.pk), Bot.objects.get(portal=installed.portal)
    assert portal.status == Portal.Status.NEEDS_SESSION and bot.status == Bot.Status.WAITING_SESSION
    assert "waits for a portal user to open the app" in bot.last_error
    assert len(registrations(installed)) == registered

    assert sweep_pending_bots() == 0 and task_queue.queued == []
    assert installed.open_app().status == Portal.Status.ACTIVE
    task_queue.run()
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE


def test_a_first_provisioning_that_finds_no_session_is_not_swept_again_until_a_user_brings_one(
    installed, task_queue, caplog, settings
):
    """The install's provisioning met no session (every one ended before it ran): it was a passing failure,
    a WARNING and a backoff of seconds, and the sweep enqueued it again each time the backoff passed (the
    portal still read as active), a WARNING each, for as long as nobody opened the app. Now it waits, said
    once, and the user who opens the app gets the bot at once."""
    sessions_end(installed.portal)
    with caplog.at_level("WARNING"):
        assert task_queue.run() == ["no_session"]
        bot = Bot.objects.get(portal=installed.portal)
        assert (bot.status, bot.backoff_until) == (Bot.Status.PENDING, None)
        assert "waits for a portal user to open the app" in bot.last_error
        for _minute in range(3):  # the sweep's next minutes
            let_backoff_pass(bot)
            assert sweep_pending_bots() == 0 and task_queue.queued == []
    waits = [r for r in caplog.records if "waits for a portal user" in r.getMessage()]
    assert len(waits) == 1 and not [r for r in caplog.records if r.levelno >= 40 or r.exc_info]
    assert registrations(installed) == []

    assert installed.open_app().status == Portal.Status.ACTIVE
    assert task_queue.run() == ["provisioned"]
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and len(platform_bots(installed)) == 1
