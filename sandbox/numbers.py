"""How the platform reads a number written as text (a path id, a query value, an id sent as a string).

Only ASCII digits count. str.isdigit() alone also takes "²", which int() then refuses (an INTERNAL_ERROR
where the reference answers 400 INVALID_BOT_ID), and "١٢" (Arabic-Indic digits), which int() reads as 12
and so names a bot, user or message the caller never wrote.
"""

from __future__ import annotations


def is_decimal(text: str) -> bool:
    """Whether `text` is one or more ASCII digits, nothing else (no sign, space or other script)."""
    return text.isascii() and text.isdigit()
