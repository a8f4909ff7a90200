"""tenants fixtures: the sandbox's own identity (GET /v1/me) with a portal, its people and their credentials
seeded through the sandbox's control API, so tenants verifies real sessions and personal keys."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from sandbox.runner import SandboxThread


def _data(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


@dataclass
class Platform:
    """One sandbox portal ("Acme") with an admin and a member; credentials are minted on demand."""

    control: httpx.Client
    app_key: str
    portal: dict  # the sandbox's portal: id, memberId, domain, name
    admin: dict  # users: id, name
    member: dict

    @property
    def portal_id(self) -> str:
        return self.portal["id"]

    @property
    def member_id(self) -> str:
        return self.portal["memberId"]

    def add_portal(self, domain: str) -> tuple[dict, dict]:
        """Another portal and its admin."""
        body = {"domain": domain, "name": domain}
        portal = _data(self.control.post("/_sandbox/portals", json=body))["portal"]
        body = {"name": "Other Admin", "isAdmin": True}
        admin = _data(self.control.post(f"/_sandbox/portals/{portal['id']}/users", json=body))["user"]
        return portal, admin

    def add_user(self, name: str, *, is_admin: bool = False) -> dict:
        body = {"name": name, "isAdmin": is_admin}
        return _data(self.control.post(f"/_sandbox/portals/{self.portal_id}/users", json=body))["user"]

    def session(self, user: dict, *, ttl: float | None = None) -> str:
        """A session token of `user` for our app, as the gateway would inject it."""
        body = {"appKey": self.app_key, "userId": user["id"]}
        if ttl is not None:
            body["ttlSeconds"] = ttl
        return _data(self.control.post("/_sandbox/sessions", json=body))["token"]

    def personal_key(self, user: dict) -> str:
        """A vibe_api_ key of `user`: acts as its owner, needs no session."""
        return _data(self.control.post("/_sandbox/keys", json={"userId": user["id"]}))["key"]

    def revoke(self, key: str) -> None:
        _data(self.control.post("/_sandbox/keys/revoke", json={"key": key}))


@pytest.fixture
def platform(sandbox, settings) -> Platform:
    """tenants pointed at the live sandbox's GET /v1/me through the project's real identity backend."""
    control = httpx.Client(base_url=sandbox.root_url, timeout=10)
    app = _data(control.post("/_sandbox/apps", json={"name": "Our app"}))
    body = {"domain": "acme.bitrix24.com", "name": "Acme"}
    portal = _data(control.post("/_sandbox/portals", json=body))["portal"]
    users = {}
    for name, is_admin in (("Alice Admin", True), ("Bob Member", False)):
        body = {"name": name, "isAdmin": is_admin}
        users[name] = _data(control.post(f"/_sandbox/portals/{portal['id']}/users", json=body))["user"]
    settings.VIBE_APP_KEY = app["key"]
    settings.VIBE_BASE_URL = sandbox.base_url
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    yield Platform(control, app["key"], portal, users["Alice Admin"], users["Bob Member"])
    control.close()


@pytest.fixture
def gateway(live_server, settings):
    """A sandbox of its own whose gateway fronts the live app, with the portal Acme (Alice Admin, Bob Member);
    the app configured against that sandbox."""
    platform = SandboxThread(gateway=True, app_url=live_server.url).start()
    control = httpx.Client(base_url=platform.root_url, timeout=10)
    app = control.post("/_sandbox/apps", json={"name": "Our app"}).json()["data"]
    portal = control.post("/_sandbox/portals", json={"domain": "acme.bitrix24.com", "name": "Acme"}).json()[
        "data"
    ]["portal"]
    users = {
        name: control.post(
            f"/_sandbox/portals/{portal['id']}/users",
            json={"name": name, "isAdmin": name.startswith("Alice")},
        ).json()["data"]["user"]
        for name in ("Alice Admin", "Bob Member")
    }
    settings.VIBE_APP_KEY = app["key"]
    settings.VIBE_BASE_URL = platform.base_url
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    yield {
        "url": platform.gateway_url,
        "root_url": platform.root_url,
        "portal": portal,
        "users": users,
        "control": control,
    }
    control.close()
    platform.stop()
