"""The platform's error codes and HTTP statuses: the reference's two tables exactly, plus the few
codes the sandbox needs where the reference is silent (documented in docs/sandbox.md)."""

from __future__ import annotations

# The reference's "Bot platform errors" and "System errors" tables, verbatim.
REFERENCE_ERRORS: dict[str, tuple[int, str]] = {
    "SCOPE_DENIED": (403, "API key lacks the imbot scope"),
    "TOKEN_MISSING": (401, "API key has no configured tokens"),
    "CODE_REQUIRED": (400, "The code parameter was not provided during registration"),
    "NAME_REQUIRED": (400, "The name parameter was not provided during registration"),
    "INVALID_BOT_ID": (400, "botId must be a number"),
    "BOT_NOT_FOUND": (404, "No bot with that ID found — register it via POST /v1/bots"),
    "BOT_ACCESS_DENIED": (403, "The bot belongs to a different API key"),
    "BOT_ALREADY_EXISTS": (409, "A bot with that code is already registered"),
    "REGISTRATION_FAILED": (502, "Bitrix24 did not return a bot ID during registration"),
    "AUTH_REQUIRED": (401, "Missing X-Api-Key header"),
    "INVALID_API_KEY": (401, "Invalid API key"),
    "KEY_REVOKED": (403, "API key revoked"),
    "RATE_LIMIT": (429, "Request limit exceeded"),
    "BITRIX_ERROR": (502, "Error in the Bitrix24 API response"),
    "BITRIX_UNAVAILABLE": (502, "Bitrix24 portal unavailable"),
    "INTERNAL_ERROR": (500, "Internal server error"),
}

# Where the reference is silent: the contract's TOKEN_EXPIRED, and plain request errors.
SANDBOX_ERRORS: dict[str, tuple[int, str]] = {
    "TOKEN_EXPIRED": (401, "The session token has expired; a new one comes only from a user session"),
    "TOKEN_INVALID": (401, "The session token is unknown or belongs to another app"),
    "NOT_FOUND": (404, "No such endpoint"),
    "METHOD_NOT_ALLOWED": (405, "Method not allowed on this endpoint"),
    "INVALID_JSON": (400, "The request body is not valid JSON"),
    "INVALID_REQUEST": (400, "The request is malformed"),
    # the other ids a path carries, each under its own name: dialect `named-id-codes` (sandbox.http.PATH_IDS)
    "INVALID_MESSAGE_ID": (400, "messageId must be a number"),
    "INVALID_COMMAND_ID": (400, "commandId must be a number"),
    "INVALID_FILE_ID": (400, "fileId must be a number"),
    "PAYLOAD_TOO_LARGE": (413, "The request body exceeds 40 MiB"),
    "CROSS_SITE_REQUEST": (403, "The control API takes no requests from another site's pages"),
    "HOST_NOT_ALLOWED": (
        403,
        "The control API answers only a loopback host (localhost, 127.0.0.1, [::1]) or one allowed by"
        " runsandbox --allowed-host or SANDBOX_ALLOWED_HOSTS",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Send the control API JSON (Content-Type: application/json) or no body"),
    "QUEUE_TIMEOUT": (504, "The request waited too long in the queue"),
}

# The official errors page's names for three of the reference's codes (CONTRACT A §2, part B §2), which the
# `official-error-codes` dialect answers instead, with the same statuses.
OFFICIAL_NAMES: dict[str, str] = {
    "RATE_LIMIT": "RATE_LIMITED",
    "AUTH_REQUIRED": "MISSING_API_KEY",
    "TOKEN_MISSING": "INVALID_APP_KEY",
}

ERRORS = {
    **REFERENCE_ERRORS,
    **SANDBOX_ERRORS,
    **{official: REFERENCE_ERRORS[code] for code, official in OFFICIAL_NAMES.items()},
}

# Domain codes raised by state and activity (imbot.v2 names, CONTRACT part B §7): all client mistakes
# except where listed here.
DOMAIN_STATUS: dict[str, int] = {
    "ACCESS_DENIED": 403,
    "MESSAGE_ACCESS_DENIED": 403,
    "FILE_ACCESS_ERROR": 403,
    "CHAT_NOT_FOUND": 404,
    "USER_NOT_FOUND": 404,
    "MESSAGE_NOT_FOUND": 404,
    "COMMAND_NOT_FOUND": 404,
    "FILE_NOT_FOUND": 404,
    "PORTAL_NOT_FOUND": 404,
    "REACTION_ALREADY_SET": 409,
    "PORTAL_EXISTS": 409,
}


def status_of(code: str) -> int:
    if code in ERRORS:
        return ERRORS[code][0]
    return DOMAIN_STATUS.get(code, 400)
