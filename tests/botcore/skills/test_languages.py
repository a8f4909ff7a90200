"""A skill's two languages: the event's user's (ctx.language) and the portal's (ctx.portal_language), for a
message many people read (a poll's message edited by each voter switched language with every voter)."""

from __future__ import annotations

import pytest

from botcore.skills.base import Skill
from botcore.skills.testing import run_skill
from botcore.skills.testing.factories import make_message_event
from botcore.vibe.events import EventType
from tenants.models import PortalSettings


class LanguageProbe(Skill):
    name = "language_probe"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.reply(f"user {ctx.language}, portal {ctx.portal_language}")


@pytest.fixture
def skill_paths():
    return [f"{__name__}.LanguageProbe"]


@pytest.mark.slow
def test_a_skill_knows_the_portals_language_beside_its_users(world):
    PortalSettings.objects.filter(portal=world.sp.portal).update(language="ru")
    world.say("hi")  # the portal's admin, whose own language is English
    world.poll()
    assert "user en, portal ru" in [m["text"] for m in world.messages()]


def test_the_kit_takes_the_portals_language_too():
    ctx = run_skill(LanguageProbe(), make_message_event("hi", language="en"), portal_language="ru")
    assert ctx.replies == ["user en, portal ru"]
    assert run_skill(LanguageProbe(), make_message_event("hi", language="de")).replies == [
        "user de, portal en"
    ]
