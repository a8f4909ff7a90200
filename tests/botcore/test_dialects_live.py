"""The backend on every dialect of the sandbox (CONTRACT A §13): one compact day of a portal per reading.

Each run installs a portal through gateway headers (GET /v1/me), provisions its bot, echoes a message,
answers /ping, runs a standup day, loses its session to expiry and gets it back, all against the live
sandbox over HTTP, with poll cycles called in this process (time_machine moves the standup's clock, the
in-process sandbox's included). The real worker processes meet every dialect in test_dialects_stack.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
import time_machine
from django.test import Client

from botcore.models import Bot
from botcore.services.polling import poll_bot_once
from botcore.services.skill_configs import configure_skill
from botcore.services.skill_schedules import sweep_schedules
from sandbox.dialects import DIALECTS
from tenants.models import Portal, PortalSettings

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVERY_DIALECT = [pytest.param(None, id="reference"), *(pytest.param(name, id=name) for name in DIALECTS)]
# The rate dialects only show when the limit bites: those runs meet a platform of 3 requests/s.
RATE_DIALECTS = {"portal-rate-limit", "no-retry-after", "retry-after-ms", "official-error-codes"}
MONDAY_5_UTC = datetime(2030, 3, 4, 5, 0, tzinfo=UTC)  # 08:00 in Moscow
SKILLS = [
    "botcore.skills.builtin.help.HelpSkill",
    "botcore.skills.builtin.standup.StandupSkill",
    "botcore.skills.builtin.echo.EchoSkill",
]


class Platform:
    """The sandbox through its control API: a portal with Alice (admin) and Boris, and our catalog app."""

    def __init__(self, sandbox) -> None:
        self.control = httpx.Client(base_url=sandbox.root_url + "/_sandbox", timeout=10)
        self.app_key = self.post("/apps", {"name": "Our app"})["key"]
        self.portal = self.post("/portals", {"domain": "acme.bitrix24.com", "name": "Acme"})["portal"]
        users = f"/portals/{self.portal['id']}/users"
        self.alice = self.post(users, {"name": "Alice Admin", "isAdmin": True})["user"]["id"]
        self.boris = self.post(users, {"name": "Boris Ivanov", "language": "ru"})["user"]["id"]

    def post(self, path: str, body: dict) -> dict:
        response = self.control.post(path, json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def get(self, path: str) -> dict:
        response = self.control.get(path)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def say(self, user_id: int, text: str, *, bot_id: int) -> dict:
        return self.post("/act/messages", {"userId": user_id, "botId": bot_id, "text": text})["message"]

    def answered(self, bot_id: int) -> set[int]:
        """The ids of the messages the bot's command answers went to."""
        return {m["answerTo"] for m in self.get(f"/bots/{bot_id}/messages")["messages"] if m["answerTo"]}

    def texts(self, bot_id: int) -> list[str]:
        return [m["text"] for m in self.get(f"/bots/{bot_id}/messages")["messages"]]

    def open_app(self, user_id: int) -> int:
        """The user opens the app inside Bitrix24: the gateway's headers with a fresh session token."""
        token = self.post("/sessions", {"appKey": self.app_key, "userId": user_id})["token"]
        answer = Client().get(
            "/",
            headers={
                "X-Vibe-Authorization": f"Bearer {token}",
                "X-Vibe-Portal-Id": self.portal["id"],
                "X-Vibe-User-Id": str(user_id),
                "X-Vibe-User-Role": "ADMIN",
            },
        )
        return answer.status_code


