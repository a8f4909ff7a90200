"""The client's test kit: the sandbox's control API, a portal world, and clients in both key modes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from botcore.vibe import NoBudget, VibeClient
from tests import run_redis


class Control:
    """The sandbox's /_sandbox API over HTTP, as a person or a test drives it."""

    def __init__(self, root_url: str) -> None:
        self.http = httpx.Client(base_url=root_url + "/_sandbox", timeout=15)

    def _data(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, (
            f"{response.request.method} {response.request.url}: {response.text}"
        )
        return response.json()["data"]

    def post(self, path: str, body: dict | None = None) -> Any:
        return self._data(self.http.post(path, json=body or {}))

    def get(self, path: str, **params: Any) -> Any:
        return self._data(self.http.get(path, params={k: v for k, v in params.items() if v is not None}))

    def delete(self, path: str) -> Any:
        return self._data(self.http.delete(path))

    # --- shortcuts -----------------------------------------------------------------------------------
    def calls(self, **params: Any) -> list[dict]:
        return self.get("/calls", **params)["calls"]

    def bot_messages(self, bot_id: int) -> list[dict]:
        return self.get(f"/bots/{bot_id}/messages")["messages"]

    def chat(self, chat_id: int) -> dict:
        return self.get(f"/chats/{chat_id}")["chat"]

    def fault(self, **rule: Any) -> int:
        return self.post("/faults", rule)["id"]

    def dialects(self, *names: str) -> None:
        self.post("/dialects", {"dialects": list(names)})

    def user_says(
        self, user_id: int, text: str, *, bot_id: int | None = None, chat_id: int | None = None
    ) -> dict:
        body: dict[str, Any] = {"userId": user_id, "text": text}
        body.update({"botId": bot_id} if bot_id is not None else {"chatId": chat_id})
        return self.post("/act/messages", body)["message"]

    def close(self) -> None:
        self.http.close()


@dataclass
class World:
    """One portal with an admin and a colleague, a personal key, and a catalog app with a session."""

    control: Control
    base_url: str
    portal_id: str
    admin_id: int
    colleague_id: int
    personal_key: str
    app_key: str
    session_token: str

    def client(self, mode: str = "personal", **options: Any) -> VibeClient:
        options.setdefault("budget", NoBudget())
        options.setdefault("base_url", self.base_url)
        if mode == "app":
            return VibeClient(api_key=self.app_key, session_token=self.session_token, **options)
        return VibeClient(api_key=self.personal_key, **options)


@pytest.fixture
def control(sandbox) -> Iterator[Control]:
    ctl = Control(sandbox.root_url)
    yield ctl
    ctl.close()


@pytest.fixture
def world(sandbox, control) -> World:
    portal = control.post("/portals", {"domain": "acme.bitrix24.com", "name": "Acme"})["portal"]
    admin = control.post(f"/portals/{portal['id']}/users", {"name": "Анна Петрова", "isAdmin": True})["user"]
    colleague = control.post(f"/portals/{portal['id']}/users", {"name": "Boris Ivanov"})["user"]
    personal_key = control.post("/keys", {"userId": admin["id"]})["key"]
    app_key = control.post("/apps", {"name": "Standup"})["key"]
    session = control.post("/sessions", {"appKey": app_key, "userId": admin["id"]})
    return World(
        control=control,
        base_url=sandbox.base_url,
        portal_id=portal["id"],
        admin_id=admin["id"],
        colleague_id=colleague["id"],
        personal_key=personal_key,
        app_key=app_key,
        session_token=session["token"],
    )


@pytest.fixture(params=["personal", "app"])
def key_mode(request) -> str:
    """Both ways of calling: a personal vibe_api_ key alone, and a vibe_app_ key with a session token."""
    return request.param


@pytest.fixture
def client(world, key_mode) -> Iterator[VibeClient]:
    vibe = world.client(key_mode)
    yield vibe
    vibe.close()


@pytest.fixture
def bot(client):
    return client.register_bot(code="helper", name="Helper", work_position="Answers questions")


@pytest.fixture(autouse=True)
def _run_redis_cleaned_up() -> Iterator[None]:
    """The keys a test wrote in the run's Redis (tests/run_redis.py) are deleted once it ends."""
    yield
    run_redis.clean_up()
