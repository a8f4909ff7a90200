"""Each portal's skill switches and options (SkillConfig rows), validated against the skills' schemas.

A skill without a row is on when it is `enabled_by_default`, with its default options. Options are
stored in their validated form; a skill reads them through `resolve_options`, which falls back to the
default for any stored value its current schema no longer accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from botcore.errors import SkillConfigError
from botcore.models import SkillConfig
from botcore.skills.base import Skill
from botcore.skills.options import OptionsError
from botcore.skills.registry import configured_skills, find_skill
from tenants.models import Portal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PortalSkill:
    """One configured skill as a portal has it."""

    skill: Skill
    is_enabled: bool
    options: dict[str, Any]
    is_customized: bool  # a SkillConfig row exists

    @property
    def name(self) -> str:
        return self.skill.name


def resolve_options(skill: Skill, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    return skill.options_schema.resolve(stored)


def _configs(portal_id: int) -> dict[str, SkillConfig]:
    return {config.skill_name: config for config in SkillConfig.objects.filter(portal_id=portal_id)}


def list_portal_skills(portal: Portal | int) -> list[PortalSkill]:
    """Every configured skill in routing order, with this portal's switch and options."""
    portal_id = portal if isinstance(portal, int) else portal.pk
    configs = _configs(portal_id)
    result = []
    for skill in configured_skills():
        config = configs.get(skill.name)
        enabled = config.is_enabled if config is not None else skill.enabled_by_default
        result.append(
            PortalSkill(
                skill, enabled, resolve_options(skill, config.options if config else None), config is not None
            )
        )
    return result


def list_enabled_skills(portal: Portal | int) -> list[tuple[Skill, dict[str, Any]]]:
    """The portal's enabled skills in routing order, each with its resolved options."""
    return [(entry.skill, entry.options) for entry in list_portal_skills(portal) if entry.is_enabled]


def get_portal_skill(portal: Portal, skill_name: str) -> PortalSkill:
    for entry in list_portal_skills(portal):
        if entry.name == skill_name:
            return entry
    raise SkillConfigError(f"no configured skill named {skill_name!r}")


def validate_options(
    skill: Skill, raw: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Options `raw` merged over `current` (a partial change), checked field by field and then across fields.

    Raises OptionsError whose `errors` name each refused field.
    """
    changed = skill.options_schema.validate(raw, partial=True)
    values = skill.options_schema.validate({**(current or {}), **changed})
    skill.check_options(values)
    return values


def configure_skill(
    portal: Portal,
    *,
    skill_name: str,
    is_enabled: bool | None = None,
    options: Mapping[str, Any] | None = None,
) -> PortalSkill:
    """Turn a skill on or off for `portal` and/or change some of its options.

    Enabling checks the options as they would run (a required field still empty refuses it). When the
    switch changes, the portal's bot commands are re-registered in a task (sync_bot_commands). Raises
    SkillConfigError for an unknown skill and OptionsError for refused options; nothing is stored then.
    """
    skill = find_skill(skill_name)
    if skill is None:
        raise SkillConfigError(f"no configured skill named {skill_name!r}")
    with transaction.atomic():
        config = SkillConfig.objects.select_for_update().filter(portal=portal, skill_name=skill_name).first()
        was_enabled = config.is_enabled if config is not None else skill.enabled_by_default
        current = resolve_options(skill, config.options if config is not None else None)
        enabled = was_enabled if is_enabled is None else bool(is_enabled)
        if options is not None or (enabled and not was_enabled):
            values = validate_options(skill, options or {}, current=current)
        else:
            values = current
        if config is None:
            config = SkillConfig(portal=portal, skill_name=skill_name)
        config.is_enabled = enabled
        config.options = values
        config.save()
    if enabled != was_enabled:
        _sync_commands_later(portal)
    log.info("skill configured portal=%s skill=%s enabled=%s", portal.member_id, skill_name, enabled)
    return PortalSkill(skill, enabled, values, True)


def _sync_commands_later(portal: Portal) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "botcore.skills.tasks.sync_bot_commands", portal.pk, task_name=f"commands-{portal.pk}"
        )
    )


__all__ = [
    "OptionsError", "PortalSkill", "configure_skill", "get_portal_skill", "list_enabled_skills",
    "list_portal_skills", "resolve_options", "validate_options",
]  # fmt: skip
