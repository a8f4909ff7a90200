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
from botcore.models import SkillConfig, SkillSecret
from botcore.selectors import PortalSkill, open_skill_secrets, resolve_options
from botcore.services.bot_profile import request_commands_sync
from botcore.skills.base import Skill
from botcore.skills.options import OptionsError
from botcore.skills.registry import find_skill
from ops.redaction import note_secrets
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
    changed = options or {}
    given = [str(changed[name]) for name in skill.options_schema.secret_names() if name in changed]
    note_secrets([*given, *(value.strip() for value in given)])  # out of the logs and error report hereafter
    with transaction.atomic():
        config = SkillConfig.objects.select_for_update().filter(portal=portal, skill_name=skill_name).first()
        was_enabled = config.is_enabled if config is not None else skill.enabled_by_default
        secrets = open_skill_secrets(portal.pk, [skill]).get(skill.name)
        current = resolve_options(skill, config.options if config is not None else None, secrets)
        enabled = was_enabled if is_enabled is None else bool(is_enabled)
        if options is not None or (enabled and not was_enabled):
            values = validate_options(skill, options or {}, current=current)
        else:
            values = current
        if config is None:
            config = SkillConfig(portal=portal, skill_name=skill_name)
        config.is_enabled = enabled
        # A secret still in the options in clear (its option a Text before) is moved as if given.
        config.options = _store_secrets(portal, skill, values, changed={**config.options, **changed})
        config.save()
    if enabled != was_enabled:
        _sync_commands_later(portal)
    log.info("skill configured portal=%s skill=%s enabled=%s", portal.member_id, skill_name, enabled)
    return PortalSkill(skill, enabled, values, True)


def _store_secrets(
    portal: Portal, skill: Skill, values: Mapping[str, Any], *, changed: Mapping[str, Any]
) -> dict[str, Any]:
    """Keep the Secret options `changed` names in their encrypted rows (one given empty: its row deleted);
    returns the options without them, as the SkillConfig row holds them. A secret it does not name is left
    as stored: one this process's keys cannot open read as empty, and a save of the other options deleted
    it (as it wrote back, over one set meanwhile, the value read before)."""
    names = skill.options_schema.secret_names()
    for name in names:
        if name not in changed:
            continue
        rows = SkillSecret.objects.filter(portal=portal, skill_name=skill.name, name=name)
        if values.get(name):
            rows.update_or_create(
                portal=portal, skill_name=skill.name, name=name, defaults={"value": values[name]}
            )
        else:
            rows.delete()
    return {name: value for name, value in values.items() if name not in names}


def destroy_skill_secrets(portal: Portal) -> int:
    """At uninstall: other services' tokens the portal's admin gave its skills go with the portal's own, at
    once (a skill's uninstall run finds them empty)."""
    deleted, _ = SkillSecret.objects.filter(portal=portal).delete()
    if deleted:
        log.info("skill secrets destroyed portal=%s count=%s", portal.member_id, deleted)
    return deleted


def _sync_commands_later(portal: Portal) -> None:
    transaction.on_commit(lambda: request_commands_sync(portal.pk))


__all__ = ["OptionsError", "configure_skill", "destroy_skill_secrets", "validate_options"]
