"""The named alternative readings ("dialects") of the platform the sandbox can be started with.

Where the platform's behaviour is unknown and public sources offer more than one reading, the sandbox's
default is the reading CONTRACT part A chose and every other reading is a dialect (part A §13). A dialect
changes only what its description says; several may be spoken at once. docs/sandbox.md lists each one
with the source that suggests it.
"""

from __future__ import annotations

from collections.abc import Iterable

DIALECTS: dict[str, str] = {
    "command-slash": 'command events carry the name with its slash ("/ping"), as imbot.v2 shows it',
    "command-message": "a typed command also raises a MESSAGEADD of its message, before its COMMANDADD",
    "flat-bot-id": "registration also answers the new bot's id flat, as data.botId",
    "flat-conflict": "registration's 409 BOT_ALREADY_EXISTS answers data.botId alone, without data.bot",
    "bare-bot-list": "GET /v1/bots answers data as a bare array of {botId, code, …}",
    "items-bot-list": "GET /v1/bots answers data.items[] instead of data.bots[]",
    "untitled-commands": "a visible command registered without a title is accepted",
    "plain-command-register": "registering a new command answers 200 (201 is a bot's registration alone)",
    "me-no-expiry": "GET /v1/me answers no session.expiresAt",
    "epoch-expiry": "GET /v1/me answers session.expiresAt as Unix seconds, a number (PHP's time())",
    "zoned-dates": "/v1/me's session end, events' and messages' dates as Java's ZonedDateTime with [zone id]",
    "no-long-poll": "GET /v1/bots/:botId/events ignores the timeout parameter and answers at once",
    "held-polls": "GET /v1/bots/:botId/events holds an empty answer 25 s unless a timeout is given",
    "always-held-polls": "GET /v1/bots/:botId/events holds an empty answer 25 s whatever its timeout (0 too)",
    "no-next-offset": "GET /v1/bots/:botId/events answers no nextOffset (next: the last event's id + 1)",
    "last-id-next-offset": "GET /v1/bots/:botId/events answers nextOffset as the last event's id, not id + 1",
    "keyed-events": "GET /v1/bots/:botId/events answers events as an object keyed by event id",
    "null-events": "GET /v1/bots/:botId/events answers events: null when there are none",
    "own-messages": "a bot's own posts come back to it as ONIMBOTV2MESSAGEADD, its author without a bot flag",
    "no-event-bot": "events carry no data.bot (the poll's path names the bot)",
    "capped-user-pages": "GET /v1/users answers at most 50 users a page, whatever limit asks (meta.hasMore)",
    "key-code-for-session": "an unknown or expired session token is refused as 401 INVALID_API_KEY",
    "newest-first": "GET /v1/bots/:botId/events lists the events of a batch newest first",
    "empty-no-content": "GET /v1/bots/:botId/events answers 204 No Content when no event waits",
    "unstored-offset": "GET /v1/bots/:botId/events answers storedOffset null until a poll names an offset",
    "portal-rate-limit": "the request rate counts per key and portal instead of per key",
    "no-retry-after": "429 answers carry neither error.retryAfter nor a Retry-After header",
    "retry-after-ms": "error.retryAfter counts milliseconds (the Retry-After header stays whole seconds)",
    "no-template-dedupe": "a send repeating a templateId posts again, and its uuidMap does not name it",
    "portal-bot-codes": "bot codes are the portal's: another key's code is 409 without data.botId",
    "auth-in-events": "events carry imbot webhooks' auth block; a message's files, a URL with a token",
    "answer-message-id": "a command answer names the message it posted: {result, id, messageId, chatId}",
    "official-error-codes": "RATE_LIMITED, MISSING_API_KEY, INVALID_APP_KEY: the errors page's names",
    "path-before-key": "an unknown /v1 path answers 404 NOT_FOUND before its X-Api-Key is checked",
    "router-errors": "an unknown /v1 path or method answers its router's own JSON 404/405, not the envelope",
    "body-first": "a call's body is read (INVALID_JSON…) before its path's ids are checked (INVALID_BOT_ID…)",
    "unchecked-path-ids": "a message, command or file id in a path that is not a number finds nothing (404)",
    "named-id-codes": "a path's non-numeric message, command or file id is 400 INVALID_MESSAGE_ID…",
    "wrapped-bitrix-errors": "imbot.v2 refusals (CHAT_NOT_FOUND…) answer 502 BITRIX_ERROR, code in message",
    "gzip-answers": "answers are gzipped where the call accepts gzip (a platform behind a compressing proxy)",
}

# Readings that answer the same question differently cannot be spoken together.
_EXCLUSIVE = (
    frozenset({"bare-bot-list", "items-bot-list"}),
    frozenset({"no-next-offset", "last-id-next-offset"}),
    frozenset({"no-long-poll", "held-polls", "always-held-polls"}),
    frozenset({"no-retry-after", "retry-after-ms"}),
    frozenset({"me-no-expiry", "epoch-expiry"}),
    frozenset({"unchecked-path-ids", "named-id-codes"}),
)


def parse_dialects(raw: str | Iterable[str] | None) -> frozenset[str]:
    """Dialect names from "a,b" or a list of such strings; ValueError names an unknown one."""
    if raw is None:
        return frozenset()
    parts = [raw] if isinstance(raw, str) else list(raw)
    names: set[str] = set()
    for part in parts:
        if not isinstance(part, str):
            raise ValueError("dialect names must be strings")
        names.update(name.strip() for name in part.split(",") if name.strip())
    unknown = sorted(names - DIALECTS.keys())
    if unknown:
        raise ValueError(f"unknown dialect(s) {', '.join(unknown)}; known: {', '.join(DIALECTS)}")
    for group in _EXCLUSIVE:
        if len(names & group) > 1:
            raise ValueError(f"dialects {' and '.join(sorted(names & group))} cannot be spoken together")
    return frozenset(names)
