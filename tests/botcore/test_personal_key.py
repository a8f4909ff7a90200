"""A portal that runs on a personal vibe_api_ key: the key is verified with the sandbox's GET /v1/me, and
the bot is registered, polled and answers with that key alone (the app session has lapsed)."""

from __future__ import annotations

import pytest

from botcore.services.bots import provision_bot
from botcore.services.conversation_state import DatabaseStateStore
from botcore.services.polling import poll_bot_once
from botcore.skills.state import DialogState
from tenants import services as tenant_services
from tests.botcore.skills.probe import LOG


def probe_events(portal_id: int) -> list[dict]:
    state = DialogState(DatabaseStateStore(portal_id=portal_id, skill_name="probe"), LOG)
    return state.get().get("events", [])


@pytest.mark.slow
def test_a_portal_on_a_personal_key_registers_polls_and_answers_with_that_key(sandbox_portal, settings):
    settings.BOTCORE_SKILLS = ["tests.botcore.skills.probe.ProbeSkill"]
    sp = sandbox_portal
    key = sp.control.post("/_sandbox/keys", json={"userId": sp.admin_id}).json()["data"]["key"]
    tenant_services.set_portal_api_key(sp.portal, api_key=key, added_by_user_id=sp.admin_id)
    sp.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})  # the admin's session is gone
    bot = provision_bot(sp.portal)
    sp.say(user_id=sp.member_id, bot_id=bot.vibe_bot_id, text="hello")
    poll_bot_once(bot.pk)
    handled = [e["text"] for e in probe_events(sp.portal.pk) if e["type"] == "ONIMBOTV2MESSAGEADD"]
    assert handled == ["hello"]  # the skill ran once
    assert "got: hello" in [m["text"] for m in sp.bot_messages(bot.vibe_bot_id)]
    calls = sp.calls(bot.vibe_bot_id)
    assert calls and {(c["keyKind"], c["hadBearer"]) for c in calls} == {("api", False)}  # a personal key
    assert key not in str(calls)
