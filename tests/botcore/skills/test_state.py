"""Conversation state: per (portal, skill, dialog), in memory for unit tests and in the database for the bot,
where two workers changing one dialog at once never lose a write (row lock, or compare-and-set)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from botcore.models import ConversationState
from botcore.services.conversation_state import DatabaseStateStore
from botcore.skills.ledger import MemoryLedger
from botcore.skills.state import DialogState, MemoryStateStore, OnceStateStore
from botcore.skills.testing import RecordingContext, make_scheduled_event
from tenants.models import Portal


def _portal(member_id: str = "m-state") -> Portal:
    return Portal.objects.create(
        member_id=member_id, vibe_portal_id=f"vp-{member_id}", domain=f"{member_id}.bitrix24.com"
    )


def _exercise(store):
    state = DialogState(store, "42")
    assert state.get() == {} and state.get_versioned() == ({}, 0)
    with state.update() as data:
        data["answers"] = ["first"]
    snapshot = state.get()
    snapshot["answers"].append("not stored")  # a snapshot is a copy
    assert state.get() == {"answers": ["first"]}
    data, version = state.get_versioned()
    assert state.compare_and_set({"answers": ["second"]}, expected_version=version)
    assert not state.compare_and_set({"answers": ["stale"]}, expected_version=version)
    assert state.get() == {"answers": ["second"]}
    assert DialogState(store, "43").get() == {}
    state.clear()
    assert state.get() == {}


def test_memory_state_keeps_each_dialog_apart():
    _exercise(MemoryStateStore())


@pytest.mark.django_db
def test_database_state_keeps_each_dialog_apart_and_each_skill_apart():
    portal = _portal()
    _exercise(DatabaseStateStore(portal_id=portal.pk, skill_name="standup"))
    DialogState(DatabaseStateStore(portal_id=portal.pk, skill_name="echo"), "42").set({"x": 1})
    assert DialogState(DatabaseStateStore(portal_id=portal.pk, skill_name="standup"), "42").get() == {}


@pytest.mark.django_db
def test_a_first_compare_and_set_creates_the_row_once():
    portal = _portal()
    store = DatabaseStateStore(portal_id=portal.pk, skill_name="s")
    assert store.compare_and_set("7", {"n": 1}, expected_version=0)
    assert not store.compare_and_set("7", {"n": 2}, expected_version=0)
    assert store.load("7") == ({"n": 1}, 1)


def _in_threads(count: int, work) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # noqa: BLE001 (reported to the test below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_two_workers_updating_one_dialog_lose_no_write():
    portal = _portal("m-race")
    rounds = 15

    def work(worker: int) -> None:
        state = DialogState(DatabaseStateStore(portal_id=portal.pk, skill_name="standup"), "42")
        for i in range(rounds):
            with state.update() as data:
                seen = list(data.get("answers", []))
                time.sleep(0.002)  # read-modify-write with room for the other worker to step in
                data["answers"] = [*seen, f"{worker}-{i}"]

    assert _in_threads(2, work) == []
    row = ConversationState.objects.get(portal=portal, skill_name="standup", dialog_id="42")
    assert len(row.data["answers"]) == 2 * rounds and row.version == 2 * rounds
    assert sorted(row.data["answers"]) == sorted(f"{w}-{i}" for w in range(2) for i in range(rounds))


@pytest.mark.django_db(transaction=True)
def test_compare_and_set_lets_exactly_one_of_two_racing_workers_win():
    portal = _portal("m-cas")
    store = DatabaseStateStore(portal_id=portal.pk, skill_name="s")
    DialogState(store, "9").set({"owner": None})
    _, version = store.load("9")
    wins: list[int] = []

    def work(worker: int) -> None:
        if DialogState(store, "9").compare_and_set({"owner": worker}, expected_version=version):
            wins.append(worker)

    assert _in_threads(2, work) == []
    assert len(wins) == 1 and store.load("9") == ({"owner": wins[0]}, version + 1)


@pytest.mark.django_db
def test_a_handling_run_again_gives_its_update_blocks_the_state_its_first_attempt_found():
    """The writes are skipped on a repeat, and the block is given what the first attempt's was, so the skill
    decides as it did then. Given the state as stored (its own write in it), a poll's vote retried after a
    failed edit told the voter "you have voted already", and the poll's message never showed the vote."""
    store, ledger = MemoryStateStore({"chat7": {"votes": {}}}), MemoryLedger()

    def vote(handling_key: str) -> bool:
        state = DialogState(OnceStateStore(store, ledger=ledger, handling_key=handling_key), "chat7")
        with state.update() as data:
            is_first = "5" not in data["votes"]
            data["votes"]["5"] = 1
        return is_first

    assert vote("7:41") is True
    assert vote("7:41") is True  # the same press, handled again after its post failed
    assert vote("7:42") is False  # a second press
    assert store.load("chat7") == ({"votes": {"5": 1}}, 3)


def test_state_of_an_event_in_no_chat_points_to_state_for():
    # A schedule's or an install's run is in no chat: ctx.state has no dialog, the error says what to use.
    ctx = RecordingContext(event=make_scheduled_event("digest", local_due_at="2030-01-07T17:00:00+00:00"))
    with pytest.raises(TypeError) as refused:
        ctx.state.get()
    assert "state_for(" in str(refused.value)
    with pytest.raises(TypeError) as refused:
        ctx.reply("hello")
    assert "send(" in str(refused.value)
