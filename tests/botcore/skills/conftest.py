"""Skills against the live sandbox: a provisioned bot, the portal's people acting through the control API,
and poll cycles run here (poll_bot_once), exactly as a worker runs them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from botcore.models import Bot
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from tests.botcore.skills.loopback_service import listener, resolver, second_listener  # noqa: F401


@dataclass
class World:
    """One sandbox portal with its bot; `act` posts to /_sandbox/act/…, `poll` runs one cycle."""

    sp: object  # tests/botcore/conftest.SandboxPortal
    bot: Bot

    @property
    def bot_id(self) -> int:
        return self.bot.vibe_bot_id

    def act(self, path: str, **body) -> dict:
        response = self.sp.control.post(f"/_sandbox/act/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def say(self, text: str, *, user_id: int | None = None, chat_id: int | None = None) -> dict:
        target = {"chatId": chat_id} if chat_id is not None else {"botId": self.bot_id}
        return self.act("messages", userId=user_id or self.sp.admin_id, text=text, **target)["message"]

    def poll(self):
        return poll_bot_once(self.bot.pk)

    def last_call_seq(self) -> int:
        calls = self.sp.calls(self.bot_id)
        return calls[-1]["seq"] if calls else 0

    def calls_since(self, seq: int) -> list[dict]:
        """What the bot did on the platform after `seq`, polls left out."""
        return [c for c in self.sp.calls(self.bot_id) if c["seq"] > seq and not c["path"].endswith("/events")]

    def messages(self) -> list[dict]:
        return self.sp.bot_messages(self.bot_id)

    def team(self, *, quiet_member: str | None = None) -> dict:
        """A group chat "Team" the portal's admin opens with its member, the bot and, where named, one more
        new user of the portal who will say nothing."""
        members = [self.sp.member_id, self.bot_id]
        if quiet_member is not None:
            user = self.sp.control.post(
                f"/_sandbox/portals/{self.sp.sandbox_portal_id}/users", json={"name": quiet_member}
            ).json()["data"]["user"]
            members.insert(1, user["id"])
        return self.act("chats", userId=self.sp.admin_id, title="Team", memberIds=members)["chat"]

    def chat_messages(self, chat_id: int) -> list[dict]:
        """Every message of a group chat, as the sandbox holds it."""
        return self.sp.control.get(f"/_sandbox/chats/{chat_id}/messages").json()["data"]["messages"]


# The standup beside the skills it shares a portal with by default: /help lists it, echo answers the rest.
STANDUP_WITH_HELP_AND_ECHO = [
    "botcore.skills.builtin.help.HelpSkill",
    "botcore.skills.builtin.standup.StandupSkill",
    "botcore.skills.builtin.echo.EchoSkill",
]


@pytest.fixture
def skill_paths() -> list[str] | None:
    """BOTCORE_SKILLS for the test's bot (a module overrides this fixture); None keeps the project's list."""
    return None


@pytest.fixture
def world(sandbox_portal, settings, skill_paths) -> World:
    if skill_paths is not None:
        settings.BOTCORE_SKILLS = list(skill_paths)
    return World(sandbox_portal, provision_bot(sandbox_portal.portal))
