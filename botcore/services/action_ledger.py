"""The once-only action ledger in the database: one bot's ActionRecord rows (interface: skills/ledger.py)."""

from __future__ import annotations

from typing import Any

from botcore.models import ActionRecord
from botcore.skills.ledger import stored_key


class DatabaseLedger:
    """ActionRecord rows of one bot."""

    def __init__(self, *, bot_pk: int) -> None:
        self.bot_pk = bot_pk

    def find(self, key: str) -> dict[str, Any] | None:
        rows = ActionRecord.objects.filter(bot_id=self.bot_pk, key=stored_key(key))
        return rows.values_list("result", flat=True).first()

    def record(self, key: str, result: dict[str, Any]) -> None:
        # One INSERT … ON CONFLICT DO NOTHING: the first record of an action stays, as with get_or_create,
        # without get_or_create's second SELECT first (a round trip each on PostgreSQL).
        ActionRecord.objects.bulk_create(
            [ActionRecord(bot_id=self.bot_pk, key=stored_key(key), result=result)], ignore_conflicts=True
        )
