"""The once-only action ledger in the database: one bot's ActionRecord rows (interface: skills/ledger.py)."""

from __future__ import annotations

from typing import Any

from botcore.models import ActionRecord
from botcore.services.cycle_sql import find_action_result, record_action
from botcore.skills.ledger import stored_key


class DatabaseLedger:
    """ActionRecord rows of one bot."""

    def __init__(self, *, bot_pk: int) -> None:
        self.bot_pk = bot_pk

    def find(self, key: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = find_action_result(self.bot_pk, stored_key(key))
        return result

    def record(self, key: str, result: dict[str, Any]) -> None:
        # The first record of an action stays, as with get_or_create, in one statement (cycle_sql).
        record_action(self.bot_pk, stored_key(key), result)

    def settle(self, key: str, result: dict[str, Any]) -> None:
        # Rare (a post left in doubt, now known), so the ORM's update, not one of cycle_sql's statements.
        ActionRecord.objects.filter(bot_id=self.bot_pk, key=stored_key(key)).update(result=result)

    def forget(self, key: str) -> None:
        ActionRecord.objects.filter(bot_id=self.bot_pk, key=stored_key(key)).delete()
