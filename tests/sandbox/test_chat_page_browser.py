"""The chat page in Debian's chromium: a person writes to a bot the test plays over the platform API.

Waits are event-driven: Playwright's `expect` for the page, long-polls of the bot's events for the platform.
The browser is the shared `browser_page` fixture (tests/conftest.py): Debian's chromium, never a download.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

pytestmark = pytest.mark.browser


class PlayedBot:
    """The bot's side, played by the test over the platform API with its personal key."""

    def __init__(self, client: httpx.Client, bot_id: int) -> None:
        self.client = client
        self.id = bot_id
        self.offset: int | None = None

    def wait_for(self, matches: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        """Long-poll the bot's events (acknowledging what it read) until one matches."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            params = {"timeout": 2, **({"offset": self.offset} if self.offset else {})}
            data = self.client.get(f"/bots/{self.id}/events", params=params).json()["data"]
            if data["events"]:
                self.offset = data["nextOffset"]
            for event in data["events"]:
                if matches(event):
                    return event
        raise AssertionError("the bot never received the expected event")

    def send(self, dialog_id: str, fields: dict) -> int:
        response = self.client.post(
            f"/bots/{self.id}/messages", json={"dialogId": dialog_id, "fields": fields}
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]["id"]


def is_message(text: str) -> Callable[[dict], bool]:
    return lambda e: e["type"] == "ONIMBOTV2MESSAGEADD" and e["data"]["message"]["text"] == text


@pytest.fixture
def world(sandbox):
    """A portal, a user with a personal key, and a registered bot with a /more command."""
    with httpx.Client(base_url=sandbox.root_url, timeout=10) as ctl:
        portal = ctl.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com"}).json()["data"]["portal"]
        user = ctl.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Anna Petrova"}).json()[
            "data"
        ]["user"]
        key = ctl.post("/_sandbox/keys", json={"userId": user["id"]}).json()["data"]["key"]
    client = httpx.Client(base_url=sandbox.base_url, headers={"X-Api-Key": key}, timeout=10)
    registered = client.post("/bots", json={"code": "helper", "name": "Helper Bot"})
    assert registered.status_code == 201, registered.text
    bot = PlayedBot(client, registered.json()["data"]["bot"]["id"])
    command = client.post(f"/bots/{bot.id}/commands", json={"command": "more", "title": "More"})
    assert command.status_code in (200, 201), command.text
    yield user, bot
    client.close()


def test_a_person_chats_with_a_bot_through_the_page(sandbox, browser_page, world):
    from playwright.sync_api import expect

    page = browser_page
    user, bot = world
    page.goto(f"{sandbox.root_url}/chat?userId={user['id']}")
    page.locator(f'[data-testid="dialog-item"][data-dialog-key="bot-{bot.id}"]').click()
    expect(page.get_by_test_id("chat-title")).to_have_text("Helper Bot")
    bot.wait_for(lambda e: e["type"] == "ONIMBOTV2JOINCHAT")

    composer = page.get_by_test_id("composer-input")
    composer.fill("hello")
    composer.press("Enter")
    messages = page.get_by_test_id("message")
    expect(messages.filter(has_text="hello")).to_have_count(1)
    hello = bot.wait_for(is_message("hello"))
    dialog_id = hello["data"]["dialogId"]

    # Whatever the user types is shown as text, never run as markup.
    composer.fill("<script>window.pwned = 1</script><b>not bold</b>")
    composer.press("Enter")
    escaped = messages.filter(has_text="<script>window.pwned = 1</script>")
    expect(escaped).to_have_count(1)
    expect(escaped.locator("b")).to_have_count(0)
    assert page.evaluate("window.pwned") is None

    bot.send(
        dialog_id,
        {
            "message": "[B]Bold[/B] and [I]italic[/I]",
            "keyboard": [
                {
                    "TEXT": "Say yes",
                    "ACTION": "SEND",
                    "ACTION_VALUE": "yes please",
                    "BG_COLOR_TOKEN": "primary",
                    "DISPLAY": "LINE",
                },
                {"TEXT": "More", "COMMAND": "more", "COMMAND_PARAMS": "page 2", "DISPLAY": "LINE"},
            ],
        },
    )
    reply = messages.filter(has=page.locator('[data-testid="message-text"] b', has_text="Bold"))
    expect(reply).to_have_count(1)
    expect(reply.locator('[data-testid="message-text"] i')).to_have_text("italic")
    expect(reply).to_have_attribute("data-author-id", str(bot.id))

    reply.locator('[data-testid="keyboard-button"][data-kind="send"]').click()
    expect(messages.filter(has_text="yes please")).to_have_count(1)
    bot.wait_for(is_message("yes please"))

    reply.locator('[data-testid="keyboard-button"][data-kind="command"]').click()
    command = bot.wait_for(lambda e: e["type"] == "ONIMBOTV2COMMANDADD")
    assert command["data"]["command"]["command"] == "more"
    assert command["data"]["command"]["context"] == "keyboard"
    assert command["data"]["command"]["params"] == "page 2"

    reply.hover()
    reply.get_by_test_id("react-button").click()
    page.locator('[data-testid="reaction-option"][data-reaction="fire"]').click()
    expect(reply.locator('[data-testid="reaction-chip"][data-reaction="fire"]')).to_contain_text("1")
    reaction = bot.wait_for(lambda e: e["type"] == "ONIMBOTV2REACTIONCHANGE")
    assert (reaction["data"]["reaction"], reaction["data"]["action"]) == ("fire", "add")


def test_a_person_runs_a_group_chat_with_bots(sandbox, browser_page, world):
    from playwright.sync_api import expect

    page = browser_page
    user, bot = world
    second = PlayedBot(
        bot.client,
        bot.client.post("/bots", json={"code": "second", "name": "Second Bot"}).json()["data"]["bot"]["id"],
    )
    page.goto(f"{sandbox.root_url}/chat?userId={user['id']}")
    page.get_by_test_id("new-chat-button").click()
    page.get_by_test_id("new-chat-title").fill("Team")
    page.locator(f'[data-testid="new-chat-member"][value="{bot.id}"]').check()
    page.get_by_test_id("new-chat-create").click()
    expect(page.get_by_test_id("chat-title")).to_have_text("Team")
    joined = bot.wait_for(lambda e: e["type"] == "ONIMBOTV2JOINCHAT")
    assert joined["data"]["dialogId"].startswith("chat")

    page.get_by_test_id("mention-select").select_option(str(bot.id))
    composer = page.get_by_test_id("composer-input")
    expect(composer).to_have_value(f"[USER={bot.id}]Helper Bot[/USER] ")
    composer.press("End")
    composer.type("status?")
    composer.press("Enter")
    written = page.get_by_test_id("message").filter(has_text="status?")
    expect(written.get_by_test_id("mention")).to_have_text("Helper Bot")
    message_id = int(written.get_attribute("data-message-id"))
    mention = page.locator(f'[data-testid="message"][data-message-id="{message_id}"]')
    bot.wait_for(is_message(f"[USER={bot.id}]Helper Bot[/USER] status?"))

    mention.hover()
    mention.get_by_test_id("edit-button").click()
    expect(page.get_by_test_id("edit-banner")).to_be_visible()
    composer.fill(f"[USER={bot.id}]Helper Bot[/USER] status now?")
    composer.press("Enter")
    expect(mention).to_contain_text("status now?")
    expect(mention.locator(".msg-edited")).to_be_visible()
    updated = bot.wait_for(lambda e: e["type"] == "ONIMBOTV2MESSAGEUPDATE")
    assert updated["data"]["message"]["text"].endswith("status now?")

    mention.hover()
    mention.get_by_test_id("delete-button").click()
    expect(mention.get_by_test_id("message-deleted")).to_be_visible()
    deleted = bot.wait_for(lambda e: e["type"] == "ONIMBOTV2MESSAGEDELETE")
    assert deleted["data"]["messageId"] == message_id

    page.get_by_test_id("add-bot-select").select_option(str(second.id))
    page.get_by_test_id("add-bot-button").click()
    second_join = second.wait_for(lambda e: e["type"] == "ONIMBOTV2JOINCHAT")
    assert second_join["data"]["dialogId"] == joined["data"]["dialogId"]
    expect(page.get_by_test_id("chat-subtitle")).to_contain_text("Second Bot")


def test_the_page_shows_what_a_bot_does_beyond_text(sandbox, browser_page, world):
    from playwright.sync_api import expect

    page = browser_page
    user, bot = world
    page.goto(f"{sandbox.root_url}/chat?userId={user['id']}&dialog=bot-{bot.id}")
    composer = page.get_by_test_id("composer-input")
    expect(page.get_by_test_id("chat-title")).to_have_text("Helper Bot")
    composer.fill("hi")
    composer.press("Enter")
    dialog_id = bot.wait_for(is_message("hi"))["data"]["dialogId"]
    messages = page.get_by_test_id("message")

    assert (
        bot.client.post(
            f"/bots/{bot.id}/typing",
            json={"dialogId": dialog_id, "statusMessageCode": "IMBOT_AGENT_ACTION_THINKING", "duration": 60},
        ).status_code
        == 200
    )
    expect(page.get_by_test_id("typing-indicator")).to_contain_text("Helper Bot is thinking")

    bot.send(
        dialog_id,
        {
            "message": "Ticket [url=https://example.com/t/1]#1[/url]: [put=/more page 3]fill[/put]"
            " or [send=/more]send[/send] [url=javascript:alert(1)]not a link[/url]",
            "attach": [
                {"MESSAGE": "[B]Status[/B]"},
                {"GRID": [{"NAME": "Owner", "VALUE": "Anna", "DISPLAY": "LINE"}]},
                {"LINK": {"NAME": "Open ticket", "LINK": "https://example.com/t/1"}},
            ],
        },
    )
    expect(page.get_by_test_id("typing-indicator")).to_be_hidden()  # a posted message ends "typing…"
    ticket = messages.filter(has_text="Ticket")
    expect(ticket.get_by_test_id("message-attach")).to_contain_text("Owner")
    expect(ticket.locator('[data-testid="message-text"] a')).to_have_attribute(
        "href", "https://example.com/t/1"
    )
    expect(ticket.get_by_test_id("attach-link")).to_have_text("Open ticket")
    expect(ticket.locator('a[href^="javascript"]')).to_have_count(0)
    expect(ticket.get_by_test_id("message-text")).to_contain_text("not a link")

    ticket.get_by_test_id("bb-put").click()
    expect(composer).to_have_value("/more page 3")
    composer.fill("")
    ticket.get_by_test_id("bb-send").click()
    expect(messages.filter(has_text="/more")).to_have_count(1)
    command = bot.wait_for(lambda e: e["type"] == "ONIMBOTV2COMMANDADD")
    assert command["data"]["command"]["context"] == "textarea"

    bot.send(dialog_id, {"message": "Anna added a reaction", "system": True})
    expect(page.locator('[data-testid="message"][data-system="true"]')).to_contain_text(
        "Anna added a reaction"
    )

    import base64

    uploaded = bot.client.post(
        f"/bots/{bot.id}/files",
        json={
            "dialogId": dialog_id,
            "fields": {"name": "report.txt", "content": base64.b64encode(b"hello").decode()},
        },
    )
    assert uploaded.status_code == 200, uploaded.text
    expect(page.get_by_test_id("message-file")).to_contain_text("report.txt")

    assert (
        bot.client.post(
            f"/bots/{bot.id}/text-field", json={"dialogId": dialog_id, "enabled": False}
        ).status_code
        == 200
    )
    expect(composer).to_be_disabled()
    expect(page.get_by_test_id("text-field-disabled")).to_be_visible()


def test_on_a_phone_the_page_shows_the_dialogs_then_one_conversation_with_a_way_back(
    sandbox, browser_page, world
):
    """At 360 px the page was 695 px wide: the dialog list kept 220 px beside the conversation and the top
    bar ran off the screen. On a narrow screen it shows the list, then the conversation alone, as phone
    messengers do, with a way back to the list."""
    from playwright.sync_api import expect

    page = browser_page
    user, bot = world
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{sandbox.root_url}/chat?userId={user['id']}")
    item = page.locator(f'[data-testid="dialog-item"][data-dialog-key="bot-{bot.id}"]')
    expect(item).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    item.click()
    composer = page.get_by_test_id("composer-input")
    expect(composer).to_be_visible()
    expect(item).to_be_hidden()
    box = composer.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    composer.fill("from a phone")
    composer.press("Enter")
    bot.wait_for(is_message("from a phone"))
    page.get_by_test_id("back-to-dialogs").click()
    expect(item).to_be_visible()
    expect(composer).to_be_hidden()
    # On a wide screen both show, and there is nothing to go back to.
    page.set_viewport_size({"width": 1200, "height": 800})
    item.click()
    expect(composer).to_be_visible()
    expect(item).to_be_visible()
    expect(page.get_by_test_id("back-to-dialogs")).to_be_hidden()
