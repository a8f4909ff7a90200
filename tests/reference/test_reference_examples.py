"""The reference's own examples, unchanged, under Node against the sandbox (CONTRACT: every example works).

The echo bot and the standup functions are copies of the reference's code (only the base URL and key come
from the environment); each visible effect is read back through the sandbox's control API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
# Beside the main checkout (/work/main -> /work/shared); a clone elsewhere reads the machine's copy.
REFERENCE = next(
    (
        candidate
        for candidate in (
            HERE.parents[2] / "shared" / "vibecode" / "bot-platform-reference.txt",
            Path("/work/shared/vibecode/bot-platform-reference.txt"),
        )
        if candidate.exists()
    ),
    Path("/work/shared/vibecode/bot-platform-reference.txt"),
)
NODE = shutil.which("node")
HEADER_LINES = 2  # each copy opens with two comment lines saying where it comes from

pytestmark = [pytest.mark.slow, pytest.mark.skipif(NODE is None, reason="node is not installed")]


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for(probe: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """The first truthy answer of `probe`; the echo bot polls every 3 s, so steps take a few seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never saw {what}")


@pytest.fixture
def ctl(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.root_url + "/_sandbox", timeout=10) as client:
        yield client


@pytest.fixture
def team(ctl) -> dict:
    """A portal with Anna (an admin holding a personal key, the key the examples use) and Boris."""
    portal = data(ctl.post("/portals", json={"domain": "acme.bitrix24.com"}))["portal"]
    users = f"/portals/{portal['id']}/users"
    anna = data(ctl.post(users, json={"name": "Anna Petrova", "isAdmin": True}))["user"]
    boris = data(ctl.post(users, json={"name": "Boris Ivanov"}))["user"]
    key = data(ctl.post("/keys", json={"userId": anna["id"]}))["key"]
    return {"anna": anna, "boris": boris, "key": key}


