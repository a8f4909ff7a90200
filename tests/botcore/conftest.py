"""botcore fixtures: a portal installed against the live sandbox, with the app key and a real session."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest
from prometheus_client import REGISTRY

from botcore.vibe.budget import NoBudget, Priority
from tenants.models import Portal
from tenants.testing import store_sandbox_session


@dataclass
class SandboxPortal:
    portal: Portal
    control: httpx.Client
    sandbox_portal_id: str
    admin_id: int
    member_id: int
    app_key: str
    other_apps: dict[int, dict[str, str]] = field(default_factory=dict)  # bot id: its app's call headers

    def say(self, *, user_id: int, bot_id: int, text: str) -> dict:
        return self.control.post(
            "/_sandbox/act/messages", json={"userId": user_id, "botId": bot_id, "text": text}
        ).json()["data"]

    def bot_messages(self, bot_id: int) -> list[dict]:
        return self.control.get(f"/_sandbox/bots/{bot_id}/messages").json()["data"]["messages"]

    def calls(self, bot_id: int) -> list[dict]:
        return self.control.get("/_sandbox/calls", params={"botId": bot_id}).json()["data"]["calls"]

    def speak(self, *dialects: str) -> None:
        """The platform speaks these dialects (none: the default reading) from the next request on."""
        _data(self.control.post("/_sandbox/dialects", json={"dialects": list(dialects)}))

    def portal_bots(self) -> list[dict]:
        """Every key's bots on this portal the platform still has (none being deleted), oldest first."""
        listed = _data(self.control.get("/_sandbox/bots", params={"portalId": self.sandbox_portal_id}))
        return sorted((b for b in listed["bots"] if not b["deleting"]), key=lambda b: b["id"])

    def another_app_registers(self, code: str) -> int:
        """Another vendor's app, installed on this portal too, registers a bot under `code`: its bot's id.
        Under the default reading codes are per key and ours stays free; under `portal-bot-codes` it is
        taken from us."""
        app = _data(self.control.post("/_sandbox/apps", json={"name": "Another vendor's app"}))
        body = {"appKey": app["key"], "userId": self.admin_id}
        token = _data(self.control.post("/_sandbox/sessions", json=body))["token"]
        headers = {"X-Api-Key": app["key"], "Authorization": f"Bearer {token}"}
        registered = self.control.post("/v1/bots", headers=headers, json={"code": code, "name": "Theirs"})
        bot_id = _data(registered)["bot"]["id"]
        self.other_apps[bot_id] = headers
        return bot_id

    def another_app_deletes(self, bot_id: int) -> None:
        """That app unregisters its bot (another_app_registers'): the code it held is free at once."""
        _data(self.control.delete(f"/v1/bots/{bot_id}", headers=self.other_apps[bot_id]))

    def another_portal(self, domain: str) -> SandboxPortal:
        """Another portal installs the same app (its admin's session stored, as a gateway visit does); its
        admin is its only user."""
        portal = _data(self.control.post("/_sandbox/portals", json={"domain": domain}))["portal"]
        admin = _data(
            self.control.post(
                f"/_sandbox/portals/{portal['id']}/users", json={"name": "Admin", "isAdmin": True}
            )
        )["user"]
        session = _data(
            self.control.post("/_sandbox/sessions", json={"appKey": self.app_key, "userId": admin["id"]})
        )
        stored = store_sandbox_session(portal=portal, user=admin, session=session)
        return SandboxPortal(stored, self.control, portal["id"], admin["id"], admin["id"], self.app_key)

    def open_app(self) -> Portal:
        """The admin opens the app again: a new session of the platform's, stored as a gateway visit does;
        returns the portal as that left it."""
        listed = self.control.get("/_sandbox/portals").json()["data"]["portals"]
        portal = next(p for p in listed if p["id"] == self.sandbox_portal_id)
        body = {"appKey": self.app_key, "userId": self.admin_id}
        session = _data(self.control.post("/_sandbox/sessions", json=body))
        admin = next(u for u in portal["users"] if u["id"] == self.admin_id)
        return store_sandbox_session(portal=portal, user=admin, session=session)


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
    stored = store_sandbox_session(portal=portal, user=admin, session=session)
    yield SandboxPortal(stored, control, portal["id"], admin["id"], member["id"], app["key"])
    control.close()


@pytest.fixture
def record_priorities(monkeypatch):
    """`record_priorities(module, …)`: the priority of each call that the clients those modules make (each
    module's client_for_bot) ask the app key's budget for, in order; the budget lets every call go."""

    def record(*modules) -> list[Priority]:
        asked: list[Priority] = []

        class RecordingBudget(NoBudget):
            def acquire(self, *, priority: Priority = Priority.REPLY) -> bool:
                asked.append(priority)
                return True

        for module in modules:
            real = module.client_for_bot
            monkeypatch.setattr(
                module,
                "client_for_bot",
                lambda bot, real=real, **options: real(bot, **options, budget=RecordingBudget()),
            )
        return asked

    return record


@pytest.fixture
def doubts():
    """Counts of vibeapp_writes_in_doubt_total since the test began, by (write, outcome), as operators see
    them (ops counts what the context tells: botcore.skills.signals)."""

    def counts() -> dict[tuple[str, str], float]:
        return {
            (sample.labels["write"], sample.labels["outcome"]): sample.value
            for metric in REGISTRY.collect()
            if metric.name == "vibeapp_writes_in_doubt"
            for sample in metric.samples
            if sample.name.endswith("_total")
        }

    before = counts()

    def since() -> dict[tuple[str, str], float]:
        return {key: n - before.get(key, 0.0) for key, n in counts().items() if n != before.get(key, 0.0)}

    return since
