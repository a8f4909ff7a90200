"""The quality gates' tools are pinned once: the pre-commit hooks run the versions of pyproject's `test`
extra."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_pre_commit_pins_the_tools_of_the_test_extra() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hook_pins = {
        dependency
        for repo in config["repos"]
        for hook in repo["hooks"]
        for dependency in hook.get("additional_dependencies", [])
    }
    assert hook_pins, "the pre-commit hooks pin no tool"
    assert hook_pins <= set(pins), sorted(hook_pins - set(pins))
