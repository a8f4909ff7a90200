"""The chats a skill's form offers are read from the bot's recent events: once per new event, not once per
visit (a form's save and the page after it read 2,000 stored events twice); then from the chats it joined
(BotChat), which outlive the events."""

from __future__ import annotations

import pytest

from botcore.models import Bot, EventLogEntry
from botcore.services import directory
from tenants.models import Portal

pytestmark = pytest.mark.django_db


def joined(bot: Bot, event_id: int, chat_id: int, name: str) -> EventLogEntry:
    payload = {
        "eventId": event_id,
        "type": "ONIMBOTV2JOINCHAT",
        "data": {
            "bot": {"id": bot.vibe_bot_id},
            "dialogId": f"chat{chat_id}",
            "chat": {"id": chat_id, "dialogId": f"chat{chat_id}", "name": name},
            "user": {"id": 1},
        },
    }
    return EventLogEntry.objects.create(
        bot=bot,
        vibe_bot_id=bot.vibe_bot_id,
        vibe_event_id=event_id,
        event_type=payload["type"],
        payload=payload,
    )


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp-m1", domain="m1.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="B", status=Bot.Status.ACTIVE, vibe_bot_id=7)


@pytest.fixture
def parses(monkeypatch) -> list[dict]:
    seen: list[dict] = []
    real = directory.parse_event

    def counting(payload):
        seen.append(payload)
        return real(payload)

    monkeypatch.setattr(directory, "parse_event", counting)
    return seen


def test_the_events_are_read_again_only_when_a_new_one_came(bot, parses):
    joined(bot, 1, 5, "Team")
    joined(bot, 2, 6, "Sales")
    first = directory.list_known_chats(bot.portal)
    assert [(c.value, c.label) for c in first] == [("chat6", "Sales"), ("chat5", "Team")]
    assert len(parses) == 2
    assert directory.list_known_chats(bot.portal) == first
    assert len(parses) == 2  # the second visit read nothing

    joined(bot, 3, 5, "Team (renamed)")
    assert [(c.value, c.label) for c in directory.list_known_chats(bot.portal)] == [
        ("chat5", "Team (renamed)"),
        ("chat6", "Sales"),
    ]
    assert len(parses) == 5


def test_a_bot_without_events_offers_no_chat(bot, parses):
    assert directory.list_known_chats(bot.portal) == []


def test_a_form_keeps_working_while_the_cache_is_down(bot, monkeypatch):
    """With Redis down a skill's settings page was a 500 (the chats and people are kept in the cache; an
    on-call trial). The chats are read from the events uncached; the people are not asked of the platform
    uncached (a page loaded in a loop would spend the app key's budget every portal shares): the form offers
    what is stored, as when the platform cannot be asked."""
    import redis

    from vibeapp import shared_cache

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def never(*args, **kwargs):
        raise AssertionError("the platform was asked with no cache in front of it")

    joined(bot, 1, 5, "Team")
    monkeypatch.setattr(shared_cache, "cache", type("DownCache", (), {"get": refuse, "set": refuse})())
    monkeypatch.setattr(directory, "client_for_portal", never)
    assert [(c.value, c.label) for c in directory.list_known_chats(bot.portal)] == [("chat5", "Team")]
    assert directory.list_portal_people(bot.portal) is None


def test_an_unnamed_chat_is_offered_in_each_viewers_language(bot):
    """An unnamed chat's label was "Chat 5" to a Russian-speaking viewer, and the first viewer's label was
    kept in the cache for every viewer after them."""
    from django.utils import translation

    joined(bot, 1, 5, "")
    with translation.override("en"):
        assert [c.label for c in directory.list_known_chats(bot.portal)] == ["Chat 5"]
    with translation.override("ru"):
        assert [c.label for c in directory.list_known_chats(bot.portal)] == ["Чат 5"]


def test_an_unnamed_person_is_offered_in_each_viewers_language(bot, monkeypatch):
    """The platform may list a person without a name (the sandbox always names them, so its client stands in
    here): the label was "User 41" to a Russian-speaking viewer, and the first viewer's label was kept in the
    cache for every viewer after them."""
    from django.utils import translation

    from botcore.vibe.models import PortalUser

    class Platform:
        def list_users(self):
            return [PortalUser(id=41, name=""), PortalUser(id=42, name="Anna")]

    monkeypatch.setattr(directory, "client_for_portal", lambda portal: (Platform(), None))
    with translation.override("en"):
        assert [c.label for c in directory.list_portal_people(bot.portal)] == ["Anna", "User 41"]
    with translation.override("ru"):
        assert [c.label for c in directory.list_portal_people(bot.portal)] == ["Anna", "Пользователь 41"]