@pytest.fixture
def node(sandbox, team, tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start a Node script with the sandbox's base URL and the team's key; stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(script: str, *args: str) -> subprocess.Popen:
        env = {**os.environ, "VIBE_BASE_URL": sandbox.base_url, "VIBE_KEY": team["key"]}
        log = (tmp_path / f"{script}.log").open("wb")
        process = subprocess.Popen(
            [NODE, str(HERE / script), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def bot_messages(ctl, bot_id: int) -> list[dict]:
    return data(ctl.get(f"/bots/{bot_id}/messages"))["messages"]


def message_saying(ctl, bot_id: int, text: str) -> Callable[[], dict | None]:
    return lambda: next((m for m in bot_messages(ctl, bot_id) if m["text"] == text), None)


def test_the_reference_echo_bot_answers_messages_commands_reactions_and_joins(ctl, team, node):
    echo = node("echo_bot.mjs")
    bot = wait_for(lambda: next(iter(data(ctl.get("/bots"))["bots"]), None), "the echo bot registered")
    assert (bot["code"], bot["name"]) == ("echo_bot", "Echo Bot")
    assert bot["workPosition"] == "Repeats your messages"
    wait_for(lambda: len(data(ctl.get("/bots"))["bots"][0]["commands"]) == 2, "its two commands")
    commands = {c["command"]: c["title"] for c in data(ctl.get("/bots"))["bots"][0]["commands"]}
    assert set(commands) == {"/ping", "/help"}
    anna, bot_id = team["anna"]["id"], bot["id"]

    # Opening the dialog raises ONIMBOTV2JOINCHAT: the greeting.
    data(ctl.post("/act/open", json={"userId": anna, "botId": bot_id}))
    greeting = (
        "Hi! I am Echo Bot. Write me something and I will repeat it.\n\n"
        "Commands:\n[SEND=/ping]Ping[/SEND] | [SEND=/help]Help[/SEND]"
    )
    wait_for(message_saying(ctl, bot_id, greeting), "the greeting")

    # A message: typing, a like on it, and the echo with its keyboard.
    said = data(ctl.post("/act/messages", json={"userId": anna, "botId": bot_id, "text": "Hello"}))["message"]
    echoed = wait_for(message_saying(ctl, bot_id, "Anna, you wrote: [I]Hello[/I]"), "the echo")
    assert [(b["TEXT"], b["ACTION"], b["ACTION_VALUE"]) for b in echoed["keyboard"]] == [
        ("Repeat", "SEND", "Hello"),
        ("Help", "SEND", "/help"),
    ]
    chat = data(ctl.get(f"/chats/{said['chatId']}/messages"))["messages"]
    assert next(m for m in chat if m["id"] == said["id"])["reactions"] == {"like": [bot_id]}
    calls = data(ctl.get("/calls", params={"botId": bot_id}))["calls"]
    typing = [c for c in calls if c["path"].endswith("/typing")]
    assert [c["body"]["statusMessageCode"] for c in typing] == ["IMBOT_AGENT_ACTION_THINKING"]

    # The two commands, answered to the message that carried them.
    ping = data(ctl.post("/act/messages", json={"userId": anna, "botId": bot_id, "text": "/ping"}))["message"]
    pong = wait_for(message_saying(ctl, bot_id, "[B]Pong![/B] The bot is working fine."), "the pong")
    assert pong["answerTo"] == ping["id"]
    data(ctl.post("/act/messages", json={"userId": anna, "botId": bot_id, "text": "/help"}))

    def listed() -> bool:
        return any(m["text"].startswith("[B]Echo Bot — Commands[/B]") for m in bot_messages(ctl, bot_id))

    wait_for(listed, "the command list")

    # A reaction to the bot's echo: a system message naming it.
    data(ctl.post("/act/reactions", json={"userId": anna, "messageId": echoed["id"], "reaction": "fire"}))
    noted = wait_for(message_saying(ctl, bot_id, "Anna added a reaction: fire"), "the reaction note")
    assert noted["isSystem"] is True
    assert echo.poll() is None, "the echo bot stopped"


def test_the_reference_echo_bot_works_in_a_group_chat_and_its_repeat_button(ctl, team, node):
    # The echo bot's paths the 1:1 test leaves out: JOINCHAT in a group (its data.chat.dialogId is chatN),
    # a mention there, its own "Repeat" button (ACTION SEND with BLOCK: 'Y'), and a removed reaction,
    # which its `data.action === 'add'` check must leave unanswered.
    echo = node("echo_bot.mjs")
    bot = wait_for(lambda: next(iter(data(ctl.get("/bots"))["bots"]), None), "the echo bot registered")
    wait_for(lambda: len(data(ctl.get("/bots"))["bots"][0]["commands"]) == 2, "its two commands")
    anna, boris, bot_id = team["anna"]["id"], team["boris"]["id"], bot["id"]
    group = data(ctl.post("/act/chats", json={"userId": anna, "title": "Team", "memberIds": [boris, bot_id]}))
    chat_id = group["chat"]["id"]

    def group_messages() -> list[dict]:
        return data(ctl.get(f"/chats/{chat_id}/messages"))["messages"]

    def bot_said(text: str) -> Callable[[], list[dict]]:
        return lambda: [m for m in group_messages() if m["authorId"] == bot_id and m["text"] == text]

    greeting = (
        "Hi! I am Echo Bot. Write me something and I will repeat it.\n\n"
        "Commands:\n[SEND=/ping]Ping[/SEND] | [SEND=/help]Help[/SEND]"
    )
    wait_for(bot_said(greeting), "the greeting in the group")
    said = f"[USER={bot_id}]Echo Bot[/USER] hello"
    data(ctl.post("/act/messages", json={"userId": boris, "chatId": chat_id, "text": said}))
    echo_text = f"Boris, you wrote: [I]{said}[/I]"
    echoed = wait_for(bot_said(echo_text), "the echo in the group")[0]
    assert echoed["keyboard"][0]["BLOCK"] == "Y"

    pressed = data(ctl.post("/act/buttons", json={"userId": boris, "messageId": echoed["id"], "index": 0}))
    assert pressed["message"]["text"] == said
    wait_for(lambda: len(bot_said(echo_text)()) == 2, "the echo of the repeated text")

    for action, reaction in (("add", "like"), ("delete", "like"), ("add", "fire")):
        body = {"userId": boris, "messageId": echoed["id"], "reaction": reaction, "action": action}
        data(ctl.post("/act/reactions", json=body))
    wait_for(bot_said("Boris added a reaction: fire"), "the note of the second reaction")
    notes = [m["text"] for m in group_messages() if m["authorId"] == bot_id and m["isSystem"]]
    assert notes == ["Boris added a reaction: like", "Boris added a reaction: fire"]
    assert echo.poll() is None, "the echo bot stopped"


def test_the_reference_echo_bot_stopped_and_started_again_goes_on_with_its_bot(ctl, team, node):
    # The echo bot registers on every start and reads `data.bot.id` from the answer: on a restart that
    # answer is 409 BOT_ALREADY_EXISTS, whose flat data.botId alone once crashed it ("Cannot read
    # properties of undefined (reading 'id')"). Each effect is counted, so a replay or a double shows.
    first = node("echo_bot.mjs")
    registered = first.stdout.readline().decode()
    assert registered.startswith("Bot registered with ID: "), registered
    bot_id = int(registered.rsplit(" ", 1)[1])
    wait_for(lambda: len(data(ctl.get("/bots"))["bots"][0]["commands"]) == 2, "its two commands")
    anna = team["anna"]["id"]
    data(ctl.post("/act/messages", json={"userId": anna, "botId": bot_id, "text": "Before"}))
    wait_for(message_saying(ctl, bot_id, "Anna, you wrote: [I]Before[/I]"), "the first echo")
    # Stopped only once its next poll has acknowledged the message: what comes after is the restart's.
    wait_for(lambda: data(ctl.get("/bots"))["bots"][0]["pendingEvents"] == 0, "the message acknowledged")
    first.terminate()
    first.wait(timeout=10)

    second = node("echo_bot.mjs")
    assert second.stdout.readline().decode() == f"Bot registered with ID: {bot_id}\n"
    data(ctl.post("/act/messages", json={"userId": anna, "botId": bot_id, "text": "After"}))
    wait_for(message_saying(ctl, bot_id, "Anna, you wrote: [I]After[/I]"), "the echo after the restart")
    data(ctl.post("/act/messages", json={"userId": anna, "botId": bot_id, "text": "/ping"}))
    wait_for(message_saying(ctl, bot_id, "[B]Pong![/B] The bot is working fine."), "the pong after it")

    bots = data(ctl.get("/bots"))["bots"]
    assert [b["id"] for b in bots] == [bot_id]
    assert sorted(c["command"] for c in bots[0]["commands"]) == ["/help", "/ping"]
    texts = [m["text"] for m in bot_messages(ctl, bot_id)]
    assert texts.count("Anna, you wrote: [I]Before[/I]") == 1
    assert texts.count("Anna, you wrote: [I]After[/I]") == 1
    assert texts.count("[B]Pong![/B] The bot is working fine.") == 1
    registrations = data(ctl.get("/calls", params={"path": "/v1/bots"}))["calls"]
    assert [(c["method"], c["status"]) for c in registrations if c["path"] == "/v1/bots"] == [
        ("POST", 201),
        ("POST", 409),
    ]
    assert second.poll() is None, "the restarted echo bot stopped"


def test_the_reference_standup_functions_ask_collect_and_report(ctl, team, node, sandbox):
    with httpx.Client(base_url=sandbox.base_url, headers={"X-Api-Key": team["key"]}, timeout=10) as api:
        created = api.post("/bots", json={"code": "standup", "name": "Standup"})
        assert created.status_code == 201, created.text
    bot_id = created.json()["data"]["bot"]["id"]
    anna, boris = team["anna"]["id"], team["boris"]["id"]
    team = {"userId": anna, "title": "Team", "memberIds": [boris, bot_id]}
    group = data(ctl.post("/act/chats", json=team))["chat"]

    driver = node("standup_driver.mjs", str(bot_id), group["dialogId"], f"{anna},{boris}")
    assert driver.stdout.readline().strip() == b"asked"
    question = "Good morning! What did you do yesterday, what are you planning today, what is blocking you?"
    asked = [m for m in bot_messages(ctl, bot_id) if m["text"] == question]
    dialogs = {data(ctl.get(f"/chats/{m['chatId']}"))["chat"]["type"]: m["chatId"] for m in asked}
    assert len(asked) == 2 and list(dialogs) == ["private"]
    assert {tuple(sorted(data(ctl.get(f"/chats/{m['chatId']}"))["chat"]["members"])) for m in asked} == {
        tuple(sorted((anna, bot_id))),
        tuple(sorted((boris, bot_id))),
    }

    data(ctl.post("/act/messages", json={"userId": boris, "botId": bot_id, "text": "Fixed the build"}))
    driver.stdin.write(b"answered\n")
    driver.stdin.flush()
    assert driver.stdout.readline().strip() == b"published"
    assert driver.wait(timeout=30) == 0

    report = data(ctl.get(f"/chats/{group['id']}/messages"))["messages"][-1]
    assert report["authorId"] == bot_id
    assert report["text"].splitlines() == [
        "[b]Standup for today[/b]",
        f"[b]{anna}[/b]: — no answer",
        f"[b]{boris}[/b]: Fixed the build",
    ]


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference is not beside this checkout")
@pytest.mark.parametrize(
    ("copy", "start", "end", "edits"),
    [
        (
            "echo_bot.mjs",
            "const VIBE_KEY = process.env.VIBE_KEY",
            "#Full example: Standup bot",
            {"'https://vibecode.bitrix24.tech/v1'": "process.env.VIBE_BASE_URL"},
        ),
        (
            "standup_example.js",
            "const BASE = 'https://vibecode.bitrix24.tech/v1'\nconst headers",
            "Scheduling lives on your server",
            {
                "'https://vibecode.bitrix24.tech/v1'": "process.env.VIBE_BASE_URL",
                "'YOUR_API_KEY'": "process.env.VIBE_KEY",
            },
        ),
    ],
)
def test_the_copies_are_the_references_code_but_for_base_url_and_key(copy, start, end, edits):
    reference = REFERENCE.read_text(encoding="utf-8")
    begin = reference.index(start)
    original = reference[begin : reference.index(end, begin)].rstrip() + "\n"
    for old, new in edits.items():
        original = original.replace(old, new)
    ours = "".join((HERE / copy).read_text(encoding="utf-8").splitlines(True)[HEADER_LINES:])
    assert ours == original
