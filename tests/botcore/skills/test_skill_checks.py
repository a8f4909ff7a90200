"""A BOTCORE_SKILLS that cannot be loaded is a Django system-check error naming the setting and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

ROOT = Path(__file__).resolve().parents[3]
ECHO = "botcore.skills.builtin.echo.EchoSkill"


class NoEventTypes:
    """Not even a Skill: a bad declaration."""


@pytest.mark.parametrize(
    "skills, said, fix",
    [
        ([ECHO, "vibe_nowhere.skill.Nope"], "cannot import 'vibe_nowhere.skill.Nope'", "Fix the dotted path"),
        ([ECHO, ECHO], "skill name 'echo' is used by both", "Keep one of them"),
        ([f"{__name__}.NoEventTypes"], "is not a Skill subclass", "Fix the skill class's declarations"),
        (
            ["tests.botcore.skills.broken_on_import.LoudSkill"],
            "raised KeyError: 'level' (at tests/botcore/skills/broken_on_import.py:12)",
            "The module is there but fails while it is imported",
        ),
    ],
    ids=["bad-path", "duplicate-name", "bad-declaration", "module-raises"],
)
def test_a_bad_skill_setting_is_a_check_error_with_the_fix(settings, skills, said, fix):
    settings.BOTCORE_SKILLS = skills
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    message = str(refused.value)
    assert "settings.BOTCORE_SKILLS" in message and said in message and f"HINT: {fix}" in message


def test_the_check_names_every_bad_item_not_only_the_first(settings):
    settings.BOTCORE_SKILLS = [
        "vibe_nowhere.skill.Nope",
        ECHO,
        f"{__name__}.NoEventTypes",
        ECHO,
        "vibe_nowhere.other.Gone",
    ]
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    message = str(refused.value)
    for said in (
        "cannot import 'vibe_nowhere.skill.Nope'",
        "NoEventTypes' is not a Skill subclass",
        "skill name 'echo' is used by both",
        "cannot import 'vibe_nowhere.other.Gone'",
    ):
        assert said in message
    assert "4 issues" in message


@pytest.mark.slow
def test_manage_py_prints_the_check_not_a_traceback():
    env = {**os.environ, "BOTCORE_SKILLS": f"{ECHO} vibe_nowhere.skill.Nope"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "BOTCORE_SKILLS" in done.stderr and "HINT: Fix the dotted path" in done.stderr
    assert len(done.stderr.strip().splitlines()) < 10
