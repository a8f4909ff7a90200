"""UTF-8 end to end: Cyrillic, emoji and other non-ASCII text leave as UTF-8 bytes and come back exactly."""

from __future__ import annotations

import json
import unicodedata

import httpx
import pytest

from botcore.vibe import MessageAddEvent, NoBudget, VibeClient

SAMPLES = [
    "Привет, мир! Ёжик съел щи.",
    "emoji 👋🤖🚀 and a family 👩‍👩‍👧‍👦 and a flag 🇷🇺",
    unicodedata.normalize("NFD", "йо decomposed"),  # combining marks must not be normalised away
    "עברית mixed with English",
    'tab\tquote" backslash\\ newline\n nbsp\u00a0 zwsp\u200b',
]


@pytest.fixture
def recorded(world):
    """A personal-key client whose outgoing requests are kept for inspection."""
    requests: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [requests.append]}, timeout=10)
    client = VibeClient(api_key=world.personal_key, base_url=world.base_url, http=http, budget=NoBudget())
    yield client, requests
    http.close()


def test_bodies_leave_as_utf8_bytes_not_ascii_escapes(recorded):
    client, requests = recorded
    client.register_bot(code="ru", name="Помощник 🤖")
    request = requests[-1]
    request.read()
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert "Помощник 🤖".encode() in request.content
    assert b"\\u" not in request.content
    assert json.loads(request.content.decode("utf-8"))["name"] == "Помощник 🤖"


@pytest.mark.parametrize("text", SAMPLES, ids=["cyrillic", "emoji", "combining", "rtl", "controls"])
def test_a_bot_profile_round_trips_exactly(recorded, text):
    client, _ = recorded
    bot = client.register_bot(code="utf", name=text, work_position=text)
    back = client.get_bot(bot.id).bot
    assert back.name == text and back.work_position == text


def test_command_titles_in_several_languages_round_trip(recorded):
    client, _ = recorded
    bot = client.register_bot(code="utf", name="B")
    titles = {"ru": "Помощь 🆘", "en": "Help", "de": "Größe"}
    client.register_command(bot.id, command="help", title=titles)
    [command] = client.list_commands(bot.id)
    assert dict(command.title) == titles


@pytest.mark.parametrize("text", SAMPLES, ids=["cyrillic", "emoji", "combining", "rtl", "controls"])
def test_what_a_user_writes_reaches_the_bot_exactly(recorded, world, text):
    client, _ = recorded
    bot = client.register_bot(code="utf", name="B")
    world.control.user_says(world.admin_id, text, bot_id=bot.id)
    [event] = [e for e in client.get_events(bot.id).events if isinstance(e, MessageAddEvent)]
    assert event.text == text


@pytest.mark.parametrize("text", SAMPLES, ids=["cyrillic", "emoji", "combining", "rtl", "controls"])
def test_what_the_bot_sends_is_stored_exactly(recorded, world, text):
    client, _ = recorded
    bot = client.register_bot(code="utf", name="B")
    client.send_message(bot.id, dialog_id=world.admin_id, text=text)
    [stored] = world.control.bot_messages(bot.id)
    assert stored["text"] == text


def test_a_file_with_a_cyrillic_name_and_text_content_round_trips(recorded, world):
    client, _ = recorded
    bot = client.register_bot(code="utf", name="B")
    world.control.user_says(world.admin_id, "файл", bot_id=bot.id)
    content = "Отчёт за неделю ✅\n".encode()
    uploaded = client.upload_file(bot.id, dialog_id=world.admin_id, name="отчёт 📄.txt", content=content)
    assert uploaded.name == "отчёт 📄.txt"
    assert client.download_file(bot.id, uploaded.id).decode("utf-8") == "Отчёт за неделю ✅\n"


def test_half_an_emoji_leaves_as_the_replacement_character(recorded, world):
    """A text cut inside an emoji (a user's name from a list, a message quoted back) holds a lone surrogate,
    which UTF-8 cannot encode: the send raised UnicodeEncodeError, no VibeError, and nothing was posted."""
    client, requests = recorded
    bot = client.register_bot(code="cut", name="Cut")
    user = world.control.post(f"/portals/{world.portal_id}/users", {"name": "Zoe"})["user"]
    world.control.post("/act/open", {"userId": user["id"], "botId": bot.id})
    client.send_message(bot.id, dialog_id=user["id"], text="cut \ud83d here")
    request = requests[-1]
    request.read()
    assert json.loads(request.content.decode("utf-8"))["fields"]["message"] == "cut \ufffd here"
    assert world.control.bot_messages(bot.id)[-1]["text"] == "cut \ufffd here"
