"""The portal's bot is the one of the code the deployment registers (BOTCORE_BOT_CODE): a portal may have a
row of another code still registered on the platform (the key lists both bots), and what acts on "the
portal's bot" (its profile, its chats, its commands) must act on ours, never on the other."""

from __future__ import annotations

from botcore.models import Bot
from botcore.selectors import find_portal_bot, find_registered_bot
from botcore.services.bots import provision_bot
from tenants.services import update_portal_settings


def test_the_portals_bot_is_the_one_of_the_deployments_code_when_the_platform_lists_two(
    sandbox_portal, settings
):
    portal = sandbox_portal.portal
    # The portal was installed while the deployment registered its bots under an earlier code.
    Bot.objects.filter(portal=portal).update(code="earlier_code")
    settings.BOTCORE_BOT_CODE = "earlier_code"
    earlier = provision_bot(portal)
    settings.BOTCORE_BOT_CODE = "vibe_bot"
    ours = provision_bot(portal)
    assert earlier.pk < ours.pk and earlier.code != ours.code
    codes = {bot["code"] for bot in sandbox_portal.portal_bots()}
    assert {"earlier_code", "vibe_bot"} <= codes  # the platform lists both for our key

    bots = Bot.objects.filter(pk__in=[earlier.pk, ours.pk])
    before = {bot.code: len(sandbox_portal.calls(bot.vibe_bot_id)) for bot in bots}
    update_portal_settings(portal, bot_name="Renamed")  # its receiver: apply_portal_profile
    patched = {
        bot.code: [
            c for c in sandbox_portal.calls(bot.vibe_bot_id)[before[bot.code] :] if c["method"] == "PATCH"
        ]
        for bot in bots
    }
    assert len(patched["vibe_bot"]) == 1 and patched["earlier_code"] == []
    assert find_registered_bot(portal) == ours and find_portal_bot(portal) == ours