def test_a_chat_quiet_past_the_events_read_is_still_offered_under_its_join_name(bot):
    """The picker read the newest 2,000 events: a chat quiet for longer (or past the log's 14 days) left it,
    and the form said of the chat a skill posts to that the bot is not in it. The chats the bot joined are
    kept (BotChat): offered after those its events name, newest joined first."""
    from datetime import timedelta

    from django.utils import timezone

    from botcore.models import BotChat

    long_ago = timezone.now() - timedelta(days=40)
    BotChat.objects.create(bot=bot, vibe_bot_id=7, dialog_id="chat5", name="Team", joined_at=long_ago)
    BotChat.objects.create(
        bot=bot, vibe_bot_id=7, dialog_id="chat8", name="Board", joined_at=long_ago + timedelta(days=1)
    )
    BotChat.objects.create(bot=bot, vibe_bot_id=7, dialog_id="chat6", name="Sales (as joined)")
    BotChat.objects.create(bot=bot, vibe_bot_id=3, dialog_id="chat9", name="The old bot's")  # before a move
    joined(bot, 1, 6, "Sales")  # the one chat its events still name, under the name they gave
    assert [(c.value, c.label) for c in directory.list_known_chats(bot.portal)] == [
        ("chat6", "Sales"),
        ("chat8", "Board"),
        ("chat5", "Team"),
    ]


def test_a_bot_whose_events_are_all_pruned_offers_the_chats_it_joined(bot):
    from django.utils import translation

    from botcore.models import BotChat

    BotChat.objects.create(bot=bot, vibe_bot_id=7, dialog_id="chat5", name="")
    with translation.override("ru"):
        assert [(c.value, c.label) for c in directory.list_known_chats(bot.portal)] == [("chat5", "Чат 5")]


def test_the_chats_joined_are_read_in_one_bounded_query(bot, monkeypatch):
    """A bot in thousands of chats: the page reads the newest MAX_OFFERED_CHATS of them, in one query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from botcore.models import BotChat

    monkeypatch.setattr(directory, "MAX_OFFERED_CHATS", 3)
    BotChat.objects.bulk_create(
        BotChat(bot=bot, vibe_bot_id=7, dialog_id=f"chat{n}", name=f"C{n}") for n in range(1, 11)
    )
    joined(bot, 1, 4, "C4")
    with CaptureQueriesContext(connection) as queries:
        offered = [c.value for c in directory.list_known_chats(bot.portal)]
    assert offered == ["chat4", "chat10", "chat9"]
    [read] = [q["sql"] for q in queries.captured_queries if "botcore_botchat" in q["sql"]]
    assert "LIMIT 3" in read.upper()


def test_the_events_read_for_their_chats_are_held_in_memory_a_few_at_a_time(bot):
    """From an attacker trial: a portal's people write long messages to the bot, then its admin saves a
    personal key (or the app key rotates): the move read the bot's 20,000 newest events for the chats they
    came from, every payload held at once, ~42 MB of Python objects for each 1,000 messages of 20,000
    characters (840 MB for the 20,000), in a task queue worker. Read a chunk at a time, they are not."""
    import tracemalloc

    text = "x" * 20_000
    EventLogEntry.objects.bulk_create(
        EventLogEntry(
            bot=bot,
            vibe_bot_id=bot.vibe_bot_id,
            vibe_event_id=n,
            event_type="ONIMBOTV2MESSAGEADD",
            payload={
                "eventId": n,
                "type": "ONIMBOTV2MESSAGEADD",
                "data": {"dialogId": "5", "message": {"id": n, "text": text}, "user": {"id": 5}},
            },
        )
        for n in range(1, 1001)
    )
    joined(bot, 1001, 3, "Sales")
    newest_first = EventLogEntry.objects.filter(bot=bot).order_by("-id")
    tracemalloc.start()
    try:
        chats = directory.list_group_chats_in(newest_first, limit=5000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(dialog_id, name) for dialog_id, name, _ in chats] == [("chat3", "Sales")]
    assert peak < 15_000_000, f"{peak / 1e6:.0f} MB held for 20 MB of messages"
