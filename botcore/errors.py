"""The botcore error family, and is_transient(): whether any failure is worth trying again later."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError


class BotcoreError(Exception):
    """Base of everything botcore raises on purpose."""


class SkillConfigError(BotcoreError):
    """A skill that cannot be loaded or configured: bad dotted path, duplicate name, bad options.

    `kind` says which fix applies: "import" (the path), "duplicate" (the name), "declaration" (the class),
    "broken" (the module imports but raises) or "entry_point" (an entry point named unlike its skill).
    """

    def __init__(self, message: str, *, kind: str = "declaration") -> None:
        super().__init__(message)
        self.kind = kind


class BotNotProvisionedError(BotcoreError):
    """A bot row that has no platform bot behind it yet."""


class ActionInDoubtError(BotcoreError):
    """A once-only action (a new chat, an upload) an earlier attempt at the same work may have done: its
    call failed after the platform may have acted, and nothing tells a repeat from the first. Final.
    `write` says which ("chat" or "upload"): the person is told what to look for (notices.py)."""

    def __init__(self, message: str, *, write: str) -> None:
        super().__init__(message)
        self.write = write


class AppKeyRefusedError(BotcoreError):
    """The platform refused the app's own key (VIBE_APP_KEY), not the portal's credential: every portal meets
    it alike until an operator fixes the key, so the work waits and is tried again (as a poll backs off)
    instead of breaking its bot."""

    is_transient = True


class BotCodesTakenError(BotcoreError):
    """Every code the portal's bot may be registered under (botcore/services/bot_codes.py) is held on the
    portal by a bot outside our key: another app's, or a key of ours that could not unregister it. Final:
    only its holder frees one (the portal's admin deleting the stale bot in Bitrix24), then a re-provision."""


def is_transient(error: BaseException) -> bool:
    """Whether the work that met `error` may succeed if tried again later.

    The error decides (`is_transient` on the VibeError family and on tenants' SessionTokenError); a lost
    or locked database connection passes too. Everything else (a skill's bug, a refused request) is final.
    """
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return bool(getattr(error, "is_transient", False))


def refused_for_good(error: BaseException) -> bool:
    """Whether work that met `error` is refused for good, for an operator to act on (a bot broken, a move
    given up): not transient, and not an answer from something in the way (a router's 404 for a wrong base
    URL, a proxy's page: VibeError.answered_in_the_way), which every portal meets alike until the deployment
    is fixed, and is tried again after a backoff as a passing failure is."""
    return not is_transient(error) and not getattr(error, "answered_in_the_way", False)
