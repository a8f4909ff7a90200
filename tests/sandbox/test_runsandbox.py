"""`manage.py runsandbox` as a real process: it starts, serves the demo world, says where to go, and stops
cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sandbox.runner import free_port

pytestmark = pytest.mark.slow

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"
DEMO_KEY = "vibe_app_" + "c0ffee" * 7


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "runsandbox exited early"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def run_sandbox(tmp_path):
    """Start runsandbox with the given arguments; whatever is still running at the end is stopped."""
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
        output = tmp_path / f"runsandbox-{len(started)}.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, str(MANAGE), "runsandbox", *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        started.append(process)
        return process, output

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def register_demo_bot(root: str, *, code: str) -> tuple[list[dict], dict[str, str], int]:
    """The demo portal's users, its admin's headers for the demo app, and a bot registered with them."""
    users = httpx.get(f"{root}/_sandbox/state").json()["data"]["portals"][0]["users"]
    token = httpx.post(
        f"{root}/_sandbox/sessions", json={"appKey": DEMO_KEY, "userId": users[0]["id"]}
    ).json()["data"]["token"]
    headers = {"X-Api-Key": DEMO_KEY, "Authorization": f"Bearer {token}"}
    bot = httpx.post(f"{root}/v1/bots", headers=headers, json={"code": code, "name": code.title()}).json()
    return users, headers, bot["data"]["bot"]["id"]


def stop(process: subprocess.Popen, sig: signal.Signals) -> int:
    process.send_signal(sig)
    return process.wait(timeout=20)


def test_runsandbox_demo_serves_the_demo_world_and_stops_cleanly_on_ctrl_c(run_sandbox):
    port, gateway_port = free_port(), free_port()
    process, output = run_sandbox(
        "--port", str(port), "--gateway-port", str(gateway_port), "--demo", "--demo-app-key", DEMO_KEY
    )
    root = f"http://127.0.0.1:{port}"
    wait_until_up(f"{root}/v1", process)
    with httpx.Client(base_url=root, timeout=10) as client:
        missing = client.get("/v1/nothing-here")  # no key: asked for first, as on any /v1 path
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "AUTH_REQUIRED"

        portals = client.get("/_sandbox/state").json()["data"]["portals"]
        assert [p["domain"] for p in portals] == ["demo.bitrix24.com"]
        users = {u["name"]: u for u in portals[0]["users"]}
        assert set(users) == {"Alice Admin", "Boris Ivanov", "Carol Member"}
        assert users["Alice Admin"]["isAdmin"] and users["Boris Ivanov"]["language"] == "ru"

        session = client.post(
            "/_sandbox/sessions", json={"appKey": DEMO_KEY, "userId": users["Alice Admin"]["id"]}
        )
        token = session.json()["data"]["token"]
        me = client.get("/v1/me", headers={"X-Api-Key": DEMO_KEY, "Authorization": f"Bearer {token}"}).json()[
            "data"
        ]
        assert me["currentUser"]["name"] == "Alice Admin" and me["app"]["name"] == "Vibe demo app"
        assert {"imbot", "im"} <= set(me["scopes"])

        assert client.get("/chat").status_code == 200
    login = httpx.get(f"http://127.0.0.1:{gateway_port}/_gateway/login", timeout=10)
    assert login.status_code == 200 and "Alice Admin" in login.text

    assert stop(process, signal.SIGINT) == 0
    printed = output.read_text()
    assert f"{root}/chat" in printed and f"http://127.0.0.1:{gateway_port}/_gateway/login" in printed
    assert "Alice Admin" in printed and "Sandbox stopped." in printed
    assert DEMO_KEY not in printed and "Traceback" not in printed


def test_the_demo_app_key_can_come_from_the_environment_not_the_command_line(run_sandbox):
    port = free_port()
    process, _ = run_sandbox("--port", str(port), "--demo", env={"SANDBOX_DEMO_APP_KEY": DEMO_KEY})
    root = f"http://127.0.0.1:{port}"
    wait_until_up(f"{root}/v1", process)
    assert DEMO_KEY not in " ".join(process.args)
    users = httpx.get(f"{root}/_sandbox/state").json()["data"]["portals"][0]["users"]
    token = httpx.post(
        f"{root}/_sandbox/sessions", json={"appKey": DEMO_KEY, "userId": users[0]["id"]}
    ).json()["data"]["token"]
    me = httpx.get(f"{root}/v1/me", headers={"X-Api-Key": DEMO_KEY, "Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert stop(process, signal.SIGTERM) == 0


def test_runsandbox_stops_cleanly_on_sigterm(run_sandbox):
    port = free_port()
    process, output = run_sandbox("--port", str(port))
    wait_until_up(f"http://127.0.0.1:{port}/v1", process)
    assert stop(process, signal.SIGTERM) == 0
    assert "Sandbox stopped." in output.read_text()


def test_runsandbox_speaks_the_dialects_it_is_given(run_sandbox):
    port = free_port()
    process, output = run_sandbox(
        "--port", str(port), "--dialect", "command-slash,no-retry-after", "--dialect", "portal-rate-limit"
    )
    wait_until_up(f"http://127.0.0.1:{port}/v1", process)
    spoken = httpx.get(f"http://127.0.0.1:{port}/_sandbox/dialects", timeout=10).json()["data"]["dialects"]
    assert spoken == ["command-slash", "no-retry-after", "portal-rate-limit"]
    assert stop(process, signal.SIGTERM) == 0
    assert "command-slash, no-retry-after, portal-rate-limit" in output.read_text()


def test_runsandbox_refuses_an_unknown_dialect(run_sandbox):
    process, output = run_sandbox("--port", str(free_port()), "--dialect", "command-slash,klingon")
    assert process.wait(timeout=60) != 0
    printed = output.read_text()
    assert "--dialect" in printed and "klingon" in printed and "Traceback" not in printed


def test_runsandbox_refuses_a_demo_key_that_is_not_an_app_key(run_sandbox):
    process, output = run_sandbox("--port", str(free_port()), "--demo", "--demo-app-key", "vibe_api_nope")
    assert process.wait(timeout=60) != 0
    printed = output.read_text()
    assert "--demo-app-key" in printed and "vibe_app_" in printed and "Traceback" not in printed


def test_a_state_file_keeps_the_platform_across_restarts(run_sandbox, tmp_path):
    """Portals, sessions, bots and unacknowledged events survive a restart; the demo is not seeded twice."""
    state = tmp_path / "sandbox-state.pickle"
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    args = ("--port", str(port), "--demo", "--demo-app-key", DEMO_KEY, "--state-file", str(state))
    process, _ = run_sandbox(*args)
    wait_until_up(f"{root}/v1", process)
    users, headers, bot_id = register_demo_bot(root, code="kept")
    httpx.post(
        f"{root}/_sandbox/act/messages",
        json={"userId": users[0]["id"], "botId": bot_id, "text": "remember me"},
    )
    assert stop(process, signal.SIGTERM) == 0
    assert state.exists() and state.stat().st_mode & 0o077 == 0  # the platform's secrets: owner only

    process, _ = run_sandbox(*args)
    wait_until_up(f"{root}/v1", process)
    assert len(httpx.get(f"{root}/_sandbox/state").json()["data"]["portals"]) == 1
    assert (
        httpx.get(f"{root}/v1/me", headers=headers).json()["data"]["currentUser"]["bitrixUserId"]
        == users[0]["id"]
    )
    events = httpx.get(f"{root}/v1/bots/{bot_id}/events", headers=headers).json()["data"]["events"]
    assert [e["type"] for e in events] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]
    assert stop(process, signal.SIGTERM) == 0


def test_a_sigterm_answers_a_held_long_poll_and_still_saves_the_state(run_sandbox, tmp_path):
    """The app's poller keeps a long-poll open on every bot: stopping must not wait for them to run out
    (runstack kills a sandbox still up 10 s after SIGTERM, and a killed sandbox saves nothing)."""
    state = tmp_path / "sandbox-state.pickle"
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    process, output = run_sandbox(
        "--port", str(port), "--demo", "--demo-app-key", DEMO_KEY, "--state-file", str(state)
    )
    wait_until_up(f"{root}/v1", process)
    _, headers, bot_id = register_demo_bot(root, code="held")
    held: list[BaseException | int] = []

    def long_poll() -> None:
        try:
            answer = httpx.get(
                f"{root}/v1/bots/{bot_id}/events", headers=headers, params={"timeout": 30}, timeout=60
            )
            held.append(answer.status_code)
        except httpx.TransportError as error:
            held.append(error)

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(1)  # the request is in, and held
    assert not held
    assert stop(process, signal.SIGTERM) == 0, output.read_text()
    poller.join(timeout=30)
    # Answered (empty, as a timeout would), not cut mid-wait: uvicorn logs a cancelled request as an error.
    assert held == [200], held
    log = output.read_text()
    assert "Traceback" not in log and "CancelledError" not in log, log
    assert state.exists(), log


def test_the_control_api_answers_loopback_and_the_hosts_it_is_told_to_allow(run_sandbox):
    """A DNS-rebinding page names its own host: refused (403 HOST_NOT_ALLOWED). A name containers reach the
    sandbox by is allowed with --allowed-host or SANDBOX_ALLOWED_HOSTS; loopback always is."""
    port = free_port()
    process, output = run_sandbox(
        "--port", str(port), "--allowed-host", "sandbox", env={"SANDBOX_ALLOWED_HOSTS": "box.internal"}
    )
    root = f"http://127.0.0.1:{port}"
    wait_until_up(f"{root}/v1", process)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"sandbox:{port}", "box.internal"):
        assert httpx.get(f"{root}/_sandbox/state", headers={"Host": host}).status_code == 200, host
    foreign = httpx.get(f"{root}/_sandbox/state", headers={"Host": f"rebind.attacker.example:{port}"})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "HOST_NOT_ALLOWED"
    assert stop(process, signal.SIGTERM) == 0
    assert "Control API also answers host:  box.internal, sandbox" in output.read_text()
