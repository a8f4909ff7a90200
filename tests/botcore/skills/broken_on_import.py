"""A skill module with a bug that runs while it is imported (the check must name it, not "fix the path")."""

from botcore.skills.base import Skill

SETTINGS = {"volume": 11}


class LoudSkill(Skill):
    name = "loud"


LEVEL = SETTINGS["level"]  # the bug: a KeyError at import time
