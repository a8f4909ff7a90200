"""Changes to a portal's skill switches and options (SkillConfig rows), validated against the skills' schemas.

Options are stored in their validated form; the reads (botcore/selectors.py) fall back to the default for
any stored value a skill's current schema no longer accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from botcore.errors import SkillConfigError
from botcore.models import SkillConfig
from botcore.selectors import PortalSkill, resolve_options
from botcore.services.bot_profile import request_commands_sync
from botcore.skills.base import Skill
from botcore.skills.options import OptionsError
from botcore.skills.registry import find_skill
from tenants.models import Portal

log = logging.getLogger(__name__)


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
    transaction.on_commit(lambda: request_commands_sync(portal.pk))


__all__ = ["OptionsError", "configure_skill", "validate_options"]
