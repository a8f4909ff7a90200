"""A sandbox session stored as a real admin's gateway visit would store it (for tests and benchmarks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tenants.identity import VerifiedIdentity
from tenants.models import Portal
from tenants.services import store_session_grant


def store_sandbox_session(*, portal: dict[str, Any], user: dict[str, Any], session: dict[str, Any]) -> Portal:
    """Store `session` (the sandbox's POST /_sandbox/sessions answer) for `user`, an admin of `portal`
    (the sandbox's JSON for each), through tenants' own service; returns the installed portal."""
    identity = VerifiedIdentity(
        vibe_portal_id=portal["id"],
        member_id=portal["memberId"],
        domain=portal["domain"],
        portal_name=portal["name"],
        bitrix_user_id=user["id"],
        user_name=user["name"],
        is_admin=True,
        expires_at=datetime.fromisoformat(session["expiresAt"].replace("Z", "+00:00")),
    )
    return store_session_grant(identity=identity, session_token=session["token"], source="gateway")
