"""Chat management and files for VibeSkillContext: read and change chats, upload and download files.

Methods default to the event's chat; `dialog_id` names another one. Creating a chat and uploading a file
are remembered in the context's ActionLedger under a key derived like a templateId, so handling the
event again returns what the first attempt made instead of a second chat or file; one whose outcome an
attempt could not learn is never made again (_made_once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from botcore.errors import ActionInDoubtError
from botcore.skills.ledger import ActionLedger
from botcore.skills.signals import DoubtfulWrite, tell_write_in_doubt
from botcore.vibe import MAX_DOWNLOAD_BYTES, VibeClient
from botcore.vibe.errors import VibeError
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

    def list_portal_users(self) -> list[PortalUser]:
        client, _ = self._platform()
        return client.list_users()

    def create_chat(
        self,
        title: str,
        *,
        user_ids: Sequence[int],
        description: str | None = None,
        message: str | None = None,
    ) -> Chat:
        client, bot_id = self._platform()

        def create() -> dict[str, Any]:
            chat = client.create_chat(
                bot_id, title=title, user_ids=list(user_ids), description=description, message=message
            )
            return {"id": chat.id, "dialog_id": chat.dialog_id, "title": chat.title}

        made = self._made_once("chat", "creating a chat", create)
        return Chat(id=int(made["id"]), dialog_id=str(made["dialog_id"]), title=str(made.get("title", "")))

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

        def upload() -> dict[str, Any]:
            uploaded = client.upload_file(
                bot_id, dialog_id=self._dialog(dialog_id), name=name, content=content, message=message
            )
            return {f.name: getattr(uploaded, f.name) for f in fields(uploaded) if f.name != "raw"}

        return UploadedFile(**self._made_once("upload", "uploading a file", upload))

    def download_file(self, file_id: int, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        client, bot_id = self._platform()
        return client.download_file(bot_id, int(file_id), max_bytes=max_bytes)

    # --- once only --------------------------------------------------------------------------------
    def _made_once(
        self, write: DoubtfulWrite, what: str, make: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """What this handling's next such action made, made now only if no earlier attempt made it.

        These calls carry no key the platform could de-duplicate. An attempt that failed after the
        platform may have acted leaves the action in doubt in the ledger; a later attempt does not make a
        second chat or file but fails, final, saying so (ActionInDoubtError) for someone to look.
        """
        key = self._next_template_id()
        known = self._ledger.find(key)
        if known is not None and known.get("in_doubt"):
            tell_write_in_doubt(write, "refused")
            raise ActionInDoubtError(
                f"{what} failed after the platform may have done it, in an earlier attempt at this event; "
                "it is not done again (the platform has no key to tell a repeat)"
            )
        if known is not None:
            return known
        try:
            made = make()
        except VibeError as error:
            if error.leaves_in_doubt:
                self._ledger.record(key, {"in_doubt": True})
                tell_write_in_doubt(write, "in_doubt")
            raise
        self._ledger.record(key, made)
        return made
