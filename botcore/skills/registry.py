"""Finds the configured skills (BOTCORE_SKILLS, ordered) and fails the boot on a bad one."""
from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from botcore.errors import SkillConfigError
from botcore.skills.base import Skill


def load_skills(paths: list[str] | tuple[str, ...] | None = None) -> list[Skill]:
    """Instantiate the skills at `paths` (default: BOTCORE_SKILLS) in order, checking each declaration."""
    paths = list(settings.BOTCORE_SKILLS if paths is None else paths)
    skills: list[Skill] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise SkillConfigError(f"BOTCORE_SKILLS: cannot import {path!r}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Skill)):
            raise SkillConfigError(f"BOTCORE_SKILLS: {path!r} is not a Skill subclass")
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not name.isidentifier():
            raise SkillConfigError(f"BOTCORE_SKILLS: {path!r} needs a `name` that is an identifier")
        if name in seen:
            raise SkillConfigError(f"BOTCORE_SKILLS: skill name {name!r} is used by both {seen[name]!r} and {path!r}")
        if not getattr(cls, "event_types", None):
            raise SkillConfigError(f"BOTCORE_SKILLS: {path!r} declares no event_types")
        seen[name] = path
        skills.append(cls())
    return skills


@lru_cache(maxsize=1)
def _configured(paths: tuple[str, ...]) -> tuple[Skill, ...]:
    return tuple(load_skills(paths))


def configured_skills() -> tuple[Skill, ...]:
    """The skills of BOTCORE_SKILLS, loaded once per process (per distinct setting)."""
    return _configured(tuple(settings.BOTCORE_SKILLS))


def get_skill(name: str) -> Skill:
    for skill in configured_skills():
        if skill.name == name:
            return skill
    raise SkillConfigError(f"no configured skill named {name!r}")
