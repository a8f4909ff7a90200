"""The install handshakes: a gateway visit's headers or an OAuth code, turned into an identity the platform
vouches for (GET /v1/me) before `services.store_session_grant` stores it.

Neither the headers nor the token exchange is taken at its word: the headers are only a claim, and a code
exchange must agree with what /v1/me says of the token it returned, or the arrival is refused.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.crypto import holds_secret
from tenants.errors import InstallationError
from tenants.identity import get_identity_backend
from tenants.models import Portal, SessionGrant
from tenants.oauth_exchanges import exchange_once
from tenants.services import store_session_grant
from tenants.shapes import check_session_token, is_user_id_shaped

log = logging.getLogger(__name__)

CODE_REFUSED = _(
    "The platform did not accept this sign-in: it took too long, or was used already. Open your sign-in link"
    " again, or open the app from your Bitrix24 portal."
)


def grant_holding(*, session_token: str, claimed_portal_id: str, claimed_user_id: str) -> SessionGrant | None:
    """The live grant of the claimed portal and user that already holds this very token, on an installed and
    active portal; None when the platform must be asked.

    The token was confirmed with GET /v1/me when the grant stored it, and the browser that brought it was
    given a session cookie that is trusted, unasked, until the grant ends. A browser that keeps no cookie (an
    app frame where third-party cookies are blocked) brings the same token on every page: asking each time
    spent the app key's budget, which every portal's bots share, on what the grant already knows. A token
    the app saw refused or expire has no live grant; one the platform confirmed more than
    TENANTS_ROLE_RECHECK_SECONDS ago is asked about again (the platform may have ended it since); an admin's
    role is re-checked by tenants.roles as for the cookie."""
    if not is_user_id_shaped(claimed_user_id):
        return None
    now = timezone.now()
    grant: SessionGrant | None = (
        SessionGrant.objects.select_related("portal")
        .filter(
            portal__vibe_portal_id=claimed_portal_id,
            portal__status=Portal.Status.ACTIVE,
            bitrix_user_id=int(claimed_user_id),
            invalidated_at__isnull=True,
            expires_at__gt=now,
        )
        .first()
    )
    if grant is None or not holds_secret(grant.token.raw, session_token):
        return None
    # Only while the platform's last word on the token is recent: where /v1/me names no end, the grant
    # assumes a day, and a token the platform had refused since opened new sessions unasked (a probe).
    return grant if grant.confirmed_lately(at=now) else None


def accept_gateway_visit(*, session_token: str, claimed_portal_id: str, claimed_user_id: str) -> Portal:
    """A request arrived through the gateway with X-Vibe-* headers: verify with GET /v1/me, then store.

    The headers are only a claim: the token must belong, per the platform, to exactly that portal and
    user, or the visit is refused as forged.
    """
    check_session_token(session_token)
    identity = get_identity_backend().verify_session(session_token)
    if (
        identity.vibe_portal_id != claimed_portal_id
        or str(identity.bitrix_user_id) != str(claimed_user_id).strip()
    ):
        log.warning(
            "forged gateway headers refused: claimed portal=%s user=%s, token belongs to portal=%s user=%s",
            claimed_portal_id[:64],
            str(claimed_user_id)[:32],
            identity.vibe_portal_id,
            identity.bitrix_user_id,
        )
        raise InstallationError("gateway headers do not match the token's owner")
    return store_session_grant(
        identity=identity, session_token=session_token, source=SessionGrant.Source.GATEWAY
    )


def accept_oauth_code(*, code: str, state: str, redirect_uri: str, invited_portal: str = "") -> SessionGrant:
    """Exchange an OAuth code, confirm the token with GET /v1/me, then store it; returns the user's grant.

    `state`: the callback's, redeemed already; the same callback tried again (after an outage, or twice at
    once) reuses its exchange (oauth_exchanges), and once signed in the grant it stored (grant_holding).
    `invited_portal` (a member id): the invitation named the portal, and a sign-in to another is refused
    before anything is stored.
    """
    backend = get_identity_backend()
    try:
        exchanged = exchange_once(backend, code=code, state=state, redirect_uri=redirect_uri)
    except InstallationError as error:
        if error.public_message != InstallationError.public_message:
            raise  # the backend said something more precise (not configured, platform down)
        # The platform refused the code itself (used, too old, not ours): the person may sign in again.
        raise InstallationError(str(error), public_message=CODE_REFUSED) from None
    check_session_token(exchanged.session_token)  # as the platform's exchange gave it: before it is used
    known = grant_holding(
        session_token=exchanged.session_token,
        claimed_portal_id=exchanged.identity.vibe_portal_id,
        claimed_user_id=str(exchanged.identity.bitrix_user_id),
    )
    if known is not None and (not invited_portal or known.portal.member_id == invited_portal):
        # The same callback again (a double click, a browser sending its cookie of before the answer): this
        # sign-in stored its grant already, and the platform's word on the token is recent. Each one asked
        # GET /v1/me on the app key, for as long as the state lived.
        return known
    identity = backend.verify_session(exchanged.session_token)
    if invited_portal and identity.member_id != invited_portal:
        log.warning(
            "oauth sign-in refused: the invitation was for portal=%s, the token is portal=%s",
            invited_portal[:64],
            identity.member_id,
        )
        raise InstallationError(
            "the invitation was for another portal",
            public_message=_("This sign-in link was made for another portal. Ask for one for yours."),
        )
    if (
        identity.member_id != exchanged.identity.member_id
        or identity.bitrix_user_id != exchanged.identity.bitrix_user_id
    ):
        log.warning(
            "oauth token refused: /v1/me disagrees with the token exchange portal=%s", identity.member_id
        )
        raise InstallationError("the exchanged token belongs to someone else than the exchange said")
    if identity.expires_at is None and exchanged.identity.expires_at is not None:
        # The token exchange said when it ends where /v1/me did not.
        identity = replace(identity, expires_at=exchanged.identity.expires_at)
    portal = store_session_grant(
        identity=identity, session_token=exchanged.session_token, source=SessionGrant.Source.OAUTH
    )
    return portal.grants.get(bitrix_user_id=identity.bitrix_user_id)
