"""The client a portal's calls go out with: the app key and a portal user's session, or its personal key.

A platform bot answers only to the credential that registered it, so a bot's calls always go out with
that one (`client_for_bot`); the portal's preferred credential is for registering new bots.
"""

from __future__ import annotations

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


def auth_for_credential(credential: PortalCredential) -> WatchAuth:
    """The key (and session token) a call on `credential` carries; a session is usable only with the
    app's own key (SessionTokenError without)."""
    if credential.kind == "personal":
        return WatchAuth(api_key=credential.secret)
    if not conf.vibe_app_key():
        raise SessionTokenError(
            "VIBE_APP_KEY is not set: portal sessions cannot be used without the app's key"
        )
    return WatchAuth(api_key=conf.vibe_app_key(), session_token=credential.secret)


def client_for_credential(credential: PortalCredential, *, portal: Portal, **options: object) -> VibeClient:
    """A client on `credential` of `portal` (its request budget is learned per key and per portal)."""
    auth = auth_for_credential(credential)
    if auth.session_token is None:
        return VibeClient(api_key=auth.api_key, portal=portal.member_id, **options)  # type: ignore[arg-type]
    return VibeClient.for_app(session_token=auth.session_token, portal=portal.member_id, **options)


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


def client_for_bot(bot: Bot, **options: object) -> VibeClient:
    """A client on the credential that registered `bot`."""
    return client_for_credential(get_bot_credential(bot), portal=bot.portal, **options)
