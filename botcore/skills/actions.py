"""Chat management and files for VibeSkillContext: read and change chats, upload and download files.

Methods default to the event's chat; `dialog_id` names another one. Creating a chat and uploading a file
are remembered in the context's ActionLedger under a key derived like a templateId, so handling the
event again returns what the first attempt made instead of a second chat or file; one whose outcome an
attempt could not learn is never made again (_made_once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from botcore.errors import ActionInDoubtError
from botcore.skills.ledger import ActionLedger
from botcore.skills.signals import DoubtfulWrite, tell_write_in_doubt
from botcore.vibe import MAX_DOWNLOAD_BYTES, VibeClient
from botcore.vibe.chat_marks import never_arrived_at_once, shows_never_arrived
from botcore.vibe.errors import VibeError
from botcore.vibe.models import Chat, PortalUser, SentMessage, UploadedFile

log = logging.getLogger(__name__)


def both_sending(
    ours: Callable[[], None] | None, theirs: Callable[[], None] | None
) -> Callable[[], None] | None:
    """One `on_sending` for a call the context makes once on a skill's behalf (ctx.client) that gave its own:
    the context's record first, so a skill's that raises leaves the call unsent and in doubt, never sent
    without it."""
    if ours is None or theirs is None:
        return ours or theirs

    def sending() -> None:
        ours()
        theirs()

    return sending


def chat_record(chat: Chat) -> dict[str, Any]:
    """What the ledger keeps of a new chat, and so all that a handling run again can give back."""
    return {"id": chat.id, "dialog_id": chat.dialog_id, "title": chat.title}


def chat_from_record(made: dict[str, Any]) -> Chat:
    return Chat(id=int(made["id"]), dialog_id=str(made["dialog_id"]), title=str(made.get("title", "")))


def upload_record(uploaded: UploadedFile) -> dict[str, Any]:
    """What the ledger keeps of an upload: its fields, not the answer they were read from (`raw`)."""
    return {f.name: getattr(uploaded, f.name) for f in fields(uploaded) if f.name != "raw"}


def post_as_made(message_id: int) -> SentMessage:
    """What a post or command answer made once per handling through ctx.client gives the skill, the first
    attempt as a replay: its message id alone (0 for one left in doubt), all the ledger keeps of it. Live
    (OnceOnlyClient) and in the test kit alike."""
    return SentMessage(id=message_id)


def as_made_once(result: Any) -> Any:
    """What a call made once per handling gives the skill, the first attempt as a replay: only what the ledger
    keeps (a post's message id, a chat's id, dialog_id and title, an upload's fields), so a skill never
    relies on a field a run again would not have. ctx.client's chats and uploads live (OnceOnlyClient)
    and the test kit's stand-in's answers to them are shaped here, posts by post_as_made; anything else (a
    stand-in's own shape) is left as it is."""
    if isinstance(result, SentMessage):
        return post_as_made(result.id)
    if isinstance(result, Chat):
        return chat_from_record(chat_record(result))
    if isinstance(result, UploadedFile):
        return UploadedFile(**upload_record(result))
    return result


class ChatActions:
    """Mixed into VibeSkillContext, which provides the platform, the event's dialog and the keys."""

    _ledger: ActionLedger

    def _platform(self) -> tuple[VibeClient, int]:
        raise NotImplementedError

    def _next_template_id(self) -> str:
        raise NotImplementedError

    def _newest_known(self, dialog_id: str) -> int | None:
        raise NotImplementedError

    def _newest_as_it_leaves(
        self, client: VibeClient, bot_id: int, dialog_id: str, after: int | None
    ) -> int | None:
        raise NotImplementedError

    def _seen(self, dialog_id: str, message_id: int) -> int:
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
        return self._create_chat_once(
            client, bot_id, title=title, user_ids=user_ids, description=description, message=message
        )

    def _create_chat_once(self, client: VibeClient, bot_id: int, **chat: Any) -> Chat:
        """create_chat's call, made once for this handling (_made_once): ctx.create_chat's, and a skill's
        own through ctx.client. `chat`: VibeClient.create_chat's keyword arguments."""

        theirs = chat.pop("on_sending", None)

        def create(on_sending: Callable[[], None]) -> dict[str, Any]:
            return chat_record(
                client.create_chat(bot_id, **chat, on_sending=both_sending(on_sending, theirs))
            )

        return chat_from_record(self._made_once(client, bot_id, "chat", "creating a chat", create))

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
        return self._upload_file_once(
            client, bot_id, dialog_id=self._dialog(dialog_id), name=name, content=content, message=message
        )

    def _upload_file_once(
        self, client: VibeClient, bot_id: int, *, dialog_id: str, **upload: Any
    ) -> UploadedFile:
        """upload_file's call, made once for this handling (_made_once): ctx.upload_file's, and a skill's own
        through ctx.client. `upload`: VibeClient.upload_file's other keyword arguments."""

        theirs = upload.pop("on_sending", None)

        def send(on_sending: Callable[[], None]) -> dict[str, Any]:
            sending = both_sending(on_sending, theirs)
            return upload_record(
                client.upload_file(bot_id, dialog_id=dialog_id, **upload, on_sending=sending)
            )

        made = self._made_once(client, bot_id, "upload", "uploading a file", send, dialog_id=str(dialog_id))
        uploaded = UploadedFile(**made)
        # The file's message is now the chat's newest: a post after it, failing in doubt, is judged against
        # it, not against an older one that the file's message would make it look arrived (and left unsent).
        self._seen(str(dialog_id), uploaded.message_id)
        return uploaded

    def download_file(self, file_id: int, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        client, bot_id = self._platform()
        return client.download_file(bot_id, int(file_id), max_bytes=max_bytes)

    # --- once only --------------------------------------------------------------------------------
    def _made_once(
        self,
        client: VibeClient,
        bot_id: int,
        write: DoubtfulWrite,
        what: str,
        make: Callable[[Callable[[], None]], dict[str, Any]],
        *,
        dialog_id: str | None = None,
    ) -> dict[str, Any]:
        """What this handling's next such action made, made now only if no earlier attempt made it.

        These calls carry no key the platform could de-duplicate (the reference names templateId for
        sends only), and the platform lists neither a bot's chats nor its files. So the action's doubt is
        written ahead, as a post's is where a repeat would post again (posts_once.py _post_once): recorded as
        the request leaves (`make` hands `on_sending` to the client), replaced by what was made once the
        platform answers, taken back when the call surely did not happen (refused, or never sent). A worker
        killed between the platform's answer and the record leaves it in doubt, not unknown.

        An upload posts a message in `dialog_id`, so its doubt is judged by that chat as a post's is: the
        chat's last message read as the request leaves is its mark, and while the chat's last message is
        still that one the upload never arrived and is made again (chat_marks.shows_never_arrived). A new
        chat leaves no such trace anywhere the bot can read. One still in doubt is not made again: the
        handling fails, final, saying so (ActionInDoubtError, on the event's log entry and in a WARNING)
        for someone to look, never a second chat or file.
        """
        key = self._next_template_id()
        known = self._ledger.find(key)
        if known is not None and not known.get("in_doubt"):
            return known
        if known is not None:
            never_arrived, why = self._why_made_again(client, bot_id, dialog_id, known.get("after"))
            if not never_arrived:
                log.warning(
                    "%s for %s is in doubt (an earlier attempt may have done it) and is not done again: %s",
                    what,
                    key,
                    why,
                )
                tell_write_in_doubt(write, "refused")
                raise ActionInDoubtError(
                    f"{what} failed after the platform may have done it, in an earlier attempt at this "
                    f"event; it is not done again (the platform has no key to tell a repeat; {why})",
                    write=write,
                )
            log.info("%s for %s was in doubt and is done again: %s", what, key, why)
        in_doubt: dict[str, Any] = {"in_doubt": True}
        written_ahead = False

        def write_ahead() -> None:
            nonlocal written_ahead
            if written_ahead:  # the transport's retry of a call that surely never left: the first mark stays
                return
            if dialog_id is not None:
                in_doubt["after"] = self._newest_as_it_leaves(
                    client, bot_id, dialog_id, self._newest_known(dialog_id)
                )
            if known is None:
                self._ledger.record(key, in_doubt)
            else:  # an earlier doubt the chat cleared: the new mark replaces its own
                self._ledger.settle(key, in_doubt)
            written_ahead = True

        try:
            made = make(write_ahead)
        except VibeError as error:
            if error.leaves_in_doubt and not self._shown_never_made(
                client, bot_id, dialog_id, in_doubt, error
            ):
                self._ledger.record(key, in_doubt)
                tell_write_in_doubt(write, "in_doubt")
            elif written_ahead or known is not None:
                self._ledger.forget(
                    key
                )  # refused, never sent, or shown never made: the next attempt makes it
                if error.leaves_in_doubt:
                    tell_write_in_doubt(write, "never_arrived")
            raise
        if written_ahead or known is not None:
            self._ledger.settle(key, made)
        else:
            self._ledger.record(key, made)
        if known is not None:
            tell_write_in_doubt(write, "sent_again")
        return made

    def _why_made_again(
        self, client: VibeClient, bot_id: int, dialog_id: str | None, after: int | None
    ) -> tuple[bool, str]:
        """Whether an action left in doubt surely never happened, and why: an upload, by its chat (a passing
        failure of the read is raised, and the event is handled again later); a new chat, never."""
        if dialog_id is None:
            return False, "no chat the bot can read shows whether it was made"
        return shows_never_arrived(client, bot_id, dialog_id, after)

    def _shown_never_made(
        self,
        client: VibeClient,
        bot_id: int,
        dialog_id: str | None,
        in_doubt: dict[str, Any],
        error: VibeError,
    ) -> bool:
        """Whether an upload that failed just now surely made nothing, read at once where the platform is done
        with the call (its own error answer, VibeError.call_is_over), as a post's send is (posts_once.py
        _never_arrived). Not for a new chat, nor when the read fails."""
        if dialog_id is None or "after" not in in_doubt:
            return False
        return never_arrived_at_once(client, bot_id, dialog_id, in_doubt["after"], error)