def poll_until(bot: Bot, done: Callable[[], bool], what: str) -> None:
    """Run poll cycles until `done`; under a 3/s limit a cycle may meet a 429 and leave the rest for later."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        poll_bot_once(bot.pk)
        if done():
            return
        time.sleep(0.3)
    raise AssertionError(f"never saw {what}")


def poll_past_rate_limits(bot: Bot) -> str:
    """One cycle's outcome, ignoring cycles that met the platform's 429 first (each is sent once)."""
    for _ in range(100):
        status = poll_bot_once(bot.pk).status
        if status != "rate_limited":
            return status
        time.sleep(0.3)
    raise AssertionError("every cycle met a 429")


@pytest.fixture
def clock():
    """Started before any session is minted, so the platform issues them on the moved clock too."""
    traveller = time_machine.travel(MONDAY_5_UTC, tick=True)
    yield traveller.start()
    traveller.stop()


@pytest.mark.parametrize("dialect", EVERY_DIALECT)
def test_a_portal_lives_its_day_on_every_dialect(dialect, clock, sandbox, settings, task_queue):
    platform = Platform(sandbox)
    if dialect:
        platform.post("/dialects", {"dialects": [dialect]})
    if dialect in RATE_DIALECTS:
        platform.post("/rate-limit", {"perSecond": 3})
    settings.VIBE_APP_KEY = platform.app_key
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.BOTCORE_SKILLS = SKILLS

    # Install: the admin opens the app; GET /v1/me vouches for the token; the bot is provisioned.
    assert platform.open_app(platform.alice) == 302
    portal = Portal.objects.get(member_id=platform.portal["memberId"])
    assert portal.status == Portal.Status.ACTIVE
    PortalSettings.objects.filter(portal=portal).update(timezone="Europe/Moscow")
    task_queue.run()
    bot = Bot.objects.get(portal=portal)
    bot_id = bot.vibe_bot_id
    assert bot_id and bot.status == Bot.Status.ACTIVE
    assert [b["id"] for b in platform.get("/bots")["bots"]] == [bot_id]

    # Poll and echo; a command answered to its message.
    platform.say(platform.alice, "hello", bot_id=bot_id)
    poll_until(bot, lambda: "Alice, you wrote: [i]hello[/i]" in platform.texts(bot_id), "the echo")
    ping = platform.say(platform.alice, "/ping", bot_id=bot_id)
    poll_until(bot, lambda: ping["id"] in platform.answered(bot_id), "the answer to /ping")
    assert not any("[i]/ping[/i]" in text for text in platform.texts(bot_id))  # answered, never echoed

    # A standup day: questions at 09:30, Boris answers, the summary at 17:30.
    team = platform.post(
        "/act/chats", {"userId": platform.alice, "title": "Team", "memberIds": [platform.boris, bot_id]}
    )["chat"]
    configure_skill(portal, skill_name="standup", is_enabled=True, options={"chat": team["dialogId"]})
    task_queue.run()
    clock.move_to(datetime(2030, 3, 4, 6, 30, 20, tzinfo=UTC))
    assert sweep_schedules() == 1
    task_queue.run()
    assert sum(text.startswith(("Good morning!", "Доброе утро!")) for text in platform.texts(bot_id)) == 2
    platform.say(platform.boris, "Вчера: ревью.", bot_id=bot_id)
    poll_until(
        bot,
        lambda: any(text.startswith(("Thanks!", "Спасибо!")) for text in platform.texts(bot_id)),
        "Boris thanked",
    )
    clock.move_to(datetime(2030, 3, 4, 14, 30, 5, tzinfo=UTC))
    assert sweep_schedules() == 1
    task_queue.run()
    summary = [
        m["text"]
        for m in platform.get(f"/chats/{team['id']}/messages")["messages"]
        if m["text"].startswith("[b]Standup for March 4")
    ]
    assert len(summary) == 1 and "[b]Boris Ivanov[/b]: Вчера: ревью." in summary[0].splitlines()

    # Expiry: the platform's day passes; the first 401 pauses the portal; the admin's next visit resumes it.
    platform.post("/clock", {"advanceSeconds": 25 * 3600})
    platform.say(platform.alice, "still there?", bot_id=bot_id)
    assert poll_past_rate_limits(bot) == "no_session"
    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_SESSION
    assert platform.open_app(platform.alice) == 302
    portal.refresh_from_db()
    assert portal.status == Portal.Status.ACTIVE
    poll_until(bot, lambda: "Alice, you wrote: [i]still there?[/i]" in platform.texts(bot_id), "late echo")
    assert platform.texts(bot_id).count("Alice, you wrote: [i]hello[/i]") == 1
    if dialect in RATE_DIALECTS:  # the run met the limit it was about
        assert any(call["status"] == 429 for call in platform.get("/calls")["calls"])
