"""Reference section "Bot management": register, list, get, update, delete, reauth, resubscribe, revision.

Shapes where the reference is silent (CONTRACT part A §9):
- Register takes the reference's flat body; `name`, `lastName`, `workPosition`, `color`, `gender` and
  `avatar` may also sit under `properties` (the imbot.v2 shape). Update takes the same fields flat, under
  `fields`, or under `properties` (or `fields.properties`).
- A bot belongs to the registering key on the caller's portal; the bot token stays inside the platform.
- DELETE is final: a repeat finds no bot and answers 404 BOT_NOT_FOUND, which changes nothing, so a client
  may treat it as "already deleted".
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

from sandbox.http import ApiError, Call, Created, endpoint, envelope_ok
from sandbox.payloads import bot_payload
from sandbox.records import Bot
from sandbox.state import Platform

BOT_TYPES = ("bot", "supervisor", "personal", "openline")
EVENT_MODES = ("fetch", "webhook")
GENDERS = ("M", "F")
BACKGROUNDS = ("azure", "mint", "steel", "slate", "teal", "cornflower", "sky", "peach", "frost")
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_NESTED = ("fields", "properties")


def text_value(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ApiError("INVALID_REQUEST", f"{name} must be a string")
    return value.strip()


def flag_value(value: Any, name: str) -> bool:
    """A boolean as JSON true/false or the Bitrix24 "Y"/"N"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper() in ("Y", "N"):
        return value.upper() == "Y"
    raise ApiError("INVALID_REQUEST", f'{name} must be true/false (or "Y"/"N")')


