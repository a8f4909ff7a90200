"""Conversation state in the database: ConversationState rows of one portal and skill, locked per dialog.

The interface and the memory form are in botcore/skills/state.py; this is the engine's durable form.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from botcore.models import ConversationState
from botcore.skills.state import StateStore


class DatabaseStateStore(StateStore):
    """States in ConversationState rows of one portal and skill."""

    def __init__(self, *, portal_id: int, skill_name: str) -> None:
        self.portal_id = portal_id
        self.skill_name = skill_name

    def _rows(self):
        return ConversationState.objects.filter(portal_id=self.portal_id, skill_name=self.skill_name)

    def load(self, dialog_id: str) -> tuple[dict[str, Any], int]:
        row = self._rows().filter(dialog_id=dialog_id).values_list("data", "version").first()
        return (dict(row[0]), row[1]) if row else ({}, 0)

    def _lock_row(self, dialog_id: str):
        rows = self._rows()
        if connection.features.has_select_for_update:
            rows = rows.select_for_update()
        try:
            return rows.get(dialog_id=dialog_id)
        except ConversationState.DoesNotExist:
            pass
        try:
            with transaction.atomic():  # a savepoint: losing the race to create the row is not fatal
                return ConversationState.objects.create(
                    portal_id=self.portal_id,
                    skill_name=self.skill_name,
                    dialog_id=dialog_id,
                    data={},
                    version=0,
                )
        except IntegrityError:
            return rows.get(dialog_id=dialog_id)  # the other worker created it: wait for its lock

    @contextmanager
    def locked(self, dialog_id: str) -> Iterator[dict[str, Any]]:
        with transaction.atomic():
            row = self._lock_row(dialog_id)
            data = copy.deepcopy(row.data) if isinstance(row.data, dict) else {}
            yield data
            row.data = data
            row.version += 1
            row.save(update_fields=["data", "version", "updated_at"])

    def compare_and_set(self, dialog_id: str, data: dict[str, Any], *, expected_version: int) -> bool:
        if expected_version == 0:
            try:
                with transaction.atomic():
                    ConversationState.objects.create(
                        portal_id=self.portal_id,
                        skill_name=self.skill_name,
                        dialog_id=dialog_id,
                        data=data,
                        version=1,
                    )
                return True
            except IntegrityError:
                # A row may exist at version 0 (created by a lock that stored nothing yet); fall through.
                pass
        updated = (
            self._rows()
            .filter(dialog_id=dialog_id, version=expected_version)
            .update(data=data, version=F("version") + 1, updated_at=timezone.now())
        )
        return updated == 1
