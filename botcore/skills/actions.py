"""Chat management and files for VibeSkillContext: read and change chats, upload and download files.

Methods default to the event's chat; `dialog_id` names another one. Creating a chat and uploading a file
are remembered in the context's ActionLedger under a key derived like a templateId, so handling the
event again returns what the first attempt made instead of a second chat or file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from botcore.skills.ledger import ActionLedger
from botcore.vibe import VibeClient
from botcore.vibe.models import Chat, PortalUser, UploadedFile


class ChatActions:
    """Mixed into VibeSkillContext, which provides the platform, the event's dialog and the keys."""

    _ledger: ActionLedger

    def _platform(self) -> tuple[VibeClient, int]:
        raise NotImplementedError

    def _next_template_id(self) -> str:
        raise NotImplementedError

    @property
    def dialog_id(self) -> str:
        raise NotImplementedError

    def _dialog(self, dialog_id: str | None) -> str:
        return str(dialog_id) if dialog_id is not None else self.dialog_id

    # --- chats ------------------------------------------------------------------------------------
    def get_chat(self, dialog_id: str | None = None) -> Chat:
        client, bot_id = self._platform()
        return client.get_chat(bot_id, self._dialog(dialog_id))

    def list_chat_users(self, dialog_id: str | None = None) -> list[PortalUser]:
        client, bot_id = self._platform()
        return client.list_chat_users(bot_id, self._dialog(dialog_id), limit=200)

    def create_chat(
        self,
        title: str,
        *,
        user_ids: Sequence[int],
        description: str | None = None,
        message: str | None = None,
    ) -> Chat:
        client, bot_id = self._platform()
        key = self._next_template_id()
        known = self._ledger.find(key)
        if known is not None:
            return Chat(
                id=int(known["id"]), dialog_id=str(known["dialog_id"]), title=str(known.get("title", ""))
            )
        chat = client.create_chat(
            bot_id, title=title, user_ids=list(user_ids), description=description, message=message
        )
        self._ledger.record(key, {"id": chat.id, "dialog_id": chat.dialog_id, "title": chat.title})
        return chat

    def add_chat_users(self, user_ids: Sequence[int], *, dialog_id: str | None = None) -> None:
        client, bot_id = self._platform()
        client.add_chat_users(bot_id, self._dialog(dialog_id), user_ids=list(user_ids))

    def remove_chat_user(self, user_id: int, *, dialog_id: str | None = None) -> None:
        client, bot_id = self._platform()
        client.remove_chat_user(bot_id, self._dialog(dialog_id), user_id=int(user_id))

    def update_chat(
        self, *, dialog_id: str | None = None, title: str | None = None, description: str | None = None
    ) -> None:
        client, bot_id = self._platform()
        client.update_chat(bot_id, self._dialog(dialog_id), title=title, description=description)

    def leave_chat(self, dialog_id: str | None = None) -> None:
        client, bot_id = self._platform()
        client.leave_chat(bot_id, self._dialog(dialog_id))

    def set_text_field(self, enabled: bool, *, dialog_id: str | None = None) -> None:
        client, bot_id = self._platform()
        client.set_text_field(bot_id, dialog_id=self._dialog(dialog_id), enabled=enabled)

    # --- files ------------------------------------------------------------------------------------
    def upload_file(
        self, name: str, content: bytes, *, message: str | None = None, dialog_id: str | None = None
    ) -> UploadedFile:
        client, bot_id = self._platform()
        key = self._next_template_id()
        known = self._ledger.find(key)
        if known is not None:
            return UploadedFile(**{k: v for k, v in known.items() if k != "raw"})
        uploaded = client.upload_file(
            bot_id, dialog_id=self._dialog(dialog_id), name=name, content=content, message=message
        )
        record: dict[str, Any] = {
            f.name: getattr(uploaded, f.name) for f in fields(uploaded) if f.name != "raw"
        }
        self._ledger.record(key, record)
        return uploaded

    def download_file(self, file_id: int) -> bytes:
        client, bot_id = self._platform()
        return client.download_file(bot_id, int(file_id))
