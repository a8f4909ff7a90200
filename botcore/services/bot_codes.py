"""Which code the portal's bot is registered under on the platform: the one place that decides.

Our bot's code is BOTCORE_BOT_CODE on every portal (the row's `code`). A platform may keep codes per portal
across keys (CONTRACT B §7.1; sandbox dialect `portal-bot-codes`): a 409 BOT_ALREADY_EXISTS without
data.botId says a bot outside our key holds the code, another vendor's app, or our own old key's bot that a
move (a rotated app key, a personal key given or taken back) registers the new bot beside before it drains
and retires the old one. The bot is then registered under a derived code, `<code>_2`, `_3`, … up to
MAX_CODES codes in all, and the row keeps the one the platform took (`platform_code`).

The codes are tried in a fixed order: a retry after a lost answer, or a provisioning run again after a crash,
meets the bot an earlier attempt made as a 409 naming it (our key's), which is adopted, so no second bot is
made. Where the registration is to adopt the platform bot the row has (a re-provision: the caller passes its
`current` code, services/bots.py _keeps_its_platform_bot), that code is tried first, so the bot keeps its
code and its chats even once the code it stands for is freed: nothing moves a working bot for a code people
never see. Where a new platform bot is made all the same (a move, the app installed again, a bot the
platform forgot), `<code>` comes first, and a freed code is taken back then. Not covered: a run that dies
between the platform's answer and the row's update, while a code before the one it took is freed before the
next run; that run takes the freed code, and the bot the first made is left unpolled.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from botcore.errors import BotCodesTakenError
from botcore.vibe import VibeClient
from botcore.vibe.errors import VibeBotAlreadyExistsError
from botcore.vibe.models import Bot as PlatformBot

log = logging.getLogger(__name__)

MAX_CODES = 10  # the code and nine derived ones: more would be another app squatting, not a clash
MAX_CODE_LENGTH = 64  # the platform's (and the row's) limit
# The reference only says a code is required (CODE_REQUIRED) and shows snake_case ones (my_helper_bot); the
# platform we are tested against takes 1-64 of these. A code of only these is one every reading takes.
CODE_CHARACTERS = re.compile(r"[A-Za-z0-9_.\-]")
# BOTCORE_BOT_CODE leaves room for its longest derived code's suffix (`_10`): cut to fit, a derived code would
# no longer start with the code it stands for, and the admin's *code on the platform* would name another.
MAX_BOT_CODE_LENGTH = MAX_CODE_LENGTH - len(f"_{MAX_CODES}")


def find_code_problem(code: str) -> str | None:
    """Why `code` cannot be the portal's bot's code at all (None: it can): empty (the reference's
    CODE_REQUIRED) or longer than the row holds. Checked at every process's start (botcore.checks, E014)."""
    if not code.strip():
        return "is empty: the platform requires a code (CODE_REQUIRED)"
    if len(code) > MAX_CODE_LENGTH:
        return f"is {len(code)} characters: a bot's code is kept in at most {MAX_CODE_LENGTH}"
    return None


def find_code_doubt(code: str) -> str | None:
    """Why the platform might refuse `code`, or one of its derived codes, though the reference does not say
    it would (None: every reading takes them all): characters outside those the reference's own codes and
    the sandbox use, or no room for `_10` after it (a derived code cut to fit no longer starts with the code
    it stands for, and the admin's *code on the platform* would name another). A warning (W014), not an
    error: the platform's own rule is unknown, and a code it takes must not stop a release."""
    refused = sorted({c for c in code if not CODE_CHARACTERS.fullmatch(c)})
    if refused:
        shown = ", ".join(repr(c) for c in refused)
        return f"holds {shown}: a code of Latin letters, digits, '_', '-' and '.' is one every reading takes"
    if len(code) > MAX_BOT_CODE_LENGTH:
        return (
            f"is {len(code)} characters: its derived codes (`<code>_2` … `<code>_{MAX_CODES}`, where another"
            f" app holds the code) need {MAX_CODE_LENGTH - MAX_BOT_CODE_LENGTH} more within"
            f" {MAX_CODE_LENGTH}: at most {MAX_BOT_CODE_LENGTH}"
        )
    return None


def derived_code(code: str, n: int) -> str:
    """The `n`-th code of `code`'s family (n >= 2): `code_n`, `code` cut to keep within 64 characters."""
    suffix = f"_{n}"
    return code[: MAX_CODE_LENGTH - len(suffix)] + suffix


def candidate_codes(code: str, *, current: str = "") -> list[str]:
    """The codes the bot of `code` may be registered under, in the order they are tried: `current` (the
    row's platform code, when it is of the family), then `code`, then `code_2` … `code_{MAX_CODES}`."""
    family = [code] + [derived_code(code, n) for n in range(2, MAX_CODES + 1)]
    first = [current] if current in family else []
    return list(dict.fromkeys(first + family))


def register_portal_bot(
    client: VibeClient, *, code: str, current: str = "", **profile: Any
) -> tuple[PlatformBot, str]:
    """Register (or adopt) the portal's bot under the first code of `candidate_codes` not held outside our
    key: the platform bot, and the code it is registered under. Raises BotCodesTakenError when every one is
    held, and whatever else the platform answers."""
    held: list[str] = []
    for candidate in candidate_codes(code, current=current):
        try:
            bot = client.register_bot(code=candidate, adopt_existing=True, **profile)
        except VibeBotAlreadyExistsError as error:
            if error.existing_bot_id is not None:
                raise  # adopt_existing takes every 409 that names a bot: none is left here
            held.append(candidate)
            continue
        if held:
            # INFO: the bot works; a move on such a platform says it each time (the old bot held the code).
            log.info(
                "bot code held on the platform by a bot outside this key (%s): registered as %s instead",
                ", ".join(held), candidate,
            )  # fmt: skip
        return bot, candidate
    raise BotCodesTakenError(
        f"every code the bot may take ({held[0]} to {held[-1]}) is held on the portal by a bot of another app"
        " or key: have the portal's admin delete a stale one in Bitrix24, then re-provision the bot"
    )
