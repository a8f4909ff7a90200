"""A skill module declaring a Choice with no choices: refused while it is imported, the check must name this
file's line (not the line of botcore that refused it) as a declaration to fix."""

from botcore.skills.base import Skill
from botcore.skills.options import Choice, OptionsSchema
from botcore.vibe.events import EventType


class SizeSkill(Skill):
    name = "size"
    event_types = frozenset({EventType.MESSAGE_ADD})
    options_schema = OptionsSchema(size=Choice(choices=()))  # the mistake: nothing to choose

    def handle(self, event, ctx) -> None: ...
