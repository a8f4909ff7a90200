"""botcore fixtures: a portal installed against the live sandbox, with the app key and a real session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from tenants import services as tenant_services
from tenants.identity import VerifiedIdentity
from tenants.models import Portal


@dataclass
class SandboxPortal:
    portal: Portal
    control: httpx.Client
    sandbox_portal_id: str
    admin_id: int
    member_id: int
    app_key: str

    def say(self, *, user_id: int, bot_id: int, text: str) -> dict:
        return self.control.post(
            "/_sandbox/act/messages", json={"userId": user_id, "botId": bot_id, "text": text}
        ).json()["data"]

    def bot_messages(self, bot_id: int) -> list[dict]:
        return self.control.get(f"/_sandbox/bots/{bot_id}/messages").json()["data"]["messages"]

    def calls(self, bot_id: int) -> list[dict]:
        return self.control.get("/_sandbox/calls", params={"botId": bot_id}).json()["data"]["calls"]


def _data(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


@pytest.fixture
def sandbox_portal(sandbox, settings, transactional_db) -> SandboxPortal:
    """A sandbox portal whose admin's real session is stored in tenants, as an install would leave it."""
    control = httpx.Client(base_url=sandbox.root_url, timeout=10)
    app = _data(control.post("/_sandbox/apps", json={"name": "Test app", "scopes": ["imbot", "im", "user"]}))
    portal = _data(control.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}))[
        "portal"
    ]
    admin = _data(
        control.post(f"/_sandbox/portals/{portal['id']}/users", json={"name": "Alice Admin", "isAdmin": True})
    )["user"]
    member = _data(
        control.post(
            f"/_sandbox/portals/{portal['id']}/users", json={"name": "Boris Ivanov", "language": "ru"}
        )
    )["user"]
    session = _data(control.post("/_sandbox/sessions", json={"appKey": app["key"], "userId": admin["id"]}))
    settings.VIBE_APP_KEY = app["key"]
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.VIBE_BUDGET_BACKEND = "local"
    identity = VerifiedIdentity(
        vibe_portal_id=portal["id"],
        member_id=portal["memberId"],
        domain=portal["domain"],
        portal_name=portal["name"],
        bitrix_user_id=admin["id"],
        user_name=admin["name"],
        is_admin=True,
        expires_at=datetime.fromisoformat(session["expiresAt"].replace("Z", "+00:00")),
    )
    stored = tenant_services.store_session_grant(
        identity=identity, session_token=session["token"], source="gateway"
    )
    yield SandboxPortal(stored, control, portal["id"], admin["id"], member["id"], app["key"])
    control.close()
