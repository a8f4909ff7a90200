"""Helpers the sandbox tests share: seeding tenants, clients on the API, and asserting its JSON envelope."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from sandbox import activity
from sandbox.state import IMBOT_SCOPES


@dataclass
class Tenant:
    """A portal user and the key (and for app keys, the session) a test calls the platform with."""

    portal_id: str
    user_id: int
    key: str
    token: str | None = None
    app_id: int | None = None
    extra_user_ids: list[int] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        headers = {"X-Api-Key": self.key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def seed_personal(sandbox, *, scopes=IMBOT_SCOPES, portal_id: str | None = None) -> Tenant:
    """A portal (or the given one) with an admin holding a personal vibe_api_ key."""

    def seed(services):
        platform = services.platform
        portal = platform.portals[portal_id] if portal_id else platform.create_portal()
        user = platform.create_user(portal, name="Anna Petrova", is_admin=True)
        colleague = platform.create_user(portal, name="Boris Ivanov")
        key = platform.issue_personal_key(user, scopes=scopes)
        return Tenant(portal.id, user.id, key.value, extra_user_ids=[colleague.id])

    return sandbox.run_in_loop(seed)


def seed_app(sandbox, *, scopes=IMBOT_SCOPES, ttl: float | None = None) -> Tenant:
    """A catalog app installed on a new portal: its vibe_app_ key and a user's session token."""

    def seed(services):
        platform = services.platform
        portal = platform.create_portal()
        user = platform.create_user(portal, name="Anna Petrova", is_admin=True)
        colleague = platform.create_user(portal, name="Boris Ivanov")
        app, key = platform.create_app(name="Standup bot", scopes=scopes)
        session = platform.create_session(app=app, user=user, ttl=ttl)
        return Tenant(portal.id, user.id, key.value, session.token, app.id, [colleague.id])

    return sandbox.run_in_loop(seed)


def seed_session(sandbox, tenant: Tenant) -> Tenant:
    """The same app installed on another portal: same key, another portal's session."""

    def seed(services):
        platform = services.platform
        portal = platform.create_portal()
        user = platform.create_user(portal, name="Carl Other")
        session = platform.create_session(app=platform.apps[tenant.app_id], user=user)
        return Tenant(portal.id, user.id, tenant.key, session.token, tenant.app_id)

    return sandbox.run_in_loop(seed)


def client_for(sandbox, tenant: Tenant) -> httpx.Client:
    return httpx.Client(base_url=sandbox.base_url, headers=tenant.headers, timeout=10)


def register_bot(client: httpx.Client, code: str = "helper_bot", **fields) -> int:
    response = client.post("/bots", json={"code": code, "name": "Helper", **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]["bot"]["id"]


def user_writes(sandbox, user_id: int, bot_id: int, text: str) -> int:
    """The user opens the bot's dialog (JOINCHAT the first time) and writes; the message id."""

    def act(services):
        platform = services.platform
        user, bot = platform.users[user_id], platform.bots[bot_id]
        chat = activity.open_private_chat(platform, user=user, bot=bot)
        return activity.send_user_message(platform, user=user, chat=chat, text=text).id

    return sandbox.run_in_loop(act)


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False
    return body["error"]["code"]


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def refused(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    return body["error"]
