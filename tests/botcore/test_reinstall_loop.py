"""A portal's admin uninstalling and installing the app again in a loop: each install registers a bot and its
commands on the app key every portal shares, so a portal's provisionings are bounded per hour
(BOTCORE_PORTAL_PROVISIONING_RATE), and one past the bound is not lost: the bot waits, and the minute sweep
provisions it once the window allows.

Counted where the platform records the calls (the sandbox's record of every call on the app's key)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from botcore.models import Bot
from botcore.services import provisioning
from tenants import services as tenant_services
from tenants.models import Portal

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOOPS = 8


def calls_since(sp, seq: int) -> list[dict]:
    return list(sp.control.get("/_sandbox/calls", params={"since": seq}).json()["data"]["calls"])


def last_seq(sp) -> int:
    calls = sp.control.get("/_sandbox/calls").json()["data"]["calls"]
    return calls[-1]["seq"] if calls else 0


def registrations(calls: list[dict]) -> int:
    return sum(c["method"] == "POST" and c["path"] == "/v1/bots" for c in calls)


@pytest.fixture
def three_an_hour(settings) -> None:
    """Set before the portal installs: its first provisioning is one of the three."""
    settings.BOTCORE_PORTAL_PROVISIONING_RATE = "3/h"


def test_a_reinstall_loop_registers_the_portal_s_bot_at_most_the_rate_s_worth_an_hour(
    task_queue, three_an_hour, sandbox_portal
):
    """From an attacker trial: one portal's admin uninstalled and installed the app again in a loop, limited
    only by their sign-ins (10 a minute): each install registered a bot and its commands on the shared key."""
    sp = sandbox_portal
    assert task_queue.run() == ["provisioned"]  # the first install's: one of the three
    start = last_seq(sp)
    for _ in range(LOOPS):
        tenant_services.uninstall_portal(sp.portal, reason="admin")
        sp.open_app()  # the admin installs the app again
        task_queue.run(allow_failures=True)
    loop_calls = calls_since(sp, start)
    assert registrations(loop_calls) == 2, [(c["method"], c["path"]) for c in loop_calls]
    # The portal stays installed and its bot awaits its turn, put off to the window's end at most.
    bot = Bot.objects.get(portal=sp.portal)
    assert bot.status == Bot.Status.PENDING and bot.provision_requested_at is None
    assert timezone.now() < bot.backoff_until <= timezone.now() + timedelta(hours=1)
    # Nothing the sweep enqueues before then.
    assert provisioning.sweep_pending_bots() == 0 and task_queue.run() == []
    # Once the window has passed, the minute sweep provisions it by itself.
    Bot.objects.filter(pk=bot.pk).update(backoff_until=timezone.now() - timedelta(seconds=1))
    assert provisioning.sweep_pending_bots() == 1
    assert task_queue.run() == ["provisioned"]
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.vibe_bot_id is not None
    assert registrations(calls_since(sp, start)) == 3


def test_an_install_is_provisioned_while_the_rate_s_cache_cannot_be_reached(task_queue, monkeypatch, caplog):
    """The sign-ins that install are refused while the cache is down; an install that got through is never
    left without its bot for it."""
    portal = Portal.objects.create(member_id="m-down", vibe_portal_id="p-down", domain="down.example")

    def unreachable(**kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(provisioning, "take_count", unreachable)
    assert provisioning.request_provisioning(portal) is True
    assert task_queue.names() == [provisioning.PROVISION_TASK]
    assert "provisioning not counted against its rate (the cache is unreachable" in caplog.text


def test_installs_while_its_provisioning_is_queued_spend_none_of_the_portal_s_rate(
    task_queue, three_an_hour, sandbox_portal
):
    """From an attacker trial: the rate was counted before asking whether a provisioning was queued already,
    so visits that enqueued nothing used up the portal's hour, and the install after them waited for it."""
    sp = sandbox_portal
    assert task_queue.run() == ["provisioned"]  # the first install's: one of the three
    tenant_services.uninstall_portal(sp.portal, reason="admin")
    sp.open_app()  # installs again: its provisioning is queued, the second of the three
    for _ in range(5):  # the portal's people open the app meanwhile
        assert provisioning.request_provisioning(Portal.objects.get(pk=sp.portal.pk)) is False
    assert "provisioned" in task_queue.run()  # beside the uninstall's own task
    tenant_services.uninstall_portal(sp.portal, reason="admin")
    sp.open_app()  # the third of the three: enqueued, not put off to the window's end
    assert "provisioned" in task_queue.run()
    assert Bot.objects.get(portal=sp.portal).status == Bot.Status.ACTIVE
