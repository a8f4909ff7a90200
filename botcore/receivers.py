"""tenants' announcements → botcore work: one call each, no logic here (wired in BotcoreConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver
from django_q.tasks import async_task

from botcore.services import app_key_rotation, bot_profile, chats_notice, provisioning, skill_configs
from botcore.services import bots as bot_services
from tenants import signals


@receiver(signals.portal_installed)
def provision_on_install(sender, portal, **kwargs):
    provisioning.request_provisioning(portal)


@receiver(signals.portal_uninstalling)
def unregister_before_uninstall(sender, portal, reason, **kwargs):
    bot_services.retire_portal_bots(portal, unregister=reason != "bot_deleted")


@receiver(signals.portal_uninstalled)
def destroy_skill_secrets_on_uninstall(sender, portal, **kwargs):
    skill_configs.destroy_skill_secrets(portal)


@receiver(signals.portal_uninstalled)
def announce_uninstall_to_skills(sender, portal, reason="", **kwargs):
    async_task(
        "botcore.tasks.announce_portal_uninstalled",
        portal.pk,
        reason,
        task_name=f"uninstalled-{portal.pk}",
    )


@receiver(signals.portal_session_lost)
def pause_on_session_lost(sender, portal, **kwargs):
    bot_services.pause_portal_bots(portal)


@receiver(signals.portal_session_lost)
def say_when_previous_app_key_bot_waits(sender, portal, **kwargs):
    app_key_rotation.note_session_lost(portal)


@receiver(signals.portal_session_restored)
def resume_on_session_restored(sender, portal, **kwargs):
    bot_services.resume_portal_bots(portal)
    provisioning.request_awaited_provisioning(portal)
    chats_notice.wake_chats_notices(portal)


@receiver(signals.portal_session_stored)
def retire_previous_app_key_bot_on_session(sender, portal, **kwargs):
    app_key_rotation.request_retirement(portal)


@receiver(signals.portal_session_stored)
def wake_chats_notice_on_session(sender, portal, **kwargs):
    chats_notice.wake_chats_notices(portal)


@receiver(signals.portal_session_expiring)
def warn_on_session_expiring(
    sender, portal, expires_at, admin_user_ids, open_url, warned_at=None, occasion="", **kwargs
):
    async_task(
        "botcore.tasks.warn_portal_admins",
        portal.pk,
        list(admin_user_ids),
        open_url,
        expires_at.isoformat(),
        warned_at.isoformat() if warned_at is not None else "",
        occasion,
    )


@receiver(signals.portal_credentials_changed)
def move_bot_on_credentials_changed(sender, portal, **kwargs):
    async_task("botcore.tasks.move_portal_bot", portal.pk, task_name=f"move-{portal.pk}")


@receiver(signals.portal_api_key_removing)
def retire_bot_before_key_removed(sender, portal, **kwargs):
    bot_services.retire_bot_of_credential(portal, kind="personal")


@receiver(signals.portal_settings_changed)
def apply_profile_on_settings_change(sender, portal, changed, **kwargs):
    bot_profile.apply_portal_profile(portal, changed=changed)
