"""The botcore error family."""
from __future__ import annotations


class BotcoreError(Exception):
    """Base of everything botcore raises on purpose."""


class SkillConfigError(BotcoreError):
    """A skill that cannot be loaded or configured: bad dotted path, duplicate name, bad options."""


class BotNotProvisionedError(BotcoreError):
    """A bot row that has no platform bot behind it yet."""
