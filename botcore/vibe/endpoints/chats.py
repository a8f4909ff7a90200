"""Reference section "Chats": create, read and change group chats, their members, managers and owner."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal

from botcore.vibe.endpoints.base import (
    IDEMPOTENT,
    SAFE,
    UNSAFE,
    Endpoints,
    as_data,
    bot_path,
    dialog,
    drop_none,
    made_data,
)
from botcore.vibe.models import Chat, PortalUser

ChatColor = Literal[
    "red", "green", "mint", "lightBlue", "darkBlue", "purple", "aqua", "pink", "lime", "brown", "azure",
    "khaki", "sand", "marengo", "gray", "graphite",
]  # fmt: skip


def _ids(user_ids: Iterable[int], what: str) -> list[int]:
    ids = [int(user_id) for user_id in user_ids]
    if not ids:
        raise ValueError(f"{what} needs at least one user id")
    return ids


def _chat_from(data: object) -> Chat:
    mapping = as_data(data)
    chat = mapping.get("chat")
    return Chat.from_payload(chat if isinstance(chat, Mapping) else mapping)


class ChatEndpoints(Endpoints):
    def create_chat(
        self,
        bot_id: int,
        *,
        title: str,
        user_ids: Iterable[int] = (),
        description: str | None = None,
        color: ChatColor | None = None,
        avatar: str | None = None,
        owner_id: int | None = None,
        message: str | None = None,
        entity_type: str | None = None,
        on_sending: Callable[[], None] | None = None,
    ) -> Chat:
        """POST /v1/bots/:botId/chats: a group chat with the bot in it; its `dialog_id` is "chatN".

        `avatar` is Base64 without a data: prefix; the owner defaults to the bot. Never retried once it
        may have been sent (UNSAFE): a second attempt would make a second chat; the platform takes no key to
        tell a repeat. `on_sending`: Transport.request's, called as each attempt's request is about to leave
        (where the skills' context writes the new chat's doubt ahead).
        """
        fields = {
            "title": title,
            "userIds": [int(user_id) for user_id in user_ids],
            **drop_none(
                description=description,
                color=color,
                avatar=avatar,
                ownerId=owner_id,
                message=message,
                entityType=entity_type,
            ),
        }
        path = bot_path(bot_id, "chats")
        data = self._transport.request(
            "POST", path, body={"fields": fields}, retry=UNSAFE, on_sending=on_sending
        )
        return _chat_from(made_data(data, path=path, what="a new chat"))

    def get_chat(self, bot_id: int, dialog_id: str | int) -> Chat:
        """GET /v1/bots/:botId/chats/:dialogId."""
        return _chat_from(
            self._transport.request("GET", bot_path(bot_id, "chats", dialog(dialog_id)), retry=SAFE)
        )

    def update_chat(
        self,
        bot_id: int,
        dialog_id: str | int,
        *,
        title: str | None = None,
        description: str | None = None,
        color: ChatColor | None = None,
        avatar: str | None = None,
    ) -> None:
        """PATCH /v1/bots/:botId/chats/:dialogId: change title, description, color or avatar."""
        fields = drop_none(title=title, description=description, color=color, avatar=avatar)
        if not fields:
            raise ValueError("update_chat needs at least one field to change")
        self._transport.request(
            "PATCH", bot_path(bot_id, "chats", dialog(dialog_id)), body={"fields": fields}, retry=IDEMPOTENT
        )

    def leave_chat(self, bot_id: int, dialog_id: str | int) -> None:
        """POST /v1/bots/:botId/chats/:dialogId/leave: the bot leaves the chat."""
        self._transport.request(
            "POST", bot_path(bot_id, "chats", dialog(dialog_id), "leave"), body={}, retry=IDEMPOTENT
        )

    def set_chat_owner(self, bot_id: int, dialog_id: str | int, *, user_id: int) -> None:
        """POST /v1/bots/:botId/chats/:dialogId/owner: hand the chat to another member."""
        self._transport.request(
            "POST",
            bot_path(bot_id, "chats", dialog(dialog_id), "owner"),
            body={"userId": int(user_id)},
            retry=IDEMPOTENT,
        )

    def add_chat_users(self, bot_id: int, dialog_id: str | int, *, user_ids: Iterable[int]) -> None:
        """POST /v1/bots/:botId/chats/:dialogId/users: add members (the bot must manage the chat)."""
        body = {"userIds": _ids(user_ids, "add_chat_users")}
        self._transport.request(
            "POST", bot_path(bot_id, "chats", dialog(dialog_id), "users"), body=body, retry=IDEMPOTENT
        )

    def remove_chat_user(self, bot_id: int, dialog_id: str | int, *, user_id: int) -> None:
        """DELETE /v1/bots/:botId/chats/:dialogId/users: remove one member."""
        body = {"userId": int(user_id)}
        self._transport.request(
            "DELETE", bot_path(bot_id, "chats", dialog(dialog_id), "users"), body=body, retry=IDEMPOTENT
        )

    def list_chat_users(
        self,
        bot_id: int,
        dialog_id: str | int,
        *,
        limit: int | None = None,
        order: Mapping[str, Literal["ASC", "DESC"]] | None = None,
    ) -> list[PortalUser]:
        """GET /v1/bots/:botId/chats/:dialogId/users: members, `limit` 1..200 (default 50)."""
        params: dict[str, str | int] = {}
        if limit is not None:
            if not 1 <= limit <= 200:
                raise ValueError("limit must be 1..200")
            params["limit"] = int(limit)
        for key, direction in (order or {}).items():
            params[f"order[{key}]"] = direction
        data = self._transport.request(
            "GET", bot_path(bot_id, "chats", dialog(dialog_id), "users"), params=params or None, retry=SAFE
        )
        items = data if isinstance(data, list) else as_data(data).get("users", [])
        return [PortalUser.from_payload(item) for item in items if isinstance(item, Mapping)]

    def add_chat_managers(self, bot_id: int, dialog_id: str | int, *, user_ids: Iterable[int]) -> None:
        """POST /v1/bots/:botId/chats/:dialogId/managers: make members managers."""
        body = {"userIds": _ids(user_ids, "add_chat_managers")}
        self._transport.request(
            "POST", bot_path(bot_id, "chats", dialog(dialog_id), "managers"), body=body, retry=IDEMPOTENT
        )

    def remove_chat_managers(self, bot_id: int, dialog_id: str | int, *, user_ids: Iterable[int]) -> None:
        """DELETE /v1/bots/:botId/chats/:dialogId/managers: take the manager role away."""
        body = {"userIds": _ids(user_ids, "remove_chat_managers")}
        self._transport.request(
            "DELETE", bot_path(bot_id, "chats", dialog(dialog_id), "managers"), body=body, retry=IDEMPOTENT
        )
