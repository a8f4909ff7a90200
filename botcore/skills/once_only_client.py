"""OnceOnlyClient: the platform client a skill reaches as `ctx.client`, its calls that make something once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botcore.skills.state import BlockGuardedClient, refuse_platform_call_in_block
from botcore.vibe import VibeClient
from botcore.vibe.models import Chat, SentMessage, UploadedFile

if TYPE_CHECKING:
    from botcore.skills.context import VibeSkillContext


class OnceOnlyClient(BlockGuardedClient):
    """What a skill reaches as `ctx.client`: the platform client, each call refused inside a state block
    (BlockGuardedClient), and the calls that make something (send_message, answer_command, create_chat,
    upload_file) made once per handling, as the context's own reply, send, create_chat and upload_file are:
    a skill that reaches for the client for a field the context has no argument for (urlPreview, forwardIds,
    a chat's colour) still gets a templateId, the ledger's record and a doubt written ahead, and a worker
    killed after the platform acted does not make it twice. Each is one of the handling's posts or actions,
    in order with the context's own. A templateId the skill names itself is the post's key instead."""

    def __init__(self, client: VibeClient, context: VibeSkillContext) -> None:
        super().__init__(client, context.state_store)
        self._context = context

    def send_message(
        self,
        bot_id: int,
        *,
        dialog_id: str | int,
        template_id: str | None = None,
        on_sending: Callable[[], None] | None = None,
        **message: Any,
    ) -> SentMessage:
        refuse_platform_call_in_block(self._store, "ctx.client.send_message()")
        return self._context._post_for_client(
            bot_id,
            str(dialog_id),
            "messages",
            lambda key, sending: self._client.send_message(
                bot_id, dialog_id=dialog_id, template_id=key, on_sending=sending, **message
            ),
            template_id=template_id,
            on_sending=on_sending,
        )

    def answer_command(
        self,
        bot_id: int,
        command_id: int,
        *,
        dialog_id: str | int | None = None,
        template_id: str | None = None,
        on_sending: Callable[[], None] | None = None,
        **answer: Any,
    ) -> SentMessage:
        refuse_platform_call_in_block(self._store, "ctx.client.answer_command()")
        return self._context._post_for_client(
            bot_id,
            str(dialog_id) if dialog_id is not None else self._context.dialog_id,
            "answers",
            lambda key, sending: self._client.answer_command(
                bot_id, command_id, dialog_id=dialog_id, template_id=key, on_sending=sending, **answer
            ),
            template_id=template_id,
            on_sending=on_sending,
        )

    def create_chat(self, bot_id: int, **chat: Any) -> Chat:
        refuse_platform_call_in_block(self._store, "ctx.client.create_chat()")
        return self._context._create_chat_once(self._client, bot_id, **chat)

    def upload_file(self, bot_id: int, *, dialog_id: str | int, **upload: Any) -> UploadedFile:
        refuse_platform_call_in_block(self._store, "ctx.client.upload_file()")
        return self._context._upload_file_once(self._client, bot_id, dialog_id=str(dialog_id), **upload)
