"""The portal admin's page lists the requests that left a post, chat or file in doubt, of their portal only:
before, only the vendor's operator could read them, in the Django admin's event log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from botcore.models import Bot, EventLogEntry
from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db


def message_payload(text: str, *, chat: dict) -> dict:
    return {
        "eventId": 1,
        "type": "ONIMBOTV2MESSAGEADD",
        "data": {
            "bot": {"id": 7, "code": "b"},
            "dialogId": chat["dialogId"],
            "chat": chat,
            "user": {"id": 12, "name": "Anna Petrova"},
            "message": {"id": 1501, "chatId": chat["id"], "authorId": 12, "text": text},
        },
    }


def left_in_doubt(portal, write: str, *, text: str, chat: dict, event_id: int = 1, **fields) -> EventLogEntry:
    bot, _ = Bot.objects.get_or_create(
        portal=portal, code="b", defaults={"name": "bot", "status": Bot.Status.ACTIVE, "vibe_bot_id": 7}
    )
    return EventLogEntry.objects.create(
        bot=bot,
        vibe_event_id=event_id,
        event_type="ONIMBOTV2MESSAGEADD",
        payload=message_payload(text, chat=chat),
        status=EventLogEntry.Status.FAILED,
        skill="uploads",
        left_in_doubt=write,
        **fields,
    )


PRIVATE = {"id": 87, "dialogId": "12", "type": "private"}
TEAM = {"id": 90, "dialogId": "chat90", "type": "chat", "name": "Team room"}


def test_the_admin_sees_their_portals_requests_left_in_doubt_and_nobody_else_does():
    acme, other = make_portal("acme"), make_portal("other")
    left_in_doubt(acme, "upload", text="the salary report", chat=PRIVATE)
    left_in_doubt(acme, "chat", text="plan", chat=TEAM, event_id=2, doubt_noticed_at=timezone.now())
    left_in_doubt(other, "post", text="other's", chat={**TEAM, "name": "Other room"})
    page = signed_in(acme, is_admin=True).get("/portal/").content.decode()
    assert page.count('data-testid="doubt-row"') == 2
    assert "the private chat with Anna Petrova" in page and "the chat “Team room”" in page
    assert "Other room" not in page  # another portal's
    assert "salary report" not in page  # never what the person wrote
    member_page = signed_in(acme, is_admin=False).get("/portal/").content.decode()
    assert 'data-testid="doubts-section"' not in member_page


def test_requests_left_in_doubt_long_ago_or_none_leave_no_card():
    acme = make_portal("acme")
    old = left_in_doubt(acme, "post", text="x", chat=PRIVATE)
    EventLogEntry.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=8))
    page = signed_in(acme, is_admin=True).get("/portal/").content.decode()
    assert 'data-testid="doubts-section"' not in page


def test_the_list_speaks_the_viewers_language():
    acme = make_portal("acme")
    left_in_doubt(acme, "upload", text="x", chat=PRIVATE)
    page = signed_in(acme, is_admin=True).get("/portal/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Запросы под вопросом" in page and "личный чат" in page


def test_a_group_chat_whose_name_shows_nothing_is_not_called_a_private_chat():
    """A member names a group chat with controls and bidi marks alone (the platform takes it): its name shows
    nothing, and the row (and the admins' notice, by the same words) called it the private chat with the
    person who wrote, sending the admin to look in a chat where nothing was missing."""
    acme = make_portal("acme")
    left_in_doubt(acme, "post", text="x", chat={**TEAM, "name": "\u0007\u202e \n"})
    page = signed_in(acme, is_admin=True).get("/portal/").content.decode()
    assert "the chat chat90" in page and "private chat" not in page
