"""The once-only action ledger in the database: one bot's ActionRecord rows (interface: skills/ledger.py)."""

from __future__ import annotations

from typing import Any

from botcore.models import ActionRecord
from botcore.services.cycle_sql import find_action_result, record_action
from botcore.skills.ledger import stored_key


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
