"""Reference section "Commands": register, list, update, delete and answer the bot's slash commands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botcore.vibe.endpoints.base import (
    IDEMPOTENT,
    SAFE,
    SETUP,
    AttachArg,
    Endpoints,
    KeyboardArg,
    as_data,
    bot_path,
    dialog,
    drop_none,
    message_fields,
)
from botcore.vibe.models import Command, SentMessage

# A text per language ({"en": "Help", "ru": "Помощь"}), or one string for the bot's language.
LangText = str | Mapping[str, str]


def _lang(value: LangText | None) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _command_from(data: object) -> Command:
    mapping = as_data(data)
    command = mapping.get("command")
    return Command.from_payload(command if isinstance(command, Mapping) else mapping)


class CommandEndpoints(Endpoints):
    def register_command(
        self,
        bot_id: int,
        *,
        command: str,
        title: LangText | None = None,
        params: LangText | None = None,
        description: LangText | None = None,
        common: bool | None = None,
        hidden: bool | None = None,
        extranet_support: bool | None = None,
    ) -> Command:
        """POST /v1/bots/:botId/commands: register "/command" (the slash is optional).

        A visible command needs a title. Registering a name the bot already has returns that command
        unchanged, so the call is idempotent and retried.
        """
        body = {
            "command": command.lstrip("/"),
            **drop_none(
                title=_lang(title),
                params=_lang(params),
                description=_lang(description),
                common=common,
                hidden=hidden,
                extranetSupport=extranet_support,
            ),
        }
        return _command_from(
            self._transport.request(
                "POST", bot_path(bot_id, "commands"), body=body, retry=IDEMPOTENT, priority=SETUP
            )
        )

    def list_commands(self, bot_id: int) -> list[Command]:
        """GET /v1/bots/:botId/commands."""
        data = self._transport.request("GET", bot_path(bot_id, "commands"), retry=SAFE, priority=SETUP)
        items = data if isinstance(data, list) else as_data(data).get("commands", [])
        return [Command.from_payload(item) for item in items if isinstance(item, Mapping)]

    def update_command(
        self,
        bot_id: int,
        command_id: int,
        *,
        command: str | None = None,
        title: LangText | None = None,
        params: LangText | None = None,
        description: LangText | None = None,
        common: bool | None = None,
        hidden: bool | None = None,
        extranet_support: bool | None = None,
    ) -> Command:
        """PATCH /v1/bots/:botId/commands/:commandId: change the name, texts or flags given."""
        fields = drop_none(
            command=command.lstrip("/") if command is not None else None,
            title=_lang(title),
            params=_lang(params),
            description=_lang(description),
            common=common,
            hidden=hidden,
            extranetSupport=extranet_support,
        )
        if not fields:
            raise ValueError("update_command needs at least one field to change")
        data = self._transport.request(
            "PATCH",
            bot_path(bot_id, "commands", command_id),
            body={"fields": fields},
            retry=IDEMPOTENT,
            priority=SETUP,
        )
        return _command_from(data)

    def delete_command(self, bot_id: int, command_id: int) -> None:
        """DELETE /v1/bots/:botId/commands/:commandId."""
        self._transport.request(
            "DELETE", bot_path(bot_id, "commands", command_id), retry=IDEMPOTENT, priority=SETUP
        )

    def answer_command(
        self,
        bot_id: int,
        command_id: int,
        *,
        message_id: int,
        text: str,
        dialog_id: str | int | None = None,
        keyboard: KeyboardArg | None = None,
        attach: AttachArg | None = None,
        system: bool | None = None,
        url_preview: bool | None = None,
        template_id: str | None = None,
        on_sending: Callable[[], None] | None = None,
    ) -> SentMessage:
        """POST /v1/bots/:botId/commands/:commandId/answer: reply to the command in `message_id`'s chat.

        Works even where the bot is not a member (the reply is then a system message). Whether an answer
        that may have been posted is repeated: Endpoints._post_message.
        """
        fields = message_fields(
            text=text,
            keyboard=keyboard,
            attach=attach,
            system=system,
            url_preview=url_preview,
            template_id=template_id,
        )
        body: dict[str, Any] = {"messageId": int(message_id), **fields}
        if dialog_id is not None:
            body["dialogId"] = dialog(dialog_id)
        path = bot_path(bot_id, "commands", command_id, "answer")
        return self._post_message(path, body, template_id, endpoint="answers", on_sending=on_sending)
