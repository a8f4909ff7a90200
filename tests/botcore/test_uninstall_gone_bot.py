"""An uninstall unregisters the portal's bot (DELETE /v1/bots/:botId) only while it may still be there: not
once more for a bot an earlier uninstall unregistered (the portal installed again and left before its new
bot was registered), nor for one the platform said it no longer knows (BOT_NOT_FOUND). The platform's "not
found" to a DELETE is the bot gone, as the reference says repeating the call is (CONTRACT B §7.1).

Counted where the platform records the calls (the sandbox's record of every call)."""

from __future__ import annotations

import pytest

from botcore.models import Bot
from botcore.services.platform import client_for_bot
from botcore.services.polling import poll_bot_once
from tenants import services as tenant_services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def deletes_of(sp, vibe_bot_id: int) -> int:
    """DELETEs of the bot the platform received, found by path (a gone bot's calls name no bot)."""
    path = f"/v1/bots/{vibe_bot_id}"
    calls = sp.control.get("/_sandbox/calls", params={"path": path}).json()["data"]["calls"]
    return sum(c["method"] == "DELETE" for c in calls)


@pytest.fixture
def one_an_hour(settings) -> None:
    """Set before the portal installs: its first provisioning is the hour's one, an install again waits."""
    settings.BOTCORE_PORTAL_PROVISIONING_RATE = "1/h"


def test_a_second_uninstall_sends_no_delete_for_the_bot_the_first_unregistered(
    task_queue, one_an_hour, sandbox_portal
):
    sp = sandbox_portal
    assert task_queue.run() == ["provisioned"]
    old_id = Bot.objects.get(portal=sp.portal).vibe_bot_id
    tenant_services.uninstall_portal(sp.portal, reason="admin")
    assert deletes_of(sp, old_id) == 1
    for _ in range(3):
        portal = sp.open_app()  # installed again; its provisioning put off to the rate's window end
        task_queue.run(allow_failures=True)
        bot = Bot.objects.get(portal=portal)
        assert bot.status == Bot.Status.PENDING
        tenant_services.uninstall_portal(portal, reason="admin")
    assert deletes_of(sp, old_id) == 1
    assert Bot.objects.get(portal=sp.portal).status == Bot.Status.RETIRED


def test_an_uninstall_sends_no_delete_for_a_bot_the_platform_no_longer_knows(task_queue, sandbox_portal):
    sp = sandbox_portal
    assert task_queue.run() == ["provisioned"]
    bot = Bot.objects.get(portal=sp.portal)
    poll_bot_once(bot.pk)
    client_for_bot(bot).delete_bot(bot.vibe_bot_id)  # the portal's admin deleted it in Bitrix24
    poll_bot_once(bot.pk)  # the platform answers BOT_NOT_FOUND: the row awaits a new bot
    bot.refresh_from_db()
    assert bot.status == Bot.Status.PENDING
    assert deletes_of(sp, bot.vibe_bot_id) == 1
    tenant_services.uninstall_portal(sp.portal, reason="admin")
    assert deletes_of(sp, bot.vibe_bot_id) == 1
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RETIRED


def test_an_uninstall_sends_no_delete_for_a_bot_broken_by_the_platforms_not_found(task_queue, sandbox_portal):
    """A bot the platform answered "not found" before it ever answered (forgotten at once, or never known)
    is broken for an operator, not registered anew; it is gone all the same, and no uninstall asks again."""
    sp = sandbox_portal
    assert task_queue.run() == ["provisioned"]
    bot = Bot.objects.get(portal=sp.portal)
    client_for_bot(bot).delete_bot(bot.vibe_bot_id)  # deleted before its first cycle
    poll_bot_once(bot.pk)  # BOT_NOT_FOUND with no answer since its registration: broken
    bot.refresh_from_db()
    assert bot.status == Bot.Status.BROKEN
    assert bot.vibe_bot_gone_at is not None
    assert deletes_of(sp, bot.vibe_bot_id) == 1
    tenant_services.uninstall_portal(sp.portal, reason="admin")
    assert deletes_of(sp, bot.vibe_bot_id) == 1
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RETIRED
