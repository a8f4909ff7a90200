"""What a portal's bot shows on the platform: its profile (name, language) and its commands, kept in step
with the portal's settings and enabled skills."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection

from django.utils import timezone
from django_q.tasks import async_task

from botcore import conf
from botcore.models import Bot, BotCommand
from botcore.selectors import find_registered_bot, list_enabled_skills, task_stamp_free
from botcore.services.platform import client_for_bot
from botcore.skills.base import CommandSpec
from botcore.vibe import VibeClient
from botcore.vibe.errors import VibeError, VibeNotFoundError
from tenants.errors import TenantsError
from tenants.models import Portal
from tenants.selectors import get_portal_preferences

log = logging.getLogger(__name__)


def signature_of_commands(specs) -> str:
    text = "|".join(sorted(f"{skill}:{spec.command}:{sorted(spec.title.items())}" for skill, spec in specs))
    return hashlib.sha256(text.encode()).hexdigest()


def get_portal_bot_profile(portal: Portal) -> dict[str, str]:
    """The bot's profile on this portal: the deployment's defaults, overridden by the portal's settings."""
    profile = conf.bot_profile()
    prefs = get_portal_preferences(portal)
    return {**profile, "name": prefs.bot_name or profile["name"], "language": prefs.language}


# The portal settings the platform holds of its bot (its name and language); the time zone is the app's own.
PROFILE_SETTINGS = frozenset({"bot_name", "language"})


def apply_portal_profile(portal: Portal, *, changed: Collection[str] | None = None) -> None:
    """Send the portal's bot name and language to the platform (after its admin changed the settings).

    `changed`: the settings that changed (None: any may have); a change of none the platform holds sends
    nothing. A bot not provisioned yet gets them when it is; a refusal is logged and provisioning applies
    them later.
    """
    if changed is not None and not PROFILE_SETTINGS.intersection(changed):
        return
    bot = find_registered_bot(portal)
    if bot is None or bot.vibe_bot_id is None:
        return
    profile = get_portal_bot_profile(portal)
    try:
        client_for_bot(bot).update_bot(bot.vibe_bot_id, name=profile["name"], language=profile["language"])
    except (VibeError, TenantsError) as error:
        log.warning(
            "bot profile not updated portal=%s bot=%s: %s", portal.member_id, bot.pk, error.__class__.__name__
        )
        return
    Bot.objects.filter(pk=bot.pk).update(name=profile["name"])


def list_command_specs(portal: Portal) -> list[tuple[str, CommandSpec]]:
    """The commands of the portal's enabled skills; a name two skills declare goes to the first one routed, in
    any case (command_key), as the platform and routing read it: a second case of it is not registered."""
    specs: dict[str, tuple[str, CommandSpec]] = {}
    for skill, _ in list_enabled_skills(portal):
        for spec in skill.commands:
            specs.setdefault(spec.key, (skill.name, spec))
    return list(specs.values())


def request_commands_sync(portal_id: int) -> bool:
    """Have a task make the portal's bot commands match its skills, unless one is queued and not started
    yet (it will read the skills as they are then); True when a task was queued. An outside probe switched
    a skill on and off 1,110 times in 92 s: a task each, all queued before every portal's poll cycles and
    spending the shared app key's rate, and other portals' bots went silent for minutes."""
    queued_now = (
        Bot.objects.filter(portal_id=portal_id, vibe_bot_id__isnull=False)
        .exclude(status=Bot.Status.RETIRED)
        .filter(task_stamp_free("commands_sync_requested_at"))
        .update(commands_sync_requested_at=timezone.now())
    )
    if queued_now:
        async_task("botcore.tasks.sync_bot_commands", portal_id, task_name=f"commands-{portal_id}")
    return bool(queued_now)


def sync_portal_commands(portal: Portal) -> None:
    """Make a provisioned bot's commands match the portal's enabled skills (after a skill was switched);
    nothing is asked of the platform when they match already (switched on and off again meanwhile)."""
    bot = find_registered_bot(portal)
    if bot is None or bot.vibe_bot_id is None:
        return  # provisioning registers them when the bot comes
    # Started: a switch from now on queues another sync, which reads the skills after this one did.
    Bot.objects.filter(pk=bot.pk).update(commands_sync_requested_at=None)
    specs = list_command_specs(portal)
    signature = signature_of_commands(specs)
    if signature == bot.commands_signature:
        return
    register_commands(bot, client=client_for_bot(bot), vibe_bot_id=bot.vibe_bot_id, specs=specs)
    Bot.objects.filter(pk=bot.pk).update(commands_signature=signature)


def sync_stale_commands() -> int:
    """Queue a command sync for every registered bot whose commands are not its portal's skills' now;
    returns how many. A deployment that adds or removes a skill (BOTCORE_SKILLS) changes them for every
    portal at once, with no switch to set them off; a sync that failed is tried again at the next sweep."""
    bots = (
        Bot.objects.filter(vibe_bot_id__isnull=False)
        .exclude(status=Bot.Status.RETIRED)
        .select_related("portal")
        .only("portal", "commands_signature")
    )
    stale = 0
    for bot in bots.iterator(chunk_size=500):
        if signature_of_commands(list_command_specs(bot.portal)) != bot.commands_signature:
            stale += request_commands_sync(bot.portal_id)
    if stale:
        log.info("commands out of step with the skills: %d portals re-register theirs", stale)
    return stale


def register_commands(bot: Bot, *, client: VibeClient, vibe_bot_id: int, specs) -> None:
    """Make the platform's commands match the skills' (registering is idempotent there too)."""
    wanted = {spec.command: (skill, spec) for skill, spec in specs}
    for skill_name, spec in wanted.values():
        command = client.register_command(
            vibe_bot_id,
            command=spec.command,
            title=dict(spec.title),
            description=dict(spec.description) or None,
            params=dict(spec.params) or None,
            common=spec.common or None,
            hidden=spec.button_only or None,
        )
        if dict(command.title) != dict(spec.title) or dict(command.description) != dict(spec.description):
            # Registering a known name keeps its old texts; another skill may own the name now.
            client.update_command(
                vibe_bot_id, command.id, title=dict(spec.title), description=dict(spec.description) or None
            )
        BotCommand.objects.update_or_create(
            bot=bot, command=spec.command, defaults={"skill_name": skill_name, "vibe_command_id": command.id}
        )
    for stale in BotCommand.objects.filter(bot=bot).exclude(command__in=wanted):
        try:
            client.delete_command(vibe_bot_id, stale.vibe_command_id)
        except VibeNotFoundError:
            pass  # already gone on the platform
        stale.delete()
