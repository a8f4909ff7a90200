"""One handling's ledger (HandlingLedger): its first look-up reads the records of the handling's first keys in
one statement; what it read answers those keys only while nothing of its own has written them."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from botcore.models import Bot
from botcore.services.action_ledger import DatabaseLedger, HandlingLedger, handling_keys
from botcore.skills.context import template_id_of
from botcore.skills.ledger import reaction_key
from botcore.skills.state import state_write_key
from tenants.models import Portal

pytestmark = pytest.mark.django_db

HANDLING = "7:41"  # post_key_for's: platform bot 7, event 41
REACTION = reaction_key(HANDLING, 1)
REPLY = template_id_of(HANDLING, 1)
STATE_WRITE = state_write_key(HANDLING, 1)


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE)


def handling_ledger(bot: Bot) -> HandlingLedger:
    return HandlingLedger(bot_pk=bot.pk, expected=handling_keys(HANDLING))


def statements(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


def test_a_first_attempt_looks_its_reaction_reply_and_state_write_up_in_one_statement(bot):
    ledger = handling_ledger(bot)

    def handle():
        assert ledger.find(REACTION) is None
        ledger.record(REACTION, {"done": True})
        assert ledger.find(REPLY) is None
        ledger.record(REPLY, {"id": 5, "posted_in": "12"})
        assert ledger.find(STATE_WRITE) is None

    assert statements(handle) == 1 + 2  # the look-up, and the two records
    assert DatabaseLedger(bot_pk=bot.pk).find(REPLY) == {"id": 5, "posted_in": "12"}


def test_an_events_handling_run_again_finds_what_its_earlier_attempts_recorded_in_that_one_read(bot):
    """However its attempts are counted: an operator's replay sets them back to 0 with the ledger kept."""
    earlier = DatabaseLedger(bot_pk=bot.pk)
    earlier.record(REACTION, {"done": True})
    earlier.record(REPLY, {"in_doubt": True, "after": 4})
    ledger = handling_ledger(bot)

    def handle_again():
        assert ledger.find(REACTION) == {"done": True}
        assert ledger.find(REPLY) == {"in_doubt": True, "after": 4}
        assert ledger.find(template_id_of(HANDLING, 2)) is None

    assert statements(handle_again) == 1


def test_a_key_the_handling_wrote_is_looked_up_in_the_database_not_in_the_first_read(bot):
    ledger = handling_ledger(bot)
    assert ledger.find(REACTION) is None  # the read: the reply is not recorded
    ledger.record(REPLY, {"in_doubt": True, "after": 4})  # its doubt written ahead
    assert ledger.find(REPLY) == {"in_doubt": True, "after": 4}
    ledger.forget(REPLY)  # taken back: it never left
    assert ledger.find(REPLY) is None
    ledger.record(REPLY, {"in_doubt": True, "after": 4})
    ledger.settle(REPLY, {"id": 6, "posted_in": "12"})
    assert ledger.find(REPLY) == {"id": 6, "posted_in": "12"}


def test_a_record_rolled_back_with_its_state_write_is_not_taken_from_a_read_inside_that_transaction(bot):
    ledger = handling_ledger(bot)
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.record(STATE_WRITE, {"dialog": "12"})
        assert ledger.find(REACTION) is None  # the first read, which sees the state write's record
        raise RuntimeError("the state write failed")

    assert ledger.find(STATE_WRITE) is None


def test_a_key_past_the_handlings_first_is_looked_up_alone(bot):
    """A skill's own templateId, asked first, is read with the handling's first keys; a fifth post's key is
    looked up by itself, and finds what is recorded for it."""
    DatabaseLedger(bot_pk=bot.pk).record(template_id_of(HANDLING, 5), {"id": 9, "posted_in": "12"})
    ledger = handling_ledger(bot)

    def handle():
        assert ledger.find("a skill's own key") is None
        assert ledger.find(REPLY) is None
        assert ledger.find(template_id_of(HANDLING, 5)) == {"id": 9, "posted_in": "12"}

    assert statements(handle) == 2


def test_a_long_key_is_read_as_the_ledger_stores_it(bot):
    """A backend run's keys can pass the column's 64 characters and are stored as a digest (stored_key)."""
    long_handling = "7:run:standup:" + "x" * 80
    DatabaseLedger(bot_pk=bot.pk).record(reaction_key(long_handling, 1), {"done": False})
    ledger = HandlingLedger(bot_pk=bot.pk, expected=handling_keys(long_handling))

    assert ledger.find(template_id_of(long_handling, 1)) is None
    assert statements(lambda: ledger.find(reaction_key(long_handling, 1))) == 0
    assert ledger.find(reaction_key(long_handling, 1)) == {"done": False}
