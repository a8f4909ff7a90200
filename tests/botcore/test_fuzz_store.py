"""Property-based fuzzing of storing what the platform sent: any events answer is stored whole (each item as
its event, or as MALFORMED with a plain reason), the offset moves and stays a BIGINT, and every stored event
reads back as the event it was (the executor parses the stored payload again). Seeded (derandomize) so CI
sees the same cases; FUZZ_EXAMPLES=2000 runs a longer hunt. Run on PostgreSQL too (DATABASE_URL)."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from botcore.models import Bot, EventLogEntry
from botcore.services.eventlog import BIGINT_MAX, store_batch
from botcore.vibe.parse import parse_event, read_event_batch
from tenants.models import Portal
from tests.botcore.vibe.test_fuzz_wire import ITEM, JSON, NUMBERS
from tests.fuzzing import fuzz_settings

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# the bot is made once; each example's writes are rolled back
FUZZ = fuzz_settings(60, also_suppress=(HealthCheck.function_scoped_fixture,))


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE)


@FUZZ
@given(st.lists(ITEM, max_size=6), st.one_of(st.none(), NUMBERS, JSON), st.integers(0, 2**63 - 1))
@example(
    [
        {"eventId": 1, "type": "ONIMBOTV2MESSAGEADD", "data": {"message": {"id": 2**80, "text": "\x00"}}},
        {"eventId": 2, "type": "x\x00y", "data": {"k\x00": float("nan")}},
        {"eventId": 2**64, "type": "ONIMBOTV2JOINCHAT"},
        {"eventId": "3", "type": "ONIMBOTV2COMMANDADD", "data": {"command": {"command": "\x00"}}},
        # half an emoji, as a platform cutting a text at a length in UTF-16 units leaves it
        {"eventId": 4, "type": "ONIMBOTV2MESSAGEADD", "data": {"message": {"id": 9, "text": "cut \ud83d"}}},
        ["not", "an", "object"],
    ],
    None,
    0,
)
def test_any_batch_is_stored_whole_and_reads_back(bot, items, next_offset, offset):
    batch = read_event_batch({"events": items, "nextOffset": next_offset}, bot_id=7)
    with transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(event_offset=offset)
        stored = store_batch(bot.pk, batch, vibe_bot_id=7, lease_token=None)
        rows = list(EventLogEntry.objects.filter(bot=bot))
        moved_to = Bot.objects.get(pk=bot.pk).event_offset
        transaction.set_rollback(True)

    assert stored == len(rows)  # the cycle's count of new events is what the log holds
    assert offset <= moved_to <= BIGINT_MAX  # forwards only, and a BIGINT the next poll can send
    by_id = {row.vibe_event_id: row for row in rows}
    # Every event read is stored as itself (the database refusing one kept it only as MALFORMED).
    for event in batch.events:
        if event.event_id <= BIGINT_MAX:
            assert by_id[event.event_id].status != EventLogEntry.Status.MALFORMED
    refused = {m.event_id for m in batch.malformed if 0 <= m.event_id <= BIGINT_MAX}
    assert refused <= set(by_id)  # an unreadable item with an id is kept under it
    if any(not 0 <= m.event_id <= BIGINT_MAX for m in batch.malformed):
        assert min(by_id) < 0  # one without, under a synthetic id
    for row in rows:
        if row.status == EventLogEntry.Status.MALFORMED:
            assert row.error and row.payload["raw_text"]
            continue
        again = parse_event(row.payload)  # what the executor does with it
        assert again.event_id == row.vibe_event_id
