"""The botcore error family."""
from __future__ import annotations


class BotcoreError(Exception):
    """Base of everything botcore raises on purpose."""


class SkillConfigError(BotcoreError):
    """A skill that cannot be loaded or configured: bad dotted path, duplicate name, bad options.

    `kind` says which fix applies: "import" (the path), "duplicate" (the name) or "declaration" (the class).
    """

    def __init__(self, message: str, *, kind: str = "declaration") -> None:
        super().__init__(message)
        self.kind = kind


class BotNotProvisionedError(BotcoreError):
    """A bot row that has no platform bot behind it yet."""
