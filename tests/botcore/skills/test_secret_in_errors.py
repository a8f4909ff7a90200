"""A skill's Secret option quoted by its own failure (a service's error naming the URL it was given, token and
all) is not written where operators read: the event log's error column, a run's, the log lines."""

from __future__ import annotations

import logging
from io import StringIO

import pytest

from botcore.models import EventLogEntry
from botcore.services.skill_configs import configure_skill
from botcore.skills.base import Skill
from botcore.skills.options import OptionsSchema, Secret
from botcore.vibe.events import EventType
from ops.logs import RedactingTextFormatter

TOKEN = "jira-pat-7f3a9c1e5b"


class LeakySkill(Skill):
    """Calls another service with its token in the URL; the service's error quotes that URL."""

    name = "leaky"
    event_types = frozenset({EventType.MESSAGE_ADD})
    options_schema = OptionsSchema(token=Secret(label={"en": "API token"}))

    def handle(self, event, ctx) -> None:
        raise RuntimeError(
            f"401 Unauthorized for url 'https://tracker.example/api?token={ctx.options['token']}'"
        )


@pytest.fixture
def skill_paths():
    return [f"{__name__}.LeakySkill"]


@pytest.mark.slow
def test_a_failure_quoting_the_skills_secret_is_stored_and_logged_without_it(world, task_queue):
    configure_skill(world.bot.portal, skill_name="leaky", is_enabled=True, options={"token": TOKEN})
    world.say("hello")
    lines = StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(RedactingTextFormatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)  # the lines as the project's formatter writes them, when logged
    try:
        world.poll()
    finally:
        logging.getLogger().removeHandler(handler)
    logged = lines.getvalue()
    entry = EventLogEntry.objects.get(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == "failed" and "401 Unauthorized for url" in entry.error
    assert TOKEN not in entry.error
    assert "401 Unauthorized for url" in logged and TOKEN not in logged
