"""The client a portal's calls go out with: the app key and the portal's best session, or its personal key."""
from __future__ import annotations

from botcore.vibe import VibeClient
from tenants.models import Portal
from tenants.selectors import PortalCredential, get_portal_credential


def client_for_portal(portal: Portal) -> tuple[VibeClient, PortalCredential]:
    """Raise tenants' SessionTokenError when the portal has no usable credential."""
    credential = get_portal_credential(portal)
    if credential.kind == "personal":
        return VibeClient(api_key=credential.secret, portal=portal.member_id), credential
    return VibeClient.for_app(session_token=credential.secret, portal=portal.member_id), credential
