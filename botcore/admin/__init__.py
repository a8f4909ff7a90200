"""The operators' Django admin of botcore: bots and the event log (bots.py), skills' rows (skills.py)."""

from botcore.admin import bots, skills

__all__ = ["bots", "skills"]
