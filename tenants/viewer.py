"""Who is looking at the app: the verified portal user, re-checked against their live grant on every
request."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from ops.logs import bind_log_context
from tenants.models import Portal, SessionGrant
from tenants.roles import confirm_admin_role

SESSION_KEY = "tenants_viewer"


@dataclass(frozen=True)
class Viewer:
    member_id: str
    bitrix_user_id: int
    name: str
    is_admin: bool
    token_digest: (
        str  # an HMAC of the last verified token: tells a new token from the known one, reveals nothing
    )
    # The grant this browser session stands on; a grant deleted (uninstall) and made again is another row.
    grant_id: int = 0
    # The portal's domain as the platform named it when this browser signed in (the gateway's token or the
    # OAuth code, checked with GET /v1/me): where the viewer opened the app, so the one portal page that may
    # frame theirs (tenants.framing). Never a header's word: a page of any other portal may not frame them.
    entry_domain: str = ""
    _portal: Portal | None = field(default=None, compare=False, repr=False)

    def portal(self) -> Portal | None:
        return self._portal


def token_digest(token: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), token.encode(), hashlib.sha256).hexdigest()


def remember_viewer(request: HttpRequest, grant: SessionGrant, *, token: str | None) -> None:
    """From now on, the verified user behind `grant` is who looks at the app in this browser, while it
    lives."""
    request.session.cycle_key()  # a new identity gets a new session id (no fixation)
    viewer = Viewer(
        member_id=grant.portal.member_id,
        bitrix_user_id=grant.bitrix_user_id,
        name=grant.user_name,
        is_admin=grant.is_admin,
        token_digest=token_digest(token) if token else "",
        grant_id=grant.pk,
        # The portal's domain as stored from the platform's word: GET /v1/me of this very sign-in
        # (store_session_grant), or, for a token a live grant holds already, of the portal's last one.
        entry_domain=grant.portal.domain,
    )
    stored = asdict(viewer)
    stored.pop("_portal")
    request.session[SESSION_KEY] = stored
    request._tenants_viewer = False  # type: ignore[attr-defined]  # found afresh on the next find_viewer
    # The browser session never outlives the token it was opened with.
    request.session.set_expiry(grant.expires_at)


def _live_grant(data: dict[str, Any]) -> SessionGrant | None:
    grant = (
        SessionGrant.objects.select_related("portal")
        .filter(
            pk=data.get("grant_id") or 0,
            portal__member_id=data.get("member_id", ""),
            bitrix_user_id=data.get("bitrix_user_id") or 0,
            invalidated_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .exclude(portal__status=Portal.Status.UNINSTALLED)
        .first()
    )
    return grant


def find_viewer(request: HttpRequest) -> Viewer | None:
    """The viewer, only while their grant is live and the portal installed; role and name come from the grant,
    so a demotion, an invalidated token or an uninstall takes effect on the next request."""
    # Found once per request: several views and the middleware ask.
    cached = cast("Viewer | Literal[False] | None", getattr(request, "_tenants_viewer", False))
    if cached is not False:
        return cached
    data = request.session.get(SESSION_KEY)
    viewer = None
    if isinstance(data, dict):
        grant = _live_grant(data)
        if grant is None:
            forget_viewer(request)
        else:
            bind_log_context(portal=grant.portal.member_id)
            viewer = Viewer(
                member_id=grant.portal.member_id,
                bitrix_user_id=grant.bitrix_user_id,
                name=grant.user_name,
                is_admin=confirm_admin_role(grant),
                token_digest=str(data.get("token_digest", "")),
                grant_id=grant.pk,
                entry_domain=str(data.get("entry_domain", "")),  # "": a session of before it was kept
                _portal=grant.portal,
            )
    request._tenants_viewer = viewer  # type: ignore[attr-defined]
    return viewer


def forget_viewer(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request._tenants_viewer = None  # type: ignore[attr-defined]
