"""The event log's admin search at scale: it reads the errors of the events that have one, by their index,
never every event of the biggest table; a skill's events are a filter."""

from __future__ import annotations

import pytest
from django.db import connection

from botcore.models import Bot, EventLogEntry
from tenants.models import Portal

pytestmark = pytest.mark.django_db


@pytest.fixture
def log() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.bitrix24.com")
    bot = Bot.objects.create(
        portal=portal, code="b", name="Acme bot", status=Bot.Status.ACTIVE, vibe_bot_id=1
    )
    for number, (status, skill, error) in enumerate(
        [
            ("failed", "standup", "VibeRateLimitError: 429 RATE_LIMITED"),
            ("failed", "echo", "VibeServerError: 502"),
            ("handled", "standup", ""),
            ("handled", "echo", ""),
        ]
    ):
        EventLogEntry.objects.create(
            bot=bot, vibe_event_id=number, event_type="ONIMBOTV2MESSAGEADD", payload={}, status=status,
            skill=skill, error=error,
        )  # fmt: skip
    return bot


def test_the_search_finds_events_by_their_error_and_the_filter_by_their_skill(operator, log):
    found = operator.get("/admin/botcore/eventlogentry/", {"q": "rate_limited"}).context["cl"]
    assert [entry.error for entry in found.result_list] == ["VibeRateLimitError: 429 RATE_LIMITED"]
    standup = operator.get("/admin/botcore/eventlogentry/", {"skill": "standup"}).context["cl"]
    assert {(entry.skill, entry.status) for entry in standup.result_list} == {
        ("standup", "failed"),
        ("standup", "handled"),
    }


def test_the_search_reads_the_index_of_the_events_that_have_an_error(operator, log):
    listing = operator.get("/admin/botcore/eventlogentry/", {"q": "timeout"}).context["cl"]
    page = listing.queryset[: listing.list_per_page]
    if connection.vendor == "postgresql":
        # On a table this small a scan is cheaper: ask whether the index can serve the query at all.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    plan = page.explain()
    assert "event_error_received_idx" in plan, plan
