"""The once-only action ledger in the database: one bot's ActionRecord rows (interface: skills/ledger.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botcore.models import ActionRecord
from botcore.services.cycle_sql import find_action_result, find_action_results, record_action
from botcore.skills.context import template_id_of
from botcore.skills.ledger import reaction_key, stored_key
from botcore.skills.state import state_write_key

# How many of each kind of a handling's keys its first look-up reads (HandlingLedger): a handling's posts
# (with its uploads and new chats, numbered with them), reactions and state writes. A handling past them
# looks its further keys up one at a time.
FIRST_POSTS = 4
FIRST_REACTIONS = 2
FIRST_STATE_WRITES = 4


def where_posted(result: dict[str, Any]) -> dict[str, Any]:
    """ActionRecord's columns of where a post went, as its result names it ({"id", "posted_in"}: context.py
    _post_once), both None for any other action and a post in doubt: newest_recorded_post_in reads them."""
    dialog_id, message_id = result.get("posted_in"), result.get("id")
    if not isinstance(dialog_id, str) or not dialog_id:
        return {"posted_in": None, "posted_message_id": None}
    is_id = isinstance(message_id, int) and not isinstance(message_id, bool)
    return {"posted_in": dialog_id, "posted_message_id": message_id if is_id else None}


class DatabaseLedger:
    """ActionRecord rows of one bot."""

    def __init__(self, *, bot_pk: int) -> None:
        self.bot_pk = bot_pk

    def find(self, key: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = find_action_result(self.bot_pk, stored_key(key))
        return result

    def record(self, key: str, result: dict[str, Any]) -> None:
        # The first record of an action stays, as with get_or_create, in one statement (cycle_sql).
        record_action(self.bot_pk, stored_key(key), result, **where_posted(result))

    def settle(self, key: str, result: dict[str, Any]) -> None:
        # Rare (a post left in doubt, now known), so the ORM's update, not one of cycle_sql's statements.
        settled = ActionRecord.objects.filter(bot_id=self.bot_pk, key=stored_key(key))
        settled.update(result=result, **where_posted(result))

    def forget(self, key: str) -> None:
        ActionRecord.objects.filter(bot_id=self.bot_pk, key=stored_key(key)).delete()


def handling_keys(handling_key: str) -> list[str]:
    """The keys a handling's first posts, reactions and state writes take, `handling_key` its post_key_for
    (the formats are template_id_of's, reaction_key's and state_write_key's)."""
    return [
        *(template_id_of(handling_key, number) for number in range(1, FIRST_POSTS + 1)),
        *(reaction_key(handling_key, number) for number in range(1, FIRST_REACTIONS + 1)),
        *(state_write_key(handling_key, number) for number in range(1, FIRST_STATE_WRITES + 1)),
    ]


class HandlingLedger(DatabaseLedger):
    """The ledger of one event's handling, shared by every context of it (skill_context.choose_skill): its
    first look-up reads, in one statement, what is recorded for that key and for each of `expected` (the
    handling's first keys, handling_keys), and a later look-up of one of those is answered from that read.
    A handling that reacts and replies made a SELECT for each (two a message; the README's polling count).

    Why the read still holds when the later key is asked: only a handling of the same event writes its keys,
    and the handling has its event to itself (its cycle's lease, which outlives the task queue's timeout, and
    its claim of the attempt, botcore/services/polling.py and executor.py; a cycle run without a lease, a
    test's or a shell's, has it alone only as its caller keeps it so), so between the read and the
    look-up only this handling can have written one; each of its contexts writes through this ledger, and a
    key it wrote (or took back, or wrote in a transaction rolled back since) is looked up in the database
    again. Nothing is assumed of the attempt: whatever earlier attempts recorded is in the read, the records
    an operator's replay finds (it sets the attempts back to 0 with the ledger kept, so no "first attempt"
    can be told apart) as any retry's. A key outside `expected` (a skill's own templateId, a fifth post) is
    looked up alone, as by DatabaseLedger.
    """

    def __init__(self, *, bot_pk: int, expected: Sequence[str]) -> None:
        super().__init__(bot_pk=bot_pk)
        self._expected = list(expected)
        self._read: dict[str, dict[str, Any] | None] | None = None  # the first look-up's, by key
        self._written: set[str] = set()

    def find(self, key: str) -> dict[str, Any] | None:
        if key in self._written:
            return super().find(key)
        if self._read is None:
            keys = list(dict.fromkeys([key, *self._expected]))
            found = find_action_results(self.bot_pk, [stored_key(k) for k in keys])
            self._read = {k: found.get(stored_key(k)) for k in keys}
        if key in self._read:
            return self._read[key]
        return super().find(key)

    def record(self, key: str, result: dict[str, Any]) -> None:
        self._written.add(key)
        super().record(key, result)

    def settle(self, key: str, result: dict[str, Any]) -> None:
        self._written.add(key)
        super().settle(key, result)

    def forget(self, key: str) -> None:
        self._written.add(key)
        super().forget(key)
