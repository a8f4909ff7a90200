"""The client a portal's calls go out with: the app key and a portal user's session, or its personal key.

A platform bot answers only to the credential that registered it, so a bot's calls always go out with
that one (`client_for_bot`); the portal's preferred credential is for registering new bots. For a bot of
the app's key, "that one" includes the key: after an operator rotates VIBE_APP_KEY, a bot registered under
the key before (VIBE_APP_KEY_PREVIOUS) is still called with that key until it is retired
(`app_key_for_bot`, the one place that choice is made).
"""

from __future__ import annotations

import hashlib

from botcore import conf
from botcore.models import Bot
from botcore.vibe import VibeClient
from botcore.vibe.errors import VibeAuthError
from botcore.vibe.identity import refuses_app_key_itself
from botcore.vibe.watch import WatchAuth
from tenants import services as tenant_services
from tenants.errors import SessionTokenError
from tenants.models import Portal
from tenants.selectors import PortalCredential, get_portal_credential, recall_portal_credential


def app_key_digest(app_key: str) -> str:
    """What a bot row keeps of the app key that registered it (Bot.app_key_digest): the first 16 hex digits
    of its SHA-256, enough to tell an app's keys apart and nothing to call with; empty for no key."""
    return hashlib.sha256(app_key.encode()).hexdigest()[:16] if app_key else ""


def app_key_for_digest(registered: str) -> str:
    """The app key the calls of a session bot that recorded `registered` (its Bot.app_key_digest) go out
    with: VIBE_APP_KEY_PREVIOUS while the bot was registered under it, else VIBE_APP_KEY (empty when not set).
    The one place this is chosen: a bot's clients (app_key_for_bot), the poller's and the pacer's budgets.

    A bot that recorded no key was registered before rows kept one, so before the rotation under way: the
    previous key's while one is set. A bot of a key this deployment no longer has gets the current key, which
    the platform refuses for it (BOT_ACCESS_DENIED), and it is registered anew under that key.
    """
    current, previous = conf.vibe_app_key(), conf.vibe_app_key_previous()
    if previous and previous != current and registered in ("", app_key_digest(previous)):
        return previous
    return current


def app_key_for_bot(bot: Bot) -> str:
    """The app key `bot`'s calls carry with a session (app_key_for_digest)."""
    return app_key_for_digest(bot.app_key_digest)


def registered_under_previous_app_key(bot: Bot) -> bool:
    """Whether `bot` is a platform bot of the app's previous key (app_key_for_bot), to be retired."""
    return (
        bot.credential_kind == "session"
        and bot.vibe_bot_id is not None
        and app_key_for_bot(bot) != conf.vibe_app_key()
    )


def auth_for_credential(credential: PortalCredential, *, app_key: str | None = None) -> WatchAuth:
    """The key (and session token) a call on `credential` carries; a session is usable only with one of the
    app's own keys, `app_key` (a bot's: app_key_for_bot), else VIBE_APP_KEY (SessionTokenError without)."""
    if credential.kind == "personal":
        return WatchAuth(api_key=credential.secret)
    app_key = app_key or conf.vibe_app_key()
    if not app_key:
        raise SessionTokenError(
            "VIBE_APP_KEY is not set: portal sessions cannot be used without the app's key"
        )
    return WatchAuth(api_key=app_key, session_token=credential.secret)


def client_for_credential(
    credential: PortalCredential, *, portal: Portal, app_key: str | None = None, **options: object
) -> VibeClient:
    """A client on `credential` of `portal` (its request budget is learned per key and per portal), with
    `app_key` for a session (auth_for_credential)."""
    auth = auth_for_credential(credential, app_key=app_key)
    return VibeClient(
        api_key=auth.api_key,
        session_token=auth.session_token,
        portal=portal.member_id,
        **options,  # type: ignore[arg-type]
    )


def client_for_portal(portal: Portal, *, kind: str | None = None) -> tuple[VibeClient, PortalCredential]:
    """A client on the portal's credential of `kind` (None: the preferred one).

    Raises tenants' SessionTokenError when the portal has no such credential.
    """
    credential = get_portal_credential(portal, kind=kind)
    return client_for_credential(credential, portal=portal), credential


def refuses_app_key(error: BaseException, credential: PortalCredential) -> bool:
    """Whether a refusal of a call on `credential` is the app's own key's, not the credential's secret
    (botcore.vibe.identity.refuses_app_key_itself): a personal key's refusal is always its own."""
    return refuses_app_key_itself(error, with_session=credential.kind == "session")


def report_refused_credential(error: BaseException, credential: PortalCredential, *, portal: Portal) -> bool:
    """If `error` refused `credential`'s own secret (a session expired or revoked, a personal key refused),
    tell tenants, which stops using exactly that secret and puts the portal in "needs a session" when none is
    left (report_credential_refused); True when it did. A refusal of the app's own key (refuses_app_key) and
    any other error: False, nothing reported."""
    if not isinstance(error, VibeAuthError) or refuses_app_key(error, credential):
        return False
    tenant_services.report_credential_refused(portal, credential=credential)
    return True


def get_bot_credential(bot: Bot) -> PortalCredential:
    """The credential that registered `bot` (SessionTokenError when the portal no longer has it), as its
    portal's credentials stood when `bot` was read with its portal (tenants' recall_portal_credential)."""
    return recall_portal_credential(bot.portal, kind=bot.credential_kind)


def auth_for_bot(bot: Bot) -> WatchAuth:
    """The key (and session token) `bot`'s calls carry: the credential and app key that registered it."""
    return auth_for_credential(get_bot_credential(bot), app_key=app_key_for_bot(bot))


def client_for_bot_credential(bot: Bot, credential: PortalCredential, **options: object) -> VibeClient:
    """A client on `credential` (get_bot_credential's, read once by the caller) with `bot`'s app key."""
    return client_for_credential(credential, portal=bot.portal, app_key=app_key_for_bot(bot), **options)


def client_for_bot(bot: Bot, **options: object) -> VibeClient:
    """A client on the credential and app key that registered `bot`."""
    return client_for_bot_credential(bot, get_bot_credential(bot), **options)
