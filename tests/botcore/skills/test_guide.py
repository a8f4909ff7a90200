"""docs/skills.md stays true: its example skill and tests run as written, and the skill turns on for one
portal."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "skills.md"
BLOCK = re.compile(r"```python\n# file: (?P<path>\S+)\n(?P<code>.*?)```", re.DOTALL)


@pytest.fixture
def guide_files(tmp_path, monkeypatch):
    blocks = {m["path"]: m["code"] for m in BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))}
    assert set(blocks) == {"vibe_dice/skill.py", "tests/test_dice.py"}
    for path, code in blocks.items():
        target = tmp_path / "guide" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code, encoding="utf-8")
    # The guide's folder as it says to make it: no vibe_dice/__init__.py (§1.1: none is needed). tests/ is
    # the project's, which has one.
    (tmp_path / "guide" / "tests" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "guide"))
    for name in [m for m in sys.modules if m.startswith(("vibe_dice", "tests.test_dice"))]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path / "guide"


def test_the_guides_tests_pass_on_the_guides_skill(guide_files):
    spec = importlib.util.spec_from_file_location("guide_test_dice", guide_files / "tests" / "test_dice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert len(tests) == 4
    for test in tests:
        test()


@pytest.mark.django_db
def test_the_guides_skill_boots_and_turns_on_for_one_portal_only(guide_files, settings):
    from botcore.selectors import list_enabled_skills
    from botcore.services.skill_configs import configure_skill
    from tenants.models import Portal

    settings.BOTCORE_SKILLS = [
        "botcore.skills.builtin.help.HelpSkill",
        "vibe_dice.skill.DiceSkill",
        "botcore.skills.builtin.echo.EchoSkill",
    ]
    acme = Portal.objects.create(member_id="acme", vibe_portal_id="vp-acme", domain="acme.bitrix24.com")
    globex = Portal.objects.create(
        member_id="globex", vibe_portal_id="vp-globex", domain="globex.bitrix24.com"
    )
    configure_skill(acme, skill_name="dice", is_enabled=True, options={"max_dice": 10})
    assert [s.name for s, _ in list_enabled_skills(acme)] == ["help", "dice", "echo"]
    assert [s.name for s, _ in list_enabled_skills(globex)] == ["help", "echo"]
    options = {skill.name: values for skill, values in list_enabled_skills(acme)}
    assert options["dice"] == {"max_dice": 10}
