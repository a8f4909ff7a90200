"""Django system checks of botcore's settings (every manage.py command runs them: qcluster, runpacer…).

Each BOTCORE_SKILLS item that cannot be loaded is an error naming the item and the fix; a lease, task timeout
and cycle deadline out of order is an error before any cycle can overlap another.
"""

from __future__ import annotations

from django.core import checks

from botcore import conf
from botcore.errors import SkillConfigError
from botcore.skills.registry import find_skill_problems

HINTS = {
    "import": (
        "Fix the dotted path (module.ClassName) in BOTCORE_SKILLS, in the settings or the BOTCORE_SKILLS "
        "environment variable, or install the package that provides it (pip install -e <path>)."
    ),
    "duplicate": "Keep one of them in BOTCORE_SKILLS, or give one skill another `name`.",
    "declaration": (
        "Fix the skill class's declarations; docs/skills.md (section 3, the reference) says what each takes."
    ),
}


@checks.register()
def check_skills(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Load BOTCORE_SKILLS as the bot does; report every item it refuses instead of a traceback at boot."""
    return [_skill_error(problem) for problem in find_skill_problems()]


def _skill_error(problem: SkillConfigError) -> checks.CheckMessage:
    return checks.Error(
        str(problem).removeprefix("BOTCORE_SKILLS: "),  # the check's object already names the setting
        hint=HINTS[problem.kind],
        obj="settings.BOTCORE_SKILLS",
        id=f"botcore.E00{1 + list(HINTS).index(problem.kind)}",
    )


@checks.register(checks.Tags.compatibility)
def check_cycle_timing(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Two cycles never share a bot only while lease > task timeout > cycle deadline."""
    return [
        checks.Error(problem, hint="Raise BOTCORE_LEASE_SECONDS or lower VIBE_Q_TIMEOUT.", id="botcore.E010")
        for problem in conf.check_cycle_timing()
    ]
