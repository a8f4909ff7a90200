"""Messages the backend itself sends to a portal's people (not a skill's): the session expiry reminder."""

from __future__ import annotations

import logging

from django.utils.translation import gettext

from botcore.selectors import find_active_bot
from botcore.services.platform import client_for_bot
from botcore.skills.i18n import in_language
from botcore.vibe import bbcode as bb
from botcore.vibe.errors import VibeError
from tenants.models import Portal
from tenants.selectors import get_portal_preferences

log = logging.getLogger(__name__)


def send_expiry_warning(portal: Portal, *, admin_user_ids: list[int], open_url: str, expires_at: str) -> int:
    bot = find_active_bot(portal)
    if bot is None or bot.vibe_bot_id is None:
        return 0
    # No event names the admins' own languages here: the portal's setting is the fallback it is for.
    language = get_portal_preferences(portal).language
    with in_language(language):
        link = bb.url(open_url, gettext("open the app"))
        text = gettext(
            "The bot's access to this portal expires soon ({when} UTC)."
            " Please {link} to keep the bot running."
        ).format(when=expires_at[:16].replace("T", " "), link=link)
    client = client_for_bot(bot)  # the credential the bot belongs to, as for every call of the bot
    sent = 0
    for user_id in sorted(set(admin_user_ids)):
        try:
            client.send_message(bot.vibe_bot_id, dialog_id=str(user_id), text=text)
            sent += 1
        except VibeError as error:
            log.warning("expiry reminder not sent portal=%s user=%s: %s", portal.member_id, user_id, error)
    return sent
