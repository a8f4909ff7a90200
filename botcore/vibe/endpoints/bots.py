"""Reference section "Bot management": register, list, get, update, delete, reauth, resubscribe, revision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from botcore.vibe.coerce import is_digits
from botcore.vibe.endpoints.base import (
    IDEMPOTENT,
    SAFE,
    SETUP,
    UNSAFE,
    Endpoints,
    as_data,
    bot_path,
    drop_none,
)
from botcore.vibe.errors import VibeApiError, VibeBotAlreadyExistsError
from botcore.vibe.models import Bot, BotDetails, PortalUser, Revision

BotType = Literal["bot", "supervisor", "personal", "openline"]
EventMode = Literal["fetch", "webhook"]


def _profile(
    *,
    name: str | None,
    last_name: str | None,
    work_position: str | None,
    color: str | None,
    gender: Literal["M", "F"] | None,
    avatar: str | None,
    background_id: str | None,
    is_hidden: bool | None,
    is_reactions_enabled: bool | None,
    is_support_openline: bool | None,
    language: str | None,
) -> dict[str, Any]:
    return drop_none(
        name=name,
        lastName=last_name,
        workPosition=work_position,
        color=color,
        gender=gender,
        avatar=avatar,
        backgroundId=background_id,
        isHidden=is_hidden,
        isReactionsEnabled=is_reactions_enabled,
        isSupportOpenline=is_support_openline,
        language=language,
    )


def _bot_from(data: Any) -> Bot:
    data = as_data(data)
    bot = data.get("bot")
    return Bot.from_payload(bot if isinstance(bot, Mapping) else data)


class BotEndpoints(Endpoints):
    def register_bot(
        self,
        *,
        code: str,
        name: str,
        type: BotType = "bot",
        event_mode: EventMode = "fetch",
        webhook_url: str | None = None,
        last_name: str | None = None,
        work_position: str | None = None,
        color: str | None = None,
        gender: Literal["M", "F"] | None = None,
        avatar: str | None = None,
        background_id: str | None = None,
        is_hidden: bool | None = None,
        is_reactions_enabled: bool | None = None,
        is_support_openline: bool | None = None,
        language: str | None = None,
        adopt_existing: bool = False,
    ) -> Bot:
        """POST /v1/bots: register a bot under this key; the platform keeps its bot token.

        With `adopt_existing`, a 409 BOT_ALREADY_EXISTS that names the existing bot (data.botId) returns
        that bot instead of raising, which also makes the call safe to retry: a repeat after a lost answer
        finds the bot the first attempt made. Without it the call is never blindly retried (UNSAFE) and a
        409 raises VibeBotAlreadyExistsError with `existing_bot_id`.
        """
        body = {
            "code": code,
            "type": type,
            "eventMode": event_mode,
            **drop_none(webhookUrl=webhook_url),
            **_profile(
                name=name,
                last_name=last_name,
                work_position=work_position,
                color=color,
                gender=gender,
                avatar=avatar,
                background_id=background_id,
                is_hidden=is_hidden,
                is_reactions_enabled=is_reactions_enabled,
                is_support_openline=is_support_openline,
                language=language,
            ),
        }
        try:
            data = self._transport.request(
                "POST", "/bots", body=body, retry=IDEMPOTENT if adopt_existing else UNSAFE, priority=SETUP
            )
        except VibeBotAlreadyExistsError as error:
            if not adopt_existing or error.existing_bot_id is None:
                raise
            return self.get_bot(error.existing_bot_id).bot
        return _bot_from(data)

    def list_bots(self) -> list[Bot]:
        """GET /v1/bots: the bots this key registered on the caller's portal."""
        data = self._transport.request("GET", "/bots", retry=SAFE)
        # Seen in the wild: {bots: []}, {items: []} or a bare array (CONTRACT part B §7.1).
        items = data if isinstance(data, list) else as_data(data).get("bots", as_data(data).get("items", []))
        return [Bot.from_payload(item) for item in items if isinstance(item, Mapping)]

    def get_bot(self, bot_id: int) -> BotDetails:
        """GET /v1/bots/:botId: the bot and the portal user it is."""
        data = as_data(self._transport.request("GET", bot_path(bot_id), retry=SAFE))
        users = data.get("users")
        return BotDetails(
            bot=_bot_from(data),
            users=tuple(PortalUser.from_payload(u) for u in users if isinstance(u, Mapping))
            if isinstance(users, list)
            else (),
            raw=data,
        )

    def update_bot(
        self,
        bot_id: int,
        *,
        name: str | None = None,
        last_name: str | None = None,
        work_position: str | None = None,
        color: str | None = None,
        gender: Literal["M", "F"] | None = None,
        avatar: str | None = None,
        background_id: str | None = None,
        is_hidden: bool | None = None,
        is_reactions_enabled: bool | None = None,
        is_support_openline: bool | None = None,
        language: str | None = None,
    ) -> Bot:
        """PATCH /v1/bots/:botId: change the profile; only the fields given are sent. The code is fixed."""
        fields = _profile(
            name=name,
            last_name=last_name,
            work_position=work_position,
            color=color,
            gender=gender,
            avatar=avatar,
            background_id=background_id,
            is_hidden=is_hidden,
            is_reactions_enabled=is_reactions_enabled,
            is_support_openline=is_support_openline,
            language=language,
        )
        if not fields:
            raise ValueError("update_bot needs at least one field to change")
        data = self._transport.request(
            "PATCH", bot_path(bot_id), body={"fields": fields}, retry=IDEMPOTENT, priority=SETUP
        )
        return _bot_from(data)

    def delete_bot(self, bot_id: int, *, missing_ok: bool = False) -> None:
        """DELETE /v1/bots/:botId: unregister the bot on Bitrix24 and the platform.

        Repeating it is harmless, so it is retried; a repeat answers 404 BOT_NOT_FOUND, which `missing_ok`
        turns into success ("already deleted"): the platform's word that the bot is gone
        (VibeApiError.says_bot_gone), not any 404 (a path no such endpoint has is no bot gone).
        """
        try:
            self._transport.request("DELETE", bot_path(bot_id), retry=IDEMPOTENT, priority=SETUP)
        except VibeApiError as error:
            if not (missing_ok and error.says_bot_gone):
                raise

    def reauth_bot(self, bot_id: int) -> Bot:
        """POST /v1/bots/:botId/reauth: the platform renews the bot token it keeps."""
        return _bot_from(
            self._transport.request(
                "POST", bot_path(bot_id, "reauth"), body={}, retry=IDEMPOTENT, priority=SETUP
            )
        )

    def resubscribe_bot(
        self, bot_id: int, *, event_mode: EventMode | None = None, webhook_url: str | None = None
    ) -> Bot:
        """POST /v1/bots/:botId/resubscribe: make events flow again (optionally in another mode)."""
        body = drop_none(eventMode=event_mode, webhookUrl=webhook_url)
        return _bot_from(
            self._transport.request(
                "POST", bot_path(bot_id, "resubscribe"), body=body, retry=IDEMPOTENT, priority=SETUP
            )
        )

    def get_revision(self) -> Revision:
        """GET /v1/bots/revision: the bot platform's revision."""
        data = self._transport.request("GET", "/bots/revision", retry=SAFE)
        mapping = as_data(data)
        value = mapping.get("revision", data if isinstance(data, int) else 0)
        return Revision(
            revision=int(value) if isinstance(value, (int, str)) and is_digits(str(value)) else 0, raw=mapping
        )