def choice_value(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ApiError("INVALID_REQUEST", f"{name} must be one of: {', '.join(choices)}")
    return value


def merged_fields(body: dict) -> dict:
    """The body's fields whether flat, under `fields`, under `properties`, or under `fields.properties`."""
    merged = {k: v for k, v in body.items() if k not in _NESTED}
    for outer in (body.get("fields"), body):
        if outer is None:
            continue
        if not isinstance(outer, dict):
            raise ApiError("INVALID_REQUEST", "fields must be an object")
        if outer is not body:
            merged.update({k: v for k, v in outer.items() if k not in _NESTED})
        nested = outer.get("properties")
        if nested is not None:
            if not isinstance(nested, dict):
                raise ApiError("INVALID_REQUEST", "properties must be an object")
            merged.update(nested)
    return merged


def _avatar(value: Any, name: str) -> str:
    avatar = text_value(value, name)
    if avatar.startswith("data:"):
        raise ApiError("INVALID_REQUEST", "avatar must be Base64 without a data: prefix")
    return avatar


# JSON field -> (Bot attribute, parser). `code` and `name` are handled apart: they have their own codes.
_PROPERTIES = {
    "type": ("type", lambda v, n: choice_value(v, n, BOT_TYPES)),
    "eventMode": ("event_mode", lambda v, n: choice_value(v, n, EVENT_MODES)),
    "webhookUrl": ("webhook_url", text_value),
    "lastName": ("last_name", text_value),
    "workPosition": ("work_position", text_value),
    "color": ("color", text_value),
    "gender": ("gender", lambda v, n: choice_value(v, n, GENDERS)),
    "avatar": ("avatar", _avatar),
    # an unknown background is no error: imbot.v2 stores null for it
    "backgroundId": ("background_id", lambda v, n: v if v in BACKGROUNDS else None),
    "isHidden": ("is_hidden", flag_value),
    "isReactionsEnabled": ("is_reactions_enabled", flag_value),
    "isSupportOpenline": ("is_support_openline", flag_value),
    "language": ("language", text_value),
}


def read_properties(fields: dict) -> dict[str, Any]:
    """Bot attributes from the request's fields, each checked; unknown fields (and `name`) are ignored."""
    return {attr: parse(fields[name], name) for name, (attr, parse) in _PROPERTIES.items() if name in fields}


def read_new_name(fields: dict) -> str:
    """An update's name. Not NAME_REQUIRED, which the reference defines as "not provided during
    registration": a PATCH registers nothing and may leave the name out, so an empty one is a bad value,
    INVALID_REQUEST, as an empty chat title is."""
    name = text_value(fields["name"], "name")
    if not name:
        raise ApiError("INVALID_REQUEST", "name must not be empty: send the bot's new name or leave name out")
    return name


def read_name(fields: dict) -> str:
    name = fields.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise ApiError("NAME_REQUIRED", hint="Send name, flat or under properties")
    return text_value(name, "name")


def read_code(fields: dict) -> str:
    code = fields.get("code")
    if code is None or (isinstance(code, str) and not code.strip()):
        raise ApiError("CODE_REQUIRED", hint="Send a unique code such as my_helper_bot")
    code = text_value(code, "code")
    if not _CODE.match(code):
        raise ApiError("INVALID_REQUEST", "code may hold 1-64 letters, digits, '_', '-' or '.'")
    return code


def check_event_mode(event_mode: str, webhook_url: str) -> None:
    if event_mode == "webhook" and not re.match(r"^https?://\S+$", webhook_url):
        raise ApiError("INVALID_REQUEST", "webhookUrl (an http(s) URL) is required when eventMode is webhook")


def bot_json(platform: Platform, bot: Bot) -> dict:
    """The bot as the API shows it: the imbot.v2 bot object plus its profile; never a token."""
    payload = bot_payload(platform, bot)
    payload.update(gender=bot.gender, active=not bot.deleting)
    if bot.event_mode == "webhook":
        payload["webhookUrl"] = bot.webhook_url
    return payload


def bot_user_json(bot: Bot) -> dict:
    """The bot as a portal user (on Bitrix24 a bot is one), as `users[]` of Bot.get shows it."""
    return {
        "id": bot.id,
        "active": not bot.deleting,
        "name": f"{bot.name} {bot.last_name}".strip(),
        "firstName": bot.name,
        "lastName": bot.last_name,
        "workPosition": bot.work_position,
        "color": bot.color,
        "avatar": "",
        "gender": bot.gender,
        "bot": True,
        "type": "bot",
        "externalAuthId": "bot",
    }


@endpoint(auth="bot")
async def register_bot(call: Call) -> Created:
    """POST /v1/bots: 201 {bot}; a code this key already registered on this portal is 409 with data.botId.

    The 409's data is {botId, bot}: the reference's error table promises data.botId, and its own echo bot
    reads `data.bot.id` from whatever registration answers, so on a restart (the 409) it needs the bot as the
    201 nests it; the example outranks other sources (CONTRACT A §12). Dialect `flat-conflict`: data.botId
    alone, the table's note ("a flat shape on this path, unlike the nested data.bot.id") read strictly.

    Dialect `portal-bot-codes` (CONTRACT B §7.1): a code is the portal's, whichever key registered it; one
    another key holds is 409 without data.botId (that bot is not the caller's to know).
    """
    fields = merged_fields(call.body)
    code = read_code(fields)
    name = read_name(fields)
    props = read_properties(fields)
    check_event_mode(props.get("event_mode", "fetch"), props.get("webhook_url", ""))
    assert call.caller is not None and call.caller.portal is not None
    owner, portal_id = call.caller.key.value, call.caller.portal.id
    mine = call.platform.bots_of(owner_key=owner, portal_id=portal_id)
    existing = next((b for b in mine if b.code == code), None)
    if existing is not None:
        data: dict[str, Any] = {"botId": existing.id}
        if not call.platform.speaks("flat-conflict"):
            data["bot"] = bot_json(call.platform, existing)
        raise ApiError("BOT_ALREADY_EXISTS", data=data, hint="Use data.botId")
    if call.platform.speaks("portal-bot-codes") and any(
        b.code == code for b in call.platform.bots_on_portal(portal_id)
    ):
        raise ApiError("BOT_ALREADY_EXISTS", "A bot of another app or key holds that code on this portal")
    bot = call.platform.add_bot(owner_key=owner, portal_id=portal_id, code=code, name=name, **props)
    if call.platform.speaks("flat-bot-id"):
        # Third-party clients read data.botId from a 201 as the 409 answers it (CONTRACT B §7.1).
        return Created({"bot": bot_json(call.platform, bot), "botId": bot.id})
    return Created({"bot": bot_json(call.platform, bot)})


@endpoint(auth="bot")
async def list_bots(call: Call) -> dict:
    """GET /v1/bots: {bots: [...]}, the bots this key registered on the caller's portal, oldest first.

    Dialects (CONTRACT B §7.1): `items-bot-list` answers {items: [...]}, `bare-bot-list` a bare array of
    {botId, code, …} (the id under the name registration's 409 uses).
    """
    assert call.caller is not None and call.caller.portal is not None
    bots = call.platform.bots_of(owner_key=call.caller.key.value, portal_id=call.caller.portal.id)
    listed = [bot_json(call.platform, bot) for bot in sorted(bots, key=lambda b: b.id)]
    if call.platform.speaks("bare-bot-list"):
        return envelope_ok([{"botId": item.pop("id"), **item} for item in listed])
    if call.platform.speaks("items-bot-list"):
        return {"items": listed}
    return {"bots": listed}


@endpoint(auth="bot")
async def get_revision(call: Call) -> dict:
    """GET /v1/bots/revision: {revision, api}; the revision rises whenever a bot is registered."""
    return {"revision": call.platform.revision, "api": "imbot.v2"}


@endpoint(auth="bot")
async def get_bot(call: Call) -> dict:
    """GET /v1/bots/{bot_id}: {bot: {..., active}, users: [the bot as a portal user]}."""
    assert call.bot is not None
    return {"bot": bot_json(call.platform, call.bot), "users": [bot_user_json(call.bot)]}


@endpoint(auth="bot")
async def update_bot(call: Call) -> dict:
    """PATCH /v1/bots/{bot_id}: change profile and settings; the code is fixed once registered."""
    bot = call.bot
    assert bot is not None
    fields = merged_fields(call.body)
    if "code" in fields and fields["code"] != bot.code:
        raise ApiError("INVALID_REQUEST", "code cannot be changed; register a new bot instead")
    props = read_properties(fields)
    if "name" in fields:
        props["name"] = read_new_name(fields)
    if not props:
        raise ApiError("INVALID_REQUEST", "Nothing to update: send fields such as name or workPosition")
    check_event_mode(props.get("event_mode", bot.event_mode), props.get("webhook_url", bot.webhook_url))
    for attr, value in props.items():
        setattr(bot, attr, value)
    if bot.event_mode == "fetch":
        bot.webhook_url = ""
    return {"bot": bot_json(call.platform, bot)}


@endpoint(auth="bot")
async def delete_bot(call: Call) -> dict:
    """DELETE /v1/bots/{bot_id}: the bot leaves every chat and is gone, its pending events with it."""
    assert call.bot is not None
    call.platform.remove_bot(call.bot)
    return {"result": True, "botId": call.bot.id}


@endpoint(auth="bot")
async def reauth_bot(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/reauth: the platform renews the bot token it keeps (never shown)."""
    assert call.bot is not None
    return {"result": True, "bot": bot_json(call.platform, call.bot)}


@endpoint(auth="bot")
async def resubscribe_bot(call: Call) -> dict:
    """POST /v1/bots/{bot_id}/resubscribe: events flow again in the bot's mode (optionally a new one)."""
    bot = call.bot
    assert bot is not None
    fields = merged_fields(call.body)
    event_mode, webhook_url = bot.event_mode, bot.webhook_url
    if "eventMode" in fields:
        event_mode = choice_value(fields["eventMode"], "eventMode", EVENT_MODES)
    if "webhookUrl" in fields:
        webhook_url = text_value(fields["webhookUrl"], "webhookUrl")
    check_event_mode(event_mode, webhook_url)
    bot.event_mode, bot.webhook_url = event_mode, webhook_url if event_mode == "webhook" else ""
    return {"result": True, "bot": bot_json(call.platform, bot)}


routes = [
    Route("/v1/bots", register_bot, methods=["POST"]),
    Route("/v1/bots", list_bots, methods=["GET"]),
    # before /v1/bots/{bot_id}, which would otherwise take "revision" for a (non-numeric) bot id
    Route("/v1/bots/revision", get_revision, methods=["GET"]),
    Route("/v1/bots/{bot_id}", get_bot, methods=["GET"]),
    Route("/v1/bots/{bot_id}", update_bot, methods=["PATCH"]),
    Route("/v1/bots/{bot_id}", delete_bot, methods=["DELETE"]),
    Route("/v1/bots/{bot_id}/reauth", reauth_bot, methods=["POST"]),
    Route("/v1/bots/{bot_id}/resubscribe", resubscribe_bot, methods=["POST"]),
]
